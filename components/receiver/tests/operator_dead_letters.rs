//! The operator endpoints for dead letters, on a receiver of the test's own:
//! counts, listing, replay by id, purge, and the answers for unknown names.

// A test that cannot set up fails at once; a panic is the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use linebacker_domain::ports::{MessageBus, WorkQueue};
use linebacker_domain::EventType;
use linebacker_rabbitmq::{RabbitBus, RabbitSettings};
use linebacker_testkit::{BrokerProbe, eventually, sample_event};
use reqwest::Method;
use serde_json::Value;
use support::{TestApp, WAIT, spawn_app};

/// A bus on the receiver's names, to park messages as a worker would.
fn bus_of(app: &TestApp) -> RabbitBus {
    RabbitBus::new(RabbitSettings {
        exchange: app.exchange.clone(),
        queue_prefix: app.queue_prefix.clone(),
        ..RabbitSettings::default()
    })
}

/// Publishes one `check-allowed` event and dead-letters it; its messageId.
async fn park_one(bus: &RabbitBus) -> String {
    let event = sample_event(EventType::BackupRequestReceived);
    bus.publish(std::slice::from_ref(&event)).await.unwrap();
    let mut subscription = bus.subscribe(WorkQueue::CheckAllowed, 1).await.unwrap();
    let delivery = tokio::time::timeout(WAIT, futures::StreamExt::next(&mut subscription)).await.unwrap().unwrap().unwrap();
    delivery.settle.dead_letter("backup request unknown").await.unwrap();
    event.message_id.to_string()
}

async fn json(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status);
    response.json().await.unwrap()
}

#[tokio::test]
async fn an_operator_lists_replays_and_purges_the_dead_letters_of_a_work_queue() {
    let app = spawn_app().await;
    let bus = bus_of(&app);
    let id = park_one(&bus).await;

    let counts = eventually(WAIT, "check-allowed counted 1", || async {
        let body: Value = app.get("/api/operator/dead-letters").await.json().await.ok()?;
        let queues = body["queues"].as_array()?.clone();
        (queues.iter().any(|q| q["queue"] == "check-allowed" && q["count"] == 1)).then_some(queues)
    })
    .await
    .unwrap();
    let names: Vec<_> = counts.iter().map(|q| q["queue"].as_str().unwrap()).collect();
    assert_eq!(names, ["check-allowed", "send-to-interface", "receive-status", "store-statuses-poison"]);

    let listed = json(app.get("/api/operator/dead-letters/check-allowed").await, 200).await;
    let item = &listed["items"][0];
    assert_eq!(item["messageId"], id.as_str());
    assert_eq!(item["reason"], "backup request unknown");
    assert_eq!(item["attempts"], 1);
    assert!(item["deadLetteredAt"].is_string() && item["backupRequestId"].is_string(), "{item}");
    let one = json(app.get(&format!("/api/operator/dead-letters/check-allowed?messageId={id}")).await, 200).await;
    assert_eq!(one["messageId"], id.as_str());

    let replay = |query: String| {
        let app = &app;
        async move { app.act(Method::POST, &format!("/api/operator/dead-letters/check-allowed/replay{query}")).await }
    };
    assert_eq!(json(replay("?messageId=nope".into()).await, 404).await["code"], "NotFound");
    assert_eq!(json(replay(format!("?messageId={id}")).await, 200).await["replayed"], 1);
    let probe = BrokerProbe::connect().await.unwrap();
    let work_queue = format!("{}check-allowed", app.queue_prefix);
    eventually(WAIT, "the replayed message on its work queue", || async {
        (probe.message_count(&work_queue).await.ok()? == 1).then_some(())
    })
    .await
    .unwrap();

    park_one(&bus).await;
    let purge = app.act(Method::DELETE, "/api/operator/dead-letters/check-allowed").await;
    assert_eq!(json(purge, 200).await["purged"], 1);
    assert_eq!(json(app.get("/api/operator/dead-letters/check-allowed").await, 200).await["items"], Value::Array(vec![]));

    bus.close().await;
    probe.close().await;
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_dead_letter_queue_is_a_404_naming_the_known_ones() {
    let app = spawn_app().await;
    let body = json(app.get("/api/operator/dead-letters/check-allowed.dead").await, 404).await;
    assert_eq!(body["code"], "NotFound");
    assert!(body["message"].as_str().unwrap().contains("store-statuses-poison"), "{body}");
    let wrong_method = app.client.put(app.url("/api/operator/dead-letters/check-allowed")).send().await.unwrap();
    assert_eq!(wrong_method.status().as_u16(), 405);
    app.stop().await;
}
