//! Recovery (SPEC §6) on the receiver: at start, requests left `Received` or
//! `Allowed` are re-emitted by exactly one of the receivers sharing the
//! database; on demand, `POST /api/operator/recovery` does a pass and says
//! what it did, or that another pass holds the lock.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a failed step is the failure

mod support;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use linebacker_domain::BackupRequestId;
use linebacker_domain::ports::RecoveryLock;
use linebacker_receiver::Application;
use linebacker_postgres::{Database, PgConfig};
use linebacker_runtime::Settings;
use linebacker_runtime::settings::config_dir;
use linebacker_testkit::{WatchQueue, fresh_database, unique_name};
use serde_json::Value;
use sqlx::PgPool;
use support::{Overrides, TestApp, spawn_app_with, test_env};
use tokio_util::sync::CancellationToken;

const REEMITTED_KEYS: &[&str] = &["backup-request.received", "backup-request.allowed"];

/// Stores a request in `status`, last changed `age_secs` ago, with no event
/// in the outbox: as if its message had been lost. Returns its id.
async fn waiting(pool: &PgPool, status: &str, age_secs: f64) -> String {
    let id = BackupRequestId::generate().to_string();
    sqlx::query(
        "INSERT INTO backup_requests (backup_request_id, backup_job_id, data_date, prepared_data_path_name, \
         status_type_code, transport_type_code, received_timestamp, updated_at) \
         VALUES ($1, 'job-1', '2022-05-30', '/prepared/x', $2, 'HTTP', now(), now() - make_interval(secs => $3))",
    )
    .bind(&id)
    .bind(status)
    .bind(age_secs)
    .execute(pool)
    .await
    .unwrap();
    id
}

/// Request id → event type of each re-emitted message the watch queue got.
fn reemitted(messages: &[lapin::message::BasicGetMessage]) -> Vec<(String, String)> {
    messages
        .iter()
        .map(|message| {
            let body: Value = serde_json::from_slice(&message.delivery.data).unwrap();
            (body["backupRequestId"].as_str().unwrap().to_owned(), body["type"].as_str().unwrap().to_owned())
        })
        .collect()
}

