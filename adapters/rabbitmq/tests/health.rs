//! What the broker tells `healthz/all`: heartbeats reach every listener, and
//! each work queue's counts are the broker's.

// A test that cannot set up fails at once; a panic is the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Fixture, RECEIVE_TIMEOUT, next_delivery};
use futures::StreamExt;
use linebacker_domain::ports::{MessageBus, WorkQueue};
use linebacker_rabbitmq::RabbitBus;
use linebacker_testkit::{eventually, sample_event as event};

const MAX_AGE: Duration = Duration::from_secs(10);

#[tokio::test]
async fn every_listener_hears_every_heartbeat() {
    let fixture = Fixture::new().await;
    fixture.bus.declare_topology().await.unwrap();
    let other = RabbitBus::new(fixture.settings.clone());
    let mut first = fixture.bus.listen_heartbeats(MAX_AGE).await.unwrap();
    let mut second = other.listen_heartbeats(MAX_AGE).await.unwrap();

    other.publish_heartbeat(br#"{"name":"check-allowed-1"}"#, MAX_AGE).await.unwrap();
    fixture.bus.publish_heartbeat(br#"{"name":"http-receiver-0"}"#, MAX_AGE).await.unwrap();

    for listener in [&mut first, &mut second] {
        let mut heard = Vec::new();
        for _ in 0..2 {
            let beat = tokio::time::timeout(RECEIVE_TIMEOUT, listener.next()).await.unwrap().unwrap();
            heard.push(String::from_utf8(beat).unwrap());
        }
        heard.sort();
        assert_eq!(heard, [r#"{"name":"check-allowed-1"}"#, r#"{"name":"http-receiver-0"}"#]);
    }
    other.close().await;
    fixture.cleanup().await;
}

#[tokio::test]
async fn a_heartbeat_listener_ends_when_its_connection_does() {
    let fixture = Fixture::new().await;
    let listener_bus = RabbitBus::new(fixture.settings.clone());
    let mut beats = listener_bus.listen_heartbeats(MAX_AGE).await.unwrap();
    listener_bus.close().await;
    let ended = tokio::time::timeout(RECEIVE_TIMEOUT, beats.next()).await.unwrap();
    assert!(ended.is_none(), "the stream must end so that its owner listens again");
    fixture.cleanup().await;
}

#[tokio::test]
async fn queue_stats_count_ready_messages_consumers_and_dead_letters() {
    let fixture = Fixture::new().await;
    let queue = WorkQueue::CheckAllowed;
    fixture.bus.publish(&[event(queue.source()), event(queue.source())]).await.unwrap();
    let mut subscription = fixture.bus.subscribe(queue, 1).await.unwrap();
    next_delivery(&mut subscription).await.settle.dead_letter("parked by the test").await.unwrap();
    fixture.bus.publish(&[event(queue.source()), event(queue.source()), event(queue.source())]).await.unwrap();

    // With prefetch 1, one of the four waiting messages is held by the
    // consumer and not ready.
    let stats = eventually(RECEIVE_TIMEOUT, "3 ready, 1 consumer, 1 dead letter", || async {
        let all = fixture.bus.queue_stats().await.ok()?;
        let stats = all.into_iter().find(|s| s.queue == queue)?;
        (stats.ready == 3 && stats.consumers == 1 && stats.dead_letters == 1).then_some(stats)
    })
    .await
    .unwrap();
    assert_eq!(stats.name, fixture.work_queue(queue));
    assert_eq!(stats.retrying, 0);

    let all = fixture.bus.queue_stats().await.unwrap();
    let names: Vec<WorkQueue> = all.iter().map(|s| s.queue).collect();
    assert_eq!(names, WorkQueue::ALL);
    let other = all.iter().find(|s| s.queue == WorkQueue::ReceiveStatus).unwrap();
    assert_eq!((other.ready, other.consumers, other.dead_letters), (0, 0, 0));
    drop(subscription);
    fixture.cleanup().await;
}

#[tokio::test]
async fn queue_stats_of_an_unreachable_broker_is_an_error_not_a_hang() {
    let fixture = Fixture::at("amqp://guest:guest@127.0.0.1:1/%2f".to_owned()).await;
    let started = std::time::Instant::now();
    assert!(fixture.bus.queue_stats().await.is_err());
    assert!(fixture.bus.publish_heartbeat(b"{}", MAX_AGE).await.is_err());
    assert!(started.elapsed() < Duration::from_secs(10));
    fixture.cleanup().await;
}
