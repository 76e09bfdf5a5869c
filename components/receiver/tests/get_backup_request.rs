//! `GET /api/backup-requests/{backupRequestId}` and the JSON answers of
//! routes that do not exist.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a failed step is the failure

mod support;

use serde_json::Value;
use support::{spawn_app, valid_body};

/// Every field of SPEC §2.
const FIELDS: &[&str] = &[
    "backupRequestId",
    "backupJobId",
    "dataDate",
    "preparedDataPathName",
    "statusTypeCode",
    "transportTypeCode",
    "requesterId",
    "backupProviderCode",
    "storagePathName",
    "receivedTimestamp",
    "checkedTimestamp",
    "sentToInterfaceTimestamp",
    "replyTimestamp",
    "replyMessageText",
    "notAllowedReason",
];

#[tokio::test]
async fn get_returns_the_stored_request_with_every_field() {
    let app = spawn_app().await;
    let created: Value = app.post(&valid_body()).await.json().await.unwrap();
    let id = created["backupRequestId"].as_str().unwrap();

    let response = app.get(&format!("/api/backup-requests/{id}")).await;

    assert_eq!(response.status(), 200);
    let view: Value = response.json().await.unwrap();
    for field in FIELDS {
        assert!(view.get(field).is_some(), "missing {field}: {view}");
    }
    assert_eq!(view["backupRequestId"], id);
    assert_eq!(view["statusTypeCode"], "Received");
    assert_eq!(view["transportTypeCode"], "HTTP");
    assert_eq!(view["preparedDataPathName"], "/prepared/job-17/2022-05-30");
    assert_eq!(view["receivedTimestamp"], created["receivedTimestamp"]);
    assert!(view.get("backup").is_none(), "no Backup before the first success");
    app.stop().await;
}

#[tokio::test]
async fn get_of_an_unknown_id_is_404_not_found() {
    let app = spawn_app().await;
    for id in ["0190d7a4-0000-7000-8000-000000000000", &"x".repeat(200)] {
        let response = app.get(&format!("/api/backup-requests/{id}")).await;
        assert_eq!(response.status(), 404);
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["code"], "NotFound");
    }
    app.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_are_answered_in_json() {
    let app = spawn_app().await;
    let response = app.get("/api/nothing-here").await;
    assert_eq!(response.status(), 404);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], "NotFound");

    let response = app.client.delete(app.url("/api/backup-requests")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], "MethodNotAllowed");
    app.stop().await;
}
