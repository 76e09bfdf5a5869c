//! The served OpenAPI document (`/api-docs/openapi.json`): valid, listing
//! every route and error code of SPEC §3, describing the bodies the API
//! really answers; and Swagger UI at `/swagger-ui/`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a failed step is the failure

mod support;

use std::collections::BTreeSet;

use serde_json::Value;
use support::{spawn_app, valid_body};

/// Set (by `scripts/test.sh`) to a Python that has openapi-spec-validator:
/// then validation is required, not skipped.
const VALIDATOR_ENV: &str = "LINEBACKER_OPENAPI_VALIDATOR_PYTHON";

async fn document(app: &support::TestApp) -> Value {
    let response = app.get("/api-docs/openapi.json").await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// The property names of a component schema, following `allOf`.
fn properties(document: &Value, schema: &str) -> BTreeSet<String> {
    let schema = &document["components"]["schemas"][schema];
    let mut names: BTreeSet<String> =
        schema["properties"].as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        if let Some(reference) = part["$ref"].as_str() {
            names.extend(properties(document, reference.trim_start_matches("#/components/schemas/")));
        }
        names.extend(part["properties"].as_object().into_iter().flat_map(|p| p.keys().cloned()));
    }
    names
}

#[tokio::test]
async fn the_document_lists_every_route_and_error_code_of_the_api() {
    let app = spawn_app().await;
    let document = document(&app).await;
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let post = &document["paths"]["/api/backup-requests"]["post"];
    let get = &document["paths"]["/api/backup-requests/{backupRequestId}"]["get"];
    for status in ["202", "200", "400", "401", "403", "409", "413", "415", "503"] {
        assert!(post["responses"].get(status).is_some(), "POST lacks {status}");
    }
    for status in ["200", "401", "403", "404", "503"] {
        assert!(get["responses"].get(status).is_some(), "GET lacks {status}");
    }
    for (status, code) in [
        ("400", "InvalidJson"),
        ("400", "InvalidApiVersion"),
        ("400", "BadData"),
        ("409", "IdempotencyConflict"),
        ("413", "PayloadTooLarge"),
        ("415", "UnsupportedMediaType"),
        ("503", "Unavailable"),
    ] {
        let description = post["responses"][status]["description"].as_str().unwrap();
        assert!(description.contains(code), "POST {status} does not name {code}: {description}");
    }
    assert!(get["responses"]["404"]["description"].as_str().unwrap().contains("NotFound"));
    assert!(post["responses"]["503"]["headers"].get("Retry-After").is_some());
    assert!(post["responses"]["202"]["headers"].get("Location").is_some());
    for route in [
        "/api/zpages/livez",
        "/api/zpages/readyz",
        "/api/zpages/healthz",
        "/api/zpages/healthz/all",
        "/api/operator/recovery",
        "/api/operator/dead-letters",
        "/api/operator/dead-letters/{queue}",
        "/api/operator/dead-letters/{queue}/replay",
        "/dashboard",
        "/api/dashboard/samples",
        "/metrics",
    ] {
        assert!(document["paths"].get(route).is_some(), "{route} is not documented");
    }
}

#[tokio::test]
async fn the_documented_bodies_are_the_ones_the_api_answers() {
    let app = spawn_app().await;
    let document = document(&app).await;
    let request_fields = properties(&document, "NewBackupRequest");
    let sent: BTreeSet<String> = valid_body().as_object().unwrap().keys().cloned().collect();
    assert_eq!(sent, request_fields);

    let created: Value = app.post(&valid_body()).await.json().await.unwrap();
    let answered: BTreeSet<String> = created.as_object().unwrap().keys().cloned().collect();
    assert_eq!(answered, properties(&document, "BackupRequest"), "POST's answer and the BackupRequest schema");

    let id = created["backupRequestId"].as_str().unwrap();
    let view: Value = app.get(&format!("/api/backup-requests/{id}")).await.json().await.unwrap();
    let documented = properties(&document, "BackupRequestView");
    for field in view.as_object().unwrap().keys() {
        assert!(documented.contains(field), "GET answers {field}, which is not documented");
    }
    let error: Value = app.get("/api/backup-requests/nope").await.json().await.unwrap();
    let error_fields: BTreeSet<String> = error.as_object().unwrap().keys().cloned().collect();
    assert_eq!(error_fields, properties(&document, "ErrorBody"));
}

