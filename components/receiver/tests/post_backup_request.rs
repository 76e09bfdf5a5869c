//! `POST /api/backup-requests` (SPEC §3) against the real PostgreSQL and
//! RabbitMQ: what is accepted is stored and published once; what is refused
//! is answered with its code and leaves no trace.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a failed step is the failure

mod support;

use std::time::Duration;

use linebacker_testkit::WatchQueue;
use serde_json::{Value, json};
use support::amqp::{body, header, request_ids};
use support::{WAIT, spawn_app, valid_body};

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
/// How long to keep watching for a message that should not come.
const SETTLE: Duration = Duration::from_secs(2);

#[tokio::test]
async fn a_valid_post_is_stored_as_received_answered_202_and_published_exactly_once() {
    let app = spawn_app().await;
    let watch = WatchQueue::bind(&app.exchange, &["backup-request.received"]).await.unwrap();

    let response = app
        .post_raw(valid_body().to_string(), "application/json", &[("traceparent", TRACEPARENT)])
        .await;

    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let stored: Value = response.json().await.unwrap();
    let id = stored["backupRequestId"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/backup-requests/{id}"));
    assert_eq!(stored["backupJobId"], "job-17");
    assert_eq!(stored["dataDate"], "2022-05-30");
    assert_eq!(stored["preparedDataPathName"], "/prepared/job-17/2022-05-30");
    assert_eq!(stored["statusTypeCode"], "Received");
    assert_eq!(stored["requesterId"], "");
    let received = stored["receivedTimestamp"].as_str().unwrap();
    assert!(chrono_like_rfc3339(received), "{received}");

    assert_eq!(app.status_of(&id).await.as_deref(), Some("Received"));

    let messages = watch.collect(1, WAIT, SETTLE).await.unwrap();
    assert_eq!(messages.len(), 1, "exactly one BackupRequestReceived");
    let envelope = body(&messages[0]);
    for field in ["messageId", "type", "occurredAt", "backupRequestId", "data"] {
        assert!(envelope.get(field).is_some(), "envelope lacks {field}: {envelope}");
    }
    assert_eq!(envelope["type"], "BackupRequestReceived");
    assert_eq!(envelope["backupRequestId"], id.as_str());
    assert_eq!(envelope["data"]["backupJobId"], "job-17");
    let trace = header(&messages[0], "traceparent").expect("traceparent header");
    assert!(trace.contains("4bf92f3577b34da6a3ce929d0e0e4736"), "the caller's trace continues: {trace}");
    assert_eq!(header(&messages[0], "x-backup-request-id").as_deref(), Some(id.as_str()));
    assert_eq!(*messages[0].delivery.properties.delivery_mode(), Some(2), "persistent");

    watch.delete().await.unwrap();
    app.stop().await;
}

/// RFC 3339 as serde writes chrono's `DateTime<Utc>`: `YYYY-MM-DDTHH:MM:SS...Z`.
fn chrono_like_rfc3339(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() >= 20 && bytes[4] == b'-' && bytes[10] == b'T' && value.ends_with('Z')
}

fn with(field: &str, value: Value) -> String {
    let mut body = valid_body();
    body[field] = value;
    body.to_string()
}

fn without(field: &str) -> String {
    let mut body = valid_body();
    body.as_object_mut().unwrap().remove(field);
    body.to_string()
}

struct Case {
    name: &'static str,
    body: String,
    content_type: &'static str,
    idempotency_key: Option<String>,
    status: u16,
    code: &'static str,
    message: &'static str,
}

fn case(name: &'static str, body: String, status: u16, code: &'static str, message: &'static str) -> Case {
    Case { name, body, content_type: "application/json", idempotency_key: None, status, code, message }
}

#[tokio::test]
async fn every_invalid_input_gets_its_status_and_code_names_the_callers_field_and_stores_nothing() {
    let app = spawn_app().await;
    let cases = vec![
        case("unparsable JSON", r#"{"apiVersion": "2022-05-22","#.into(), 400, "InvalidJson", "JSON"),
        case("a JSON array", "[1, 2]".into(), 400, "InvalidJson", "JSON object"),
        case("no apiVersion", without("apiVersion"), 400, "InvalidApiVersion", "apiVersion"),
        case("another apiVersion", with("apiVersion", json!("2021-01-01")), 400, "InvalidApiVersion", "apiVersion"),
        case("no backupJobId", without("backupJobId"), 400, "BadData", "backupJobId is required"),
        case("no dataDate", without("dataDate"), 400, "BadData", "dataDate is required"),
        case("no backupDataLocation", without("backupDataLocation"), 400, "BadData", "backupDataLocation is required"),
        case("a number for backupJobId", with("backupJobId", json!(17)), 400, "BadData", "backupJobId must be a string"),
        case("an empty backupJobId", with("backupJobId", json!("")), 400, "BadData", "backupJobId must not be empty"),
        case(
            "an empty backupDataLocation",
            with("backupDataLocation", json!("")),
            400,
            "BadData",
            "backupDataLocation must not be empty",
        ),
        case(
            "a 51-character backupJobId",
            with("backupJobId", json!("j".repeat(51))),
            400,
            "BadData",
            "backupJobId must be at most 50 characters",
        ),
        case(
            "a 251-character backupDataLocation",
            with("backupDataLocation", json!("/".repeat(251))),
            400,
            "BadData",
            "backupDataLocation must be at most 250 characters",
        ),
        case("February 30th", with("dataDate", json!("2022-02-30")), 400, "BadData", "dataDate must be a calendar date"),
        case(
            "a body over 64 KiB",
            with("padding", json!("x".repeat(64 * 1024))),
            413,
            "PayloadTooLarge",
            "65536 bytes",
        ),
        Case {
            content_type: "text/plain",
            ..case("text/plain", valid_body().to_string(), 415, "UnsupportedMediaType", "application/json")
        },
        Case {
            idempotency_key: Some("k".repeat(101)),
            ..case(
                "a 101-character Idempotency-Key",
                valid_body().to_string(),
                400,
                "BadData",
                "Idempotency-Key must be at most 100 characters",
            )
        },
        Case {
            idempotency_key: Some(String::new()),
            ..case("an empty Idempotency-Key", valid_body().to_string(), 400, "BadData", "Idempotency-Key must not be empty")
        },
    ];

    for case in cases {
        let headers: Vec<(&str, &str)> =
            case.idempotency_key.iter().map(|key| ("Idempotency-Key", key.as_str())).collect();
        let response = app.post_raw(case.body, case.content_type, &headers).await;
        assert_eq!(response.status(), case.status, "{}", case.name);
        let error: Value = response.json().await.unwrap_or_else(|e| panic!("{}: not JSON: {e}", case.name));
        assert_eq!(error["code"], case.code, "{}: {error}", case.name);
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains(case.message), "{}: {message:?} should mention {:?}", case.name, case.message);
    }

    assert_eq!(app.count("backup_requests").await, 0, "nothing stored");
    assert_eq!(app.count("outbox").await, 0, "nothing to publish");
    assert_eq!(app.count("idempotency_keys").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_repeat_with_the_same_idempotency_key_and_body_returns_the_original_with_200() {
    let app = spawn_app().await;
    let watch = WatchQueue::bind(&app.exchange, &["backup-request.received"]).await.unwrap();
    let key = [("Idempotency-Key", "order-4711")];

    let first = app.post_raw(valid_body().to_string(), "application/json", &key).await;
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.unwrap();
    let again = app.post_raw(valid_body().to_string(), "application/json", &key).await;
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();

    assert_eq!(again["backupRequestId"], first["backupRequestId"]);
    assert_eq!(app.count("backup_requests").await, 1);
    let messages = watch.collect(1, WAIT, SETTLE).await.unwrap();
    assert_eq!(request_ids(&messages), [first["backupRequestId"].as_str().unwrap()]);

    watch.delete().await.unwrap();
    app.stop().await;
}

#[tokio::test]
async fn the_same_idempotency_key_with_another_body_is_a_409_idempotency_conflict() {
    let app = spawn_app().await;
    let key = [("Idempotency-Key", "order-4712")];
    let first = app.post_raw(valid_body().to_string(), "application/json", &key).await;
    assert_eq!(first.status(), 202);

    let other = app.post_raw(with("backupJobId", json!("job-18")), "application/json", &key).await;

    assert_eq!(other.status(), 409);
    let error: Value = other.json().await.unwrap();
    assert_eq!(error["code"], "IdempotencyConflict");
    assert_eq!(app.count("backup_requests").await, 1);
    assert_eq!(app.count("idempotency_keys").await, 1);
    app.stop().await;
}
