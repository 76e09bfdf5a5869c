//! A message whose headers nest thousands of levels deep: the header
//! parser stops descending at its bound (vendor/amq-protocol-types,
//! `MAX_NESTING`), so the consumer's connection thread keeps its stack, the
//! message is refused at the edge and parked, and the connection lives.
//! Unbounded, such a message overflowed the stack of lapin's I/O thread
//! and aborted the consuming process at every redelivery.
//!
//! Publishing it takes a deep stack too (the encoder recurses as well), so
//! this binary runs its own `publish_deeply_nested_headers` as a child
//! process with a large `RUST_MIN_STACK`; the consumer, here, keeps the
//! default stack.

// A test that cannot set up fails at once; a panic is the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Fixture, RECEIVE_TIMEOUT};
use futures::StreamExt;
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable};
use linebacker_domain::EventType;
use linebacker_domain::ports::{MessageBus, WorkQueue};
use linebacker_rabbitmq::routing_key;
use linebacker_testkit::{BrokerProbe, eventually, sample_event};

/// Where the child publishes: `<exchange> <routing key>`.
const PUBLISH_TO: &str = "LINEBACKER_TEST_DEEP_HEADERS_PUBLISH_TO";
/// Levels of nesting: a few hundred already overflowed a 2 MiB stack.
const LEVELS: usize = 5_000;

fn nested(depth: usize) -> AMQPValue {
    (0..depth).fold(AMQPValue::LongString("bottom".into()), |inner, _| {
        let mut table = FieldTable::default();
        table.insert("n".into(), inner);
        AMQPValue::FieldTable(table)
    })
}

#[tokio::test]
#[ignore = "the publishing half of the test below, run by it in a child process"]
async fn publish_deeply_nested_headers() {
    let target = std::env::var(PUBLISH_TO).expect("run by a_message_whose_headers_nest_thousands_deep_...");
    let (exchange, routing) = target.split_once(' ').unwrap();
    let mut headers = FieldTable::default();
    headers.insert("x-nested".into(), nested(LEVELS));
    let properties =
        BasicProperties::default().with_message_id("deep-headers".into()).with_delivery_mode(2).with_headers(headers);
    let body = sample_event(EventType::BackupRequestReceived).to_json();
    let probe = BrokerProbe::connect().await.unwrap();
    probe.publish_raw(exchange, routing, &body, properties).await.unwrap();
    probe.close().await;
}

#[tokio::test]
async fn a_message_whose_headers_nest_thousands_deep_is_parked_and_the_consumer_lives() {
    let fixture = Fixture::new().await;
    fixture.bus.declare_topology().await.unwrap();
    let target = format!("{} {}", fixture.settings.exchange, routing_key(EventType::BackupRequestReceived));
    let child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "publish_deeply_nested_headers"])
        .env(PUBLISH_TO, target)
        .env("RUST_MIN_STACK", "268435456")
        .output();
    let child = tokio::time::timeout(RECEIVE_TIMEOUT * 3, child).await.unwrap().unwrap();
    assert!(child.status.success(), "the publisher: {}", String::from_utf8_lossy(&child.stdout));

    let mut subscription = fixture.bus.subscribe(WorkQueue::CheckAllowed, 1).await.unwrap();
    let delivery = tokio::time::timeout(RECEIVE_TIMEOUT, subscription.next()).await.unwrap().unwrap().unwrap();
    let refused = delivery.event.expect_err("headers nested this deep are refused at the edge").to_string();
    assert!(refused.contains("nest"), "{refused}");
    delivery.settle.dead_letter(&refused).await.unwrap();

    let dead = fixture.dead_queue(WorkQueue::CheckAllowed);
    eventually(RECEIVE_TIMEOUT, "the message parked", || async {
        (fixture.probe.message_count(&dead).await.ok()? == 1).then_some(())
    })
    .await
    .unwrap();
    assert!(fixture.bus.is_connected(), "the consumer's connection lived through it");
    assert_eq!(fixture.probe.message_count(&fixture.work_queue(WorkQueue::CheckAllowed)).await.unwrap(), 0);
    drop(subscription);
    fixture.cleanup().await;
}
