//! The receiver while a dependency is away (SPEC §6): the broker being down
//! does not stop it taking requests; the database being down makes it answer
//! 503 with `Retry-After`, and both recover by themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a failed step is the failure

mod support;

use std::time::Duration;

use linebacker_testkit::{SwitchableProxy, WatchQueue, eventually};
use serde_json::Value;
use support::amqp::request_ids;
use support::{Overrides, WAIT, spawn_app, spawn_app_with, valid_body};

#[tokio::test]
async fn post_is_accepted_while_the_broker_is_unreachable_and_the_event_is_delivered_once_it_is_back() {
    let broker = SwitchableProxy::start("127.0.0.1:5672".parse().unwrap()).await.unwrap();
    broker.cut();
    let app = spawn_app_with(Overrides {
        env: vec![("LINEBACKER__RABBITMQ__URL", format!("amqp://guest:guest@127.0.0.1:{}/%2f", broker.port()))],
        ..Overrides::default()
    })
    .await;
    let watch = WatchQueue::bind(&app.exchange, &["backup-request.received"]).await.unwrap();

    let response = app.post(&valid_body()).await;
    assert_eq!(response.status(), 202);
    let id = response.json::<Value>().await.unwrap()["backupRequestId"].as_str().unwrap().to_owned();
    // Give the relay time to try (and fail): the event must wait in the outbox.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(watch.drain().await.unwrap().is_empty());
    assert_eq!(app.count("outbox").await, 1);

    broker.restore();

    let messages = watch.collect(1, WAIT, Duration::from_secs(3)).await.unwrap();
    assert_eq!(request_ids(&messages), [id.as_str()], "delivered exactly once");
    eventually(WAIT, "the outbox to empty", || async { (app.count("outbox").await == 0).then_some(()) })
        .await
        .unwrap();
    watch.delete().await.unwrap();
    app.stop().await;
}

/// The test database, reached through `proxy`.
fn database_url_through(proxy: &SwitchableProxy) -> String {
    format!("postgres://postgres@127.0.0.1:{}/{{name}}", proxy.port())
}

#[tokio::test]
async fn post_answers_503_with_retry_after_while_the_database_is_down_and_recovers_by_itself() {
    let postgres = SwitchableProxy::start("127.0.0.1:5432".parse().unwrap()).await.unwrap();
    let app = spawn_app_with(Overrides {
        database_url: Some(database_url_through(&postgres)),
        ..Overrides::default()
    })
    .await;

    postgres.cut();

    let response = app.post(&valid_body()).await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    assert_eq!(response.json::<Value>().await.unwrap()["code"], "Unavailable");
    let readyz = app.get("/api/zpages/readyz").await;
    assert_eq!(readyz.status(), 503);
    assert_eq!(readyz.json::<Value>().await.unwrap()["dependencies"]["database"], "down");
    assert_eq!(app.get("/api/zpages/livez").await.status(), 200, "alive, just not ready");

    postgres.restore();

    app.wait_until_ready().await;
    assert_eq!(app.post(&valid_body()).await.status(), 202);
    assert_eq!(app.count("backup_requests").await, 1, "the refused request was not stored");
    app.stop().await;
}

#[tokio::test]
async fn a_receiver_started_while_the_database_is_down_migrates_once_it_is_back() {
    let postgres = SwitchableProxy::start("127.0.0.1:5432".parse().unwrap()).await.unwrap();
    postgres.cut();
    let app = spawn_app_with(Overrides {
        database_url: Some(database_url_through(&postgres)),
        skip_ready_wait: true,
        ..Overrides::default()
    })
    .await;

    let response = app.post(&valid_body()).await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));

    postgres.restore();

    app.wait_until_ready().await;
    assert_eq!(app.post(&valid_body()).await.status(), 202);
    app.stop().await;
}

#[tokio::test]
async fn healthz_describes_the_process_and_counts_its_http_requests() {
    let app = spawn_app().await;
    app.wait_until_ready().await;
    assert_eq!(app.get("/api/zpages/readyz").await.status(), 200);
    let health: Value = app.get("/api/zpages/healthz").await.json().await.unwrap();
    assert_eq!(health["process"], "http-receiver");
    assert_eq!(health["name"], "http-receiver-0");
    assert_eq!(health["pid"], std::process::id());
    assert!(health["version"].as_str().is_some_and(|v| !v.is_empty()), "{health}");
    assert!(health["memory"]["residentBytes"].as_u64().unwrap() > 1024 * 1024, "{health}");
    assert!(health["cpu"]["seconds"].as_f64().is_some(), "{health}");
    assert_eq!(health["ready"], true);
    assert_eq!(health["dependencies"]["database"], "up");
    let readyz_count = health["http"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["route"] == "/api/zpages/readyz" && c["status"] == 200)
        .map(|c| c["count"].as_u64().unwrap());
    assert!(readyz_count >= Some(1), "{}", health["http"]);
    app.stop().await;
}

#[tokio::test]
async fn healthz_all_shows_this_receiver_its_queues_and_the_databases_counts() {
    let app = spawn_app().await;
    app.wait_until_ready().await;
    assert_eq!(app.post(&valid_body()).await.status(), 202);
    // The receiver publishes its own heartbeat too; it is listed once.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let all: Value = app.get("/api/zpages/healthz/all").await.json().await.unwrap();
    let processes = all["processes"].as_array().unwrap();
    assert_eq!(processes.len(), 1, "{all:#}");
    assert_eq!(processes[0]["name"], "http-receiver-0");
    assert_eq!(processes[0]["stale"], false);
    assert_eq!(all["summary"], serde_json::json!({"processes": 1, "stale": 0}));
    let queues = all["queues"].as_array().unwrap_or_else(|| panic!("no queues: {all:#}"));
    let names: Vec<&str> = queues.iter().map(|q| q["queue"].as_str().unwrap()).collect();
    assert_eq!(names, ["check-allowed", "send-to-interface", "receive-status"]);
    assert_eq!(queues[0]["brokerName"], format!("{}check-allowed", app.queue_prefix));
    assert_eq!(queues[0]["consumers"], 0);
    assert_eq!(all["database"]["requests"]["byStatus"]["Received"], 1, "{all:#}");
    assert!(all["database"]["requests"]["oldestWaitingAgeSeconds"]["Received"].as_i64().is_some(), "{all:#}");
    assert!(all["database"]["outbox"]["backlog"].as_i64().is_some(), "{all:#}");
    app.stop().await;
}

#[tokio::test]
async fn livez_and_readyz_are_200_with_the_dependencies_up() {
    let app = spawn_app().await;
    let livez = app.get("/api/zpages/livez").await;
    assert_eq!(livez.status(), 200);
    let readyz = app.get("/api/zpages/readyz").await;
    assert_eq!(readyz.status(), 200);
    let body: Value = readyz.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["dependencies"]["database"], "up");
    app.stop().await;
}
