//! Hostile input at the HTTP edge: each probe is answered with a clear
//! error in the JSON shape, and nothing is stored or run for it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a failed step is the failure

mod support;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use support::{Overrides, TestApp, spawn_app, spawn_app_with};

async fn error_code(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["code"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_body_that_names_a_key_twice_is_invalid_json_and_stores_nothing() {
    let app = spawn_app().await;
    let body = r#"{"apiVersion":"bogus","apiVersion":"2022-05-22","backupJobId":"job-17",
                   "dataDate":"2022-05-30","backupDataLocation":"/prepared/x"}"#;
    let response = app.post_raw(body, "application/json", &[]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "InvalidJson");
    assert_eq!(app.count("backup_requests").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn trace_and_other_unserved_methods_are_405_with_an_allow_header() {
    let app = spawn_app().await;
    let trace = Method::from_bytes(b"TRACE").unwrap();
    for (method, path, allowed) in [
        (trace.clone(), "/api/backup-requests", "POST"),
        (trace.clone(), "/api/zpages/livez", "GET"),
        (Method::PUT, "/api/operator/recovery", "POST"),
        (Method::PATCH, "/api/operator/dead-letters/check-allowed", "GET"),
    ] {
        let response = app.client.request(method.clone(), app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        let allow = response.headers().get("allow").map(|v| v.to_str().unwrap().to_owned());
        assert!(allow.as_deref().is_some_and(|allow| allow.contains(allowed)), "{method} {path}: Allow {allow:?}");
        assert_eq!(error_code(response).await, "MethodNotAllowed", "{method} {path}");
    }
    app.stop().await;
}

async fn document(app: &TestApp) -> Value {
    app.get("/api-docs/openapi.json").await.json().await.unwrap()
}

fn parameter<'a>(document: &'a Value, path: &str, method: &str, name: &str) -> &'a Value {
    document["paths"][path][method]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{method} {path} documents no {name}"))
}

#[tokio::test]
async fn the_openapi_document_states_the_bounds_the_code_enforces() {
    let app = spawn_app().await;
    let document = document(&app).await;

    let key = &parameter(&document, "/api/backup-requests", "post", "Idempotency-Key")["schema"];
    assert_eq!(key["minLength"], 1, "{key}");
    assert_eq!(key["maxLength"], 100, "{key}");
    for (value, accepted) in [("", false), ("k", true), (&"k".repeat(100)[..], true), (&"k".repeat(101)[..], false)] {
        let status = app.post_raw(support::valid_body().to_string(), "application/json", &[("Idempotency-Key", value)]).await.status();
        assert_eq!(status.is_success(), accepted, "Idempotency-Key of {} chars: {status}", value.len());
    }

    let limit = &parameter(&document, "/api/operator/dead-letters/{queue}", "get", "limit")["schema"];
    assert_eq!((limit["minimum"].as_f64(), limit["maximum"].as_f64()), (Some(1.0), Some(10_000.0)), "{limit}");
    for (value, bad) in [("0", true), ("1", false), ("10000", false), ("10001", true)] {
        let status = app.get(&format!("/api/operator/dead-letters/check-allowed?limit={value}")).await.status();
        assert_eq!(status == StatusCode::BAD_REQUEST, bad, "limit={value}: {status}");
    }

    let older = &parameter(&document, "/api/operator/recovery", "post", "olderThanSecs")["schema"];
    assert_eq!((older["minimum"].as_f64(), older["maximum"].as_f64()), (Some(0.0), Some(4_294_967_295.0)), "{older}");
    for (value, bad) in [("0", false), ("4294967295", false), ("4294967296", true), ("-1", true)] {
        let status = app.client.post(app.url(&format!("/api/operator/recovery?olderThanSecs={value}"))).send().await.unwrap().status();
        assert_eq!(status == StatusCode::BAD_REQUEST, bad, "olderThanSecs={value}: {status}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_cross_site_form_post_cannot_start_a_recovery() {
    // No startup recovery: holding the recovery lock while the operator's
    // requests arrive, it would answer them 409, which is not what this
    // test is about.
    let app = spawn_app_with(Overrides {
        env: vec![("LINEBACKER__RECOVERY__ON_START", "false".to_owned())],
        ..Overrides::default()
    })
    .await;
    for (content_type, body) in [
        ("application/x-www-form-urlencoded", "olderThanSecs=0"),
        ("text/plain", "x"),
        ("multipart/form-data; boundary=b", "--b--"),
    ] {
        let response = app
            .client
            .post(app.url("/api/operator/recovery"))
            .header("Origin", "http://evil.example")
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type}");
        assert!(response.headers().get("access-control-allow-origin").is_none(), "no permissive CORS");
        assert_eq!(error_code(response).await, "UnsupportedMediaType");
    }
    let purge = app
        .client
        .delete(app.url("/api/operator/dead-letters/check-allowed"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("a=b")
        .send()
        .await
        .unwrap();
    assert_eq!(purge.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Without a body, or with JSON, the operator still gets in.
    let plain = app.client.post(app.url("/api/operator/recovery")).send().await.unwrap();
    assert_eq!(plain.status(), StatusCode::ACCEPTED);
    let json = app.client.post(app.url("/api/operator/recovery")).json(&serde_json::json!({})).send().await.unwrap();
    assert_eq!(json.status(), StatusCode::ACCEPTED);
    app.stop().await;
}
