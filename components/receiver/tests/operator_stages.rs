//! Pausing and resuming a stage over the API (SPEC §10), on a receiver of
//! the test's own with auth off: the list, the entries each action answers,
//! repeats, and unknown names. Scopes are in `auth.rs`, the JSON-only and
//! cross-site rules of every action in `hostile_input.rs`.

#![allow(clippy::unwrap_used)]

mod support;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::Value;
use support::spawn_app;

async fn json(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_paused_stage_is_listed_as_paused_by_the_caller_until_it_is_resumed() {
    let app = spawn_app().await;
    let listed = json(app.get("/api/operator/stages").await, 200).await;
    let stages = listed["stages"].as_array().unwrap();
    let names: Vec<&str> = stages.iter().map(|entry| entry["stage"].as_str().unwrap()).collect();
    assert_eq!(names, ["check-allowed", "send-to-interface", "interface-listener", "receive-status", "notify-requesters"]);
    assert!(stages.iter().all(|entry| entry["state"] == "running" && entry["pausedBy"].is_null() && entry["pausedAt"].is_null()));

    let paused = json(app.act(Method::POST, "/api/operator/stages/send-to-interface/pause").await, 200).await;
    assert_eq!(paused["stage"], "send-to-interface");
    assert_eq!(paused["state"], "paused");
    // With auth off the caller is anonymous, as a request's requesterId is.
    assert_eq!(paused["pausedBy"], "");
    let at = paused["pausedAt"].as_str().unwrap();
    let at: DateTime<Utc> = DateTime::parse_from_rfc3339(at).unwrap().into();
    assert!((Utc::now() - at).num_seconds().abs() < 60, "{at}");

    let again = json(app.act(Method::POST, "/api/operator/stages/send-to-interface/pause").await, 200).await;
    assert_eq!(again, paused, "a repeated pause answers the pause as it stands");
    let listed = json(app.get("/api/operator/stages").await, 200).await;
    assert_eq!(listed["stages"][1], paused);
    assert_eq!(listed["stages"][0]["state"], "running");

    let resumed = json(app.act(Method::POST, "/api/operator/stages/send-to-interface/resume").await, 200).await;
    assert_eq!(resumed, serde_json::json!({"stage": "send-to-interface", "state": "running", "pausedBy": null, "pausedAt": null}));
    let again = json(app.act(Method::POST, "/api/operator/stages/send-to-interface/resume").await, 200).await;
    assert_eq!(again, resumed);
    assert_eq!(json(app.get("/api/operator/stages").await, 200).await["stages"][1], resumed);
    app.stop().await;
}

#[tokio::test]
async fn a_stage_without_a_process_yet_can_be_paused_and_an_unknown_one_is_a_404() {
    let app = spawn_app().await;
    let paused = json(app.act(Method::POST, "/api/operator/stages/notify-requesters/pause").await, 200).await;
    assert_eq!(paused["state"], "paused");
    for path in ["/api/operator/stages/archive/pause", "/api/operator/stages/Check-Allowed/resume", "/api/operator/stages/%20/pause"] {
        let error = json(app.act(Method::POST, path).await, 404).await;
        assert_eq!(error["code"], "NotFound", "{path}");
        assert!(error["message"].as_str().unwrap().contains("check-allowed"), "{path}: {error}");
    }
    let listed = json(app.get("/api/operator/stages").await, 200).await;
    assert_eq!(listed["stages"].as_array().unwrap().len(), 5);
    app.stop().await;
}