#[tokio::test]
async fn the_list_history_and_cancel_routes_are_documented_with_their_codes_and_bodies() {
    let app = spawn_app().await;
    let document = document(&app).await;
    let paths = &document["paths"];
    let list = &paths["/api/backup-requests"]["get"];
    let history = &paths["/api/backup-requests/{backupRequestId}/history"]["get"];
    let cancel = &paths["/api/backup-requests/{backupRequestId}/cancel"]["post"];
    for (operation, statuses) in [
        (list, &["200", "400", "401", "403", "503"][..]),
        (history, &["200", "401", "403", "404", "503"][..]),
        (cancel, &["200", "401", "403", "404", "409", "503"][..]),
    ] {
        for status in statuses {
            assert!(operation["responses"].get(*status).is_some(), "{operation} lacks {status}");
        }
    }
    assert!(cancel["responses"]["409"]["description"].as_str().unwrap().contains("NotCancellable"));
    assert!(list["responses"]["400"]["description"].as_str().unwrap().contains("BadData"));
    let parameters: BTreeSet<&str> =
        list["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(
        parameters,
        BTreeSet::from(["status", "backupJobId", "requesterId", "receivedFrom", "receivedTo", "limit", "cursor"])
    );

    let created: Value = app.post(&valid_body()).await.json().await.unwrap();
    let id = created["backupRequestId"].as_str().unwrap();
    let page: Value = app.get("/api/backup-requests").await.json().await.unwrap();
    let keys = |value: &Value| value.as_object().unwrap().keys().cloned().collect::<BTreeSet<String>>();
    assert_eq!(keys(&page), properties(&document, "RequestList"));
    let changes: Value = app.get(&format!("/api/backup-requests/{id}/history")).await.json().await.unwrap();
    assert_eq!(keys(&changes), properties(&document, "History"));
    assert_eq!(keys(&changes["items"][0]), properties(&document, "HistoryEntry"));
    let cancelled: Value =
        app.act(reqwest::Method::POST, &format!("/api/backup-requests/{id}/cancel")).await.json().await.unwrap();
    assert_eq!(keys(&cancelled), properties(&document, "BackupRequest"));
    let statuses = &document["components"]["schemas"]["StatusTypeCode"]["enum"];
    assert!(statuses.as_array().unwrap().iter().any(|s| s == "Cancelled"), "{statuses}");
    app.stop().await;
}

#[tokio::test]
async fn the_document_is_a_valid_openapi_document() {
    let app = spawn_app().await;
    let document = document(&app).await;
    let python = match std::env::var(VALIDATOR_ENV) {
        Ok(python) => python,
        Err(_) => {
            let has_validator = std::process::Command::new("python3")
                .args(["-c", "import openapi_spec_validator"])
                .output()
                .is_ok_and(|output| output.status.success());
            if !has_validator {
                eprintln!("skipped: no openapi-spec-validator (scripts/test.sh sets {VALIDATOR_ENV})");
                return;
            }
            "python3".to_owned()
        }
    };
    let path = std::env::temp_dir().join(format!("linebacker-openapi-{}.json", std::process::id()));
    std::fs::write(&path, serde_json::to_vec(&document).unwrap()).unwrap();
    let output =
        std::process::Command::new(&python).args(["-m", "openapi_spec_validator"]).arg(&path).output().unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(
        output.status.success(),
        "openapi-spec-validator refused the document:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary() {
    let app = spawn_app().await;
    let response = app.get("/swagger-ui/").await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains("swagger"), "{page}");
    let config = app.get("/swagger-ui/swagger-initializer.js").await.text().await.unwrap();
    assert!(config.contains("/api-docs/openapi.json"), "{config}");
}

#[tokio::test]
async fn swagger_ui_without_the_trailing_slash_redirects_to_the_ui() {
    let app = spawn_app().await;
    let response = app.get("/swagger-ui").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.url().path(), "/swagger-ui/");
    assert!(response.text().await.unwrap().contains("swagger"));
}
