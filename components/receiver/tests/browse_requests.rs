//! The list, history and cancel routes of SPEC §3 over HTTP, against a real
//! receiver and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a failed step is the failure

mod support;

use std::collections::HashSet;

use serde_json::{Value, json};
use support::{TestApp, spawn_app, valid_body};

async fn post_for_job(app: &TestApp, job: &str) -> String {
    let mut body = valid_body();
    body["backupJobId"] = json!(job);
    let response = app.post(&body).await;
    assert_eq!(response.status(), 202);
    let stored: Value = response.json().await.unwrap();
    stored["backupRequestId"].as_str().unwrap().to_owned()
}

async fn json_of(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    response.json().await.unwrap()
}

async fn cancel(app: &TestApp, id: &str) -> reqwest::Response {
    app.act(reqwest::Method::POST, &format!("/api/backup-requests/{id}/cancel")).await
}

#[tokio::test]
async fn the_list_pages_newest_first_through_the_requests_of_one_job() {
    let app = spawn_app().await;
    let mut posted = Vec::new();
    for i in 0..7 {
        posted.push(post_for_job(&app, "job-listed").await);
        if i % 2 == 0 {
            post_for_job(&app, "job-other").await;
        }
    }
    let mut seen = Vec::new();
    let mut path = "/api/backup-requests?backupJobId=job-listed&limit=3".to_owned();
    loop {
        let page = json_of(app.get(&path).await, 200).await;
        for item in page["items"].as_array().unwrap() {
            assert_eq!(item["backupJobId"], "job-listed");
            seen.push(item["backupRequestId"].as_str().unwrap().to_owned());
        }
        match page["nextCursor"].as_str() {
            Some(cursor) => path = format!("/api/backup-requests?backupJobId=job-listed&limit=3&cursor={cursor}"),
            None => break,
        }
    }
    posted.reverse();
    assert_eq!(seen, posted, "newest first, each once");

    let received = json_of(app.get("/api/backup-requests?status=Received&limit=500").await, 200).await;
    assert_eq!(received["items"].as_array().unwrap().len(), 11);
    assert_eq!(received["nextCursor"], Value::Null);
    app.stop().await;
}

#[tokio::test]
async fn an_invalid_filter_or_cursor_is_400_bad_data_naming_it() {
    let app = spawn_app().await;
    for (query, named) in [
        ("status=Lost", "status"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("receivedFrom=monday", "receivedFrom"),
        ("receivedTo=2022-13-01T00:00:00Z", "receivedTo"),
        ("cursor=not-a-cursor", "cursor"),
    ] {
        let body = json_of(app.get(&format!("/api/backup-requests?{query}")).await, 400).await;
        assert_eq!(body["code"], "BadData", "{query}");
        assert!(body["message"].as_str().unwrap().contains(named), "{query}: {body}");
    }
    app.stop().await;
}

#[tokio::test]
async fn cancel_answers_the_cancelled_request_then_the_same_again_and_409_once_sent() {
    let app = spawn_app().await;
    let id = post_for_job(&app, "job-1").await;
    let cancelled = json_of(cancel(&app, &id).await, 200).await;
    assert_eq!(cancelled["statusTypeCode"], "Cancelled");
    assert_eq!(cancelled["backupRequestId"], id.as_str());
    let again = json_of(cancel(&app, &id).await, 200).await;
    assert_eq!(again, cancelled);

    let history = json_of(app.get(&format!("/api/backup-requests/{id}/history")).await, 200).await;
    let items = history["items"].as_array().unwrap();
    let statuses: Vec<&str> = items.iter().map(|item| item["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["Received", "Cancelled"]);
    assert!(items.iter().all(|item| item["by"] == "http-receiver-0" && item["at"].is_string()), "{history}");

    let sent = post_for_job(&app, "job-1").await;
    sqlx::query("UPDATE backup_requests SET status_type_code = 'Sent' WHERE backup_request_id = $1")
        .bind(&sent)
        .execute(&app.pool)
        .await
        .unwrap();
    let refused = json_of(cancel(&app, &sent).await, 409).await;
    assert_eq!(refused["code"], "NotCancellable");
    assert_eq!(app.status_of(&sent).await.as_deref(), Some("Sent"));

    for unknown in ["does-not-exist", "%20"] {
        let body = json_of(cancel(&app, unknown).await, 404).await;
        assert_eq!(body["code"], "NotFound");
        let body = json_of(app.get(&format!("/api/backup-requests/{unknown}/history")).await, 404).await;
        assert_eq!(body["code"], "NotFound");
    }
    let listed = json_of(app.get("/api/backup-requests?status=Cancelled").await, 200).await;
    let ids: HashSet<&str> = listed["items"].as_array().unwrap().iter().map(|i| i["backupRequestId"].as_str().unwrap()).collect();
    assert_eq!(ids, HashSet::from([id.as_str()]));
    app.stop().await;
}
