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
        let status = app.act(Method::POST, &format!("/api/operator/recovery?olderThanSecs={value}")).await.status();
        assert_eq!(status == StatusCode::BAD_REQUEST, bad, "olderThanSecs={value}: {status}");
    }
    app.stop().await;
}

/// Every state-changing route, as `(method, path)`; `{id}` is a request's id.
const STATE_CHANGING: &[(&str, &str)] = &[
    ("POST", "/api/backup-requests/{id}/cancel"),
    ("POST", "/api/operator/recovery"),
    ("POST", "/api/operator/dead-letters/check-allowed/replay"),
    ("DELETE", "/api/operator/dead-letters/check-allowed"),
    ("POST", "/api/operator/stages/check-allowed/pause"),
    ("POST", "/api/operator/stages/check-allowed/resume"),
];

#[tokio::test]
async fn no_state_changing_request_is_taken_unless_it_is_json_from_no_page_or_the_receivers_own() {
    // No startup recovery: holding the recovery lock while the operator's
    // requests arrive, it would answer them 409, which is not what this
    // test is about.
    let app = spawn_app_with(Overrides {
        env: vec![("LINEBACKER__RECOVERY__ON_START", "false".to_owned())],
        ..Overrides::default()
    })
    .await;
    let created: Value = app.post(&support::valid_body()).await.json().await.unwrap();
    let id = created["backupRequestId"].as_str().unwrap();
    let own_origin = app.address.clone();
    for (method, path) in STATE_CHANGING {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let url = app.url(&path.replace("{id}", id));
        let send = |content_type: Option<&str>, body: &str, header: Option<(&str, &str)>| {
            let mut request = app.client.request(method.clone(), &url).body(body.to_owned());
            if let Some(content_type) = content_type {
                request = request.header("Content-Type", content_type);
            }
            if let Some((name, value)) = header {
                request = request.header(name, value);
            }
            request.send()
        };
        // What a page may send cross-site without a preflight, or nothing.
        for (content_type, body) in [
            (None, ""),
            (Some("application/x-www-form-urlencoded"), "olderThanSecs=0"),
            (Some("text/plain"), "{}"),
            (Some("multipart/form-data; boundary=b"), "--b--"),
        ] {
            let response = send(content_type, body, None).await.unwrap();
            assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{method} {path} as {content_type:?}");
            assert!(response.headers().get("access-control-allow-origin").is_none(), "no permissive CORS");
            assert_eq!(error_code(response).await, "UnsupportedMediaType");
        }
        // JSON from another site's page (were CORS ever opened).
        for header in [
            ("Origin", "http://evil.example"),
            ("Origin", "null"),
            ("Sec-Fetch-Site", "cross-site"),
            ("Sec-Fetch-Site", "same-site"),
        ] {
            let response = send(Some("application/json"), "{}", Some(header)).await.unwrap();
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method} {path} with {header:?}");
            assert_eq!(error_code(response).await, "Forbidden");
        }
        let long = format!(r#"{{"pad":"{}"}}"#, "x".repeat(4096));
        for body in [r#"{"messageId":"x"}"#, "[]", long.as_str()] {
            let response = send(Some("application/json"), body, None).await.unwrap();
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{method} {path} with a body other than {{}}");
        }
    }
    // The receiver's own page, and a caller that is no page, get in.
    for (method, path) in STATE_CHANGING {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let url = app.url(&path.replace("{id}", id));
        for (name, value) in [("Origin", own_origin.as_str()), ("Sec-Fetch-Site", "same-origin"), ("Sec-Fetch-Site", "none")] {
            let response = app.client.request(method.clone(), &url).header(name, value).json(&serde_json::json!({})).send().await.unwrap();
            assert!(response.status().is_success(), "{method} {path} with {name}: {value}: {}", response.status());
        }
        let bodiless = app.client.request(method.clone(), &url).header("Content-Type", "application/json").send().await.unwrap();
        assert!(bodiless.status().is_success(), "{method} {path} without a body: {}", bodiless.status());
    }
    app.stop().await;
}

#[tokio::test]
async fn every_answer_tells_browsers_not_to_guess_its_content_type() {
    let app = spawn_app().await;
    for response in [
        app.get("/api/zpages/livez").await,
        app.get("/dashboard").await,
        app.get("/no/such/route").await,
        app.client.put(app.url("/api/zpages/livez")).send().await.unwrap(),
        app.post_raw("{", "application/json", &[]).await,
    ] {
        let status = response.status();
        assert_eq!(response.headers().get("x-content-type-options").map(|v| v.to_str().unwrap()), Some("nosniff"), "{status}");
    }
    app.stop().await;
}

#[tokio::test]
async fn invented_methods_are_counted_under_one_other_label_not_one_series_each() {
    let app = spawn_app().await;
    for invented in ["FOO", "BAR", "BREW", "X-LINEBACKER-PROBE"] {
        let method = Method::from_bytes(invented.as_bytes()).unwrap();
        let response = app.client.request(method, app.url("/api/zpages/livez")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{invented}");
    }
    let metrics = app.get("/metrics").await.text().await.unwrap();
    for invented in ["FOO", "BAR", "BREW", "X-LINEBACKER-PROBE"] {
        assert!(!metrics.contains(&format!("method=\"{invented}\"")), "{invented} has a series of its own");
    }
    assert!(
        metrics.contains(r#"linebacker_http_requests_total{method="other",route="/api/zpages/livez",status="405"} 4"#),
        "{metrics}"
    );
    let health: Value = app.get("/api/zpages/healthz").await.json().await.unwrap();
    assert!(!health.to_string().contains("BREW"), "healthz carries an invented method: {health}");
    app.stop().await;
}