async fn statuses(pool: &PgPool) -> HashMap<String, String> {
    sqlx::query_as("SELECT backup_request_id, status_type_code FROM backup_requests")
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

async fn recovery_app() -> TestApp {
    spawn_app_with(Overrides {
        env: vec![("LINEBACKER__RECOVERY__ON_START", "false".into())],
        ..Overrides::default()
    })
    .await
}

async fn post_recovery(app: &TestApp, query: &str) -> reqwest::Response {
    app.act(reqwest::Method::POST, &format!("/api/operator/recovery{query}")).await
}

#[tokio::test]
async fn two_receivers_started_at_once_re_emit_each_waiting_request_exactly_once() {
    linebacker_runtime::telemetry::init_for_tests();
    let database = fresh_database().await.unwrap();
    let pool = PgPool::connect(&database.url).await.unwrap();
    linebacker_postgres::MIGRATOR.run(&pool).await.unwrap();
    let mut expected = HashMap::new();
    for i in 0..60 {
        let (status, event) = if i % 2 == 0 {
            ("Received", "BackupRequestReceived")
        } else {
            ("Allowed", "BackupRequestAllowed")
        };
        expected.insert(waiting(&pool, status, 60.0).await, event.to_owned());
    }
    let sent = waiting(&pool, "Sent", 60.0).await;
    let before = statuses(&pool).await;

    let exchange = unique_name("tx");
    let queue_prefix = format!("{}.", unique_name("tq"));
    let tap = WatchQueue::bind(&exchange, REEMITTED_KEYS).await.unwrap();
    let settings = || {
        let mut env = test_env(&database.url, &exchange, &queue_prefix);
        env.insert("LINEBACKER__HTTP__PORT".into(), "0".into());
        // 60 requests at 20 a second: the pass holds the lock for 2 seconds.
        env.insert("LINEBACKER__RECOVERY__PER_SECOND".into(), "20".into());
        Settings::load_from(&config_dir().unwrap(), &env).unwrap()
    };
    let (first, second) = tokio::join!(Application::build(settings()), Application::build(settings()));
    let shutdown = CancellationToken::new();
    let running: Vec<_> = [first.unwrap(), second.unwrap()]
        .into_iter()
        .map(|app| tokio::spawn(app.run_until_stopped(shutdown.clone())))
        .collect();

    let messages = tap.collect(expected.len(), Duration::from_secs(30), Duration::from_secs(4)).await.unwrap();

    let got = reemitted(&messages);
    let ids: HashSet<&String> = got.iter().map(|(id, _)| id).collect();
    assert_eq!(got.len(), expected.len(), "re-emitted {} events for {} waiting requests", got.len(), expected.len());
    assert_eq!(ids.len(), expected.len(), "a request was re-emitted twice");
    for (id, event) in &got {
        assert_eq!(expected.get(id), Some(event), "{id} re-emitted as {event}");
    }
    assert!(!ids.contains(&sent), "a Sent request waits for the interface, not for linebacker");
    assert_eq!(statuses(&pool).await, before, "recovery changed a status");

    shutdown.cancel();
    for app in running {
        tokio::time::timeout(Duration::from_secs(30), app).await.unwrap().unwrap().unwrap();
    }
    tap.delete().await.unwrap();
    pool.close().await;
    support::amqp::delete_broker_objects(&exchange, &queue_prefix).await;
}

#[tokio::test]
async fn post_recovery_re_emits_waiting_requests_and_answers_202_with_a_summary() {
    let app = recovery_app().await;
    let tap = WatchQueue::bind(&app.exchange, REEMITTED_KEYS).await.unwrap();
    let received = waiting(&app.pool, "Received", 60.0).await;
    let allowed = waiting(&app.pool, "Allowed", 60.0).await;
    waiting(&app.pool, "Sent", 60.0).await;
    waiting(&app.pool, "NotAllowed", 60.0).await;

    let response = post_recovery(&app, "").await;

    assert_eq!(response.status().as_u16(), 202);
    let summary: Value = response.json().await.unwrap();
    assert_eq!(
        (&summary["reemitted"], &summary["received"], &summary["allowed"], &summary["skipped"]),
        (&Value::from(2), &Value::from(1), &Value::from(1), &Value::from(0)),
        "{summary}"
    );
    assert!(summary["cutoff"].is_string(), "{summary}");
    let mut got = reemitted(&tap.collect(2, Duration::from_secs(20), Duration::from_secs(1)).await.unwrap());
    got.sort();
    let mut expected = vec![(received, "BackupRequestReceived".to_owned()), (allowed, "BackupRequestAllowed".to_owned())];
    expected.sort();
    assert_eq!(got, expected);

    tap.delete().await.unwrap();
    app.stop().await;
}

#[tokio::test]
async fn a_re_emitted_event_carries_the_trace_its_request_was_received_under() {
    let app = recovery_app().await;
    let tap = WatchQueue::bind(&app.exchange, REEMITTED_KEYS).await.unwrap();
    let id = waiting(&app.pool, "Received", 60.0).await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    sqlx::query("UPDATE backup_requests SET trace_parent = $2 WHERE backup_request_id = $1")
        .bind(&id)
        .bind(format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .execute(&app.pool)
        .await
        .unwrap();

    assert_eq!(post_recovery(&app, "").await.status().as_u16(), 202);

    let messages = tap.collect(1, Duration::from_secs(20), Duration::from_secs(1)).await.unwrap();
    let traceparent = support::amqp::header(&messages[0], "traceparent").unwrap();
    assert!(traceparent.contains(trace_id), "{traceparent}");
    assert!(!traceparent.contains("00f067aa0ba902b7"), "a next hop, not the stored one: {traceparent}");
    tap.delete().await.unwrap();
    app.stop().await;
}

#[tokio::test]
async fn post_recovery_leaves_requests_changed_within_older_than_secs() {
    let app = recovery_app().await;
    waiting(&app.pool, "Received", 600.0).await;
    waiting(&app.pool, "Received", 5.0).await;

    let response = post_recovery(&app, "?olderThanSecs=300").await;

    assert_eq!(response.status().as_u16(), 202);
    let summary: Value = response.json().await.unwrap();
    assert_eq!(summary["reemitted"], 1, "{summary}");
    app.stop().await;
}

#[tokio::test]
async fn post_recovery_answers_400_for_an_older_than_secs_that_is_not_a_number() {
    let app = recovery_app().await;

    let response = post_recovery(&app, "?olderThanSecs=yesterday").await;

    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "BadData");
    assert!(body["message"].as_str().unwrap().contains("olderThanSecs"), "{body}");
    app.stop().await;
}

#[tokio::test]
async fn post_recovery_answers_409_while_another_recovery_holds_the_lock() {
    let app = recovery_app().await;
    waiting(&app.pool, "Received", 60.0).await;
    let other = Database::connect_lazy(&PgConfig {
        options: app.database.url.parse().unwrap(),
        max_connections: 1,
        acquire_timeout: Duration::from_secs(5),
    })
    .unwrap();
    let held = other.store().try_lock().await.unwrap().expect("the lock is free");

    let response = post_recovery(&app, "").await;

    assert_eq!(response.status().as_u16(), 409);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "Conflict");
    assert!(body["message"].as_str().unwrap().contains("another recovery"), "{body}");
    held.release().await;
    let response = post_recovery(&app, "").await;
    assert_eq!(response.status().as_u16(), 202, "the lock was freed");
    app.stop().await;
}

#[tokio::test]
async fn recovery_is_post_only() {
    let app = recovery_app().await;
    let response = app.get("/api/operator/recovery").await;
    assert_eq!(response.status().as_u16(), 405);
    app.stop().await;
}
