//! Consuming work queues: prefetch, settlement and malformed messages.

// A test that cannot set up fails at once; a panic is the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Fixture, RECEIVE_TIMEOUT, RETRY_BASE, count_header, delivers_within, header, next_delivery};
use lapin::BasicProperties;
use linebacker_domain::ports::{Delivery, MalformedMessage, MessageBus, Subscription, WorkQueue};
use linebacker_domain::{DomainEvent, EventType};
use linebacker_testkit::{eventually, sample_event as event};

/// Waits until `queue` holds `count` ready messages.
async fn ready_count_becomes(fixture: &Fixture, queue: &str, count: u32) {
    eventually(RECEIVE_TIMEOUT, &format!("{count} message(s) ready on {queue}"), || async {
        (fixture.probe.message_count(queue).await.ok()? == count).then_some(())
    })
    .await
    .unwrap();
}

/// Publishes one event of `queue`'s source type and takes it from `queue`.
async fn one_delivery_from(fixture: &Fixture, queue: WorkQueue) -> (DomainEvent, Subscription, Delivery) {
    let published = event(queue.source());
    fixture.bus.publish(std::slice::from_ref(&published)).await.unwrap();
    let mut subscription = fixture.bus.subscribe(queue, 5).await.unwrap();
    let delivery = next_delivery(&mut subscription).await;
    assert_eq!(delivery.event, Ok(published.clone()));
    assert_eq!(delivery.attempt, 1);
    (published, subscription, delivery)
}

/// Ends the subscription and checks that nothing went back to `queue`:
/// closing a consumer returns whatever it left unsettled.
async fn nothing_left_on(fixture: &Fixture, subscription: Subscription, queue: WorkQueue) {
    drop(subscription);
    tokio::time::sleep(Duration::from_millis(300)).await;
    ready_count_becomes(fixture, &fixture.work_queue(queue), 0).await;
}

#[tokio::test]
async fn a_subscriber_with_prefetch_10_holds_10_unacked_deliveries_and_acks_remove_them() {
    let fixture = Fixture::new().await;
    let events: Vec<_> = (0..12).map(|_| event(EventType::BackupRequestReceived)).collect();
    fixture.bus.publish(&events).await.unwrap();
    let mut subscription = fixture.bus.subscribe(WorkQueue::CheckAllowed, 10).await.unwrap();

    let mut held = Vec::new();
    for _ in 0..10 {
        held.push(next_delivery(&mut subscription).await);
    }
    assert!(
        !delivers_within(&mut subscription, Duration::from_millis(500)).await,
        "an 11th delivery came before any ack"
    );
    for delivery in held {
        assert_eq!(delivery.attempt, 1);
        delivery.settle.ack().await.unwrap();
    }
    for _ in 0..2 {
        next_delivery(&mut subscription).await.settle.ack().await.unwrap();
    }

    nothing_left_on(&fixture, subscription, WorkQueue::CheckAllowed).await;
    fixture.cleanup().await;
}

#[tokio::test]
async fn a_dead_lettered_message_is_parked_on_the_dead_letter_queue_with_its_reason() {
    let fixture = Fixture::new().await;
    let (published, subscription, delivery) = one_delivery_from(&fixture, WorkQueue::SendToInterface).await;

    delivery.settle.dead_letter("backup request unknown after grace period").await.unwrap();

    let dead_queue = fixture.dead_queue(WorkQueue::SendToInterface);
    let parked = fixture.probe.get(&dead_queue, RECEIVE_TIMEOUT).await.unwrap().delivery;
    assert_eq!(parked.data, published.to_json());
    let properties = &parked.properties;
    assert_eq!(header(properties, "x-linebacker-reason").as_deref(), Some("backup request unknown after grace period"));
    let work_queue = fixture.work_queue(WorkQueue::SendToInterface);
    assert_eq!(header(properties, "x-linebacker-queue"), Some(work_queue.clone()));
    assert!(header(properties, "x-linebacker-dead-lettered-at").is_some());
    assert_eq!(header(properties, "x-backup-request-id"), Some(published.backup_request_id.to_string()));
    assert_eq!(*properties.delivery_mode(), Some(2));
    assert_eq!(properties.message_id().as_ref().map(|m| m.to_string()), Some(published.message_id.to_string()));

    nothing_left_on(&fixture, subscription, WorkQueue::SendToInterface).await;
    fixture.cleanup().await;
}

#[tokio::test]
async fn a_retried_message_comes_back_on_its_work_queue_after_its_delay_as_attempt_2_with_the_last_error() {
    let fixture = Fixture::new().await;
    let (published, subscription, first) = one_delivery_from(&fixture, WorkQueue::ReceiveStatus).await;
    // Only the probe reads the work queue from here on, to see the headers.
    drop(subscription);

    let retried_at = Instant::now();
    first.settle.retry("database unavailable").await.unwrap();
    assert!(retried_at.elapsed() < RETRY_BASE, "retry must not wait for the delay");

    let work_queue = fixture.work_queue(WorkQueue::ReceiveStatus);
    let back = fixture.probe.get(&work_queue, RECEIVE_TIMEOUT).await.unwrap().delivery;
    let waited = retried_at.elapsed();
    assert!(waited >= RETRY_BASE, "came back after {waited:?}");
    assert!(waited < RETRY_BASE * 4, "came back after {waited:?}");
    assert_eq!(back.data, published.to_json());
    assert_eq!(count_header(&back.properties, "x-linebacker-attempt"), Some(2));
    assert_eq!(header(&back.properties, "x-linebacker-last-error").as_deref(), Some("database unavailable"));
    assert_eq!(header(&back.properties, "x-backup-request-id"), Some(published.backup_request_id.to_string()));
    fixture.cleanup().await;
}

#[tokio::test]
async fn while_a_retried_message_waits_the_others_are_consumed_even_with_prefetch_1() {
    let fixture = Fixture::new().await;
    let failing = event(EventType::BackupRequestReceived);
    fixture.bus.publish(std::slice::from_ref(&failing)).await.unwrap();
    let mut subscription = fixture.bus.subscribe(WorkQueue::CheckAllowed, 1).await.unwrap();
    let first = next_delivery(&mut subscription).await;
    let retried_at = Instant::now();
    first.settle.retry("backup job service unavailable").await.unwrap();

    let others: Vec<_> = (0..3).map(|_| event(EventType::BackupRequestReceived)).collect();
    fixture.bus.publish(&others).await.unwrap();
    for other in &others {
        let delivery = next_delivery(&mut subscription).await;
        assert_eq!(delivery.event.as_ref(), Ok(other));
        delivery.settle.ack().await.unwrap();
    }
    assert!(retried_at.elapsed() < RETRY_BASE, "the others waited {:?} behind the retry", retried_at.elapsed());

    let again = next_delivery(&mut subscription).await;
    assert!(retried_at.elapsed() >= RETRY_BASE, "came back after {:?}", retried_at.elapsed());
    assert_eq!(again.event, Ok(failing));
    assert_eq!(again.attempt, 2);
    again.settle.ack().await.unwrap();
    nothing_left_on(&fixture, subscription, WorkQueue::CheckAllowed).await;
    fixture.cleanup().await;
}

#[tokio::test]
async fn a_message_dead_lettered_after_a_retry_carries_its_attempts_and_last_error() {
    let fixture = Fixture::new().await;
    let (published, mut subscription, first) = one_delivery_from(&fixture, WorkQueue::SendToInterface).await;
    first.settle.retry("BZI queue unavailable").await.unwrap();
    let second = next_delivery(&mut subscription).await;
    assert_eq!(second.attempt, 2);

    second.settle.dead_letter("gave up after 2 attempts: BZI queue unavailable").await.unwrap();

    let dead_queue = fixture.dead_queue(WorkQueue::SendToInterface);
    let parked = fixture.probe.get(&dead_queue, RECEIVE_TIMEOUT).await.unwrap().delivery;
    assert_eq!(parked.data, published.to_json());
    let properties = &parked.properties;
    assert_eq!(count_header(properties, "x-linebacker-attempt"), Some(2));
    assert_eq!(header(properties, "x-linebacker-last-error").as_deref(), Some("BZI queue unavailable"));
    assert_eq!(
        header(properties, "x-linebacker-reason").as_deref(),
        Some("gave up after 2 attempts: BZI queue unavailable")
    );
    nothing_left_on(&fixture, subscription, WorkQueue::SendToInterface).await;
    fixture.cleanup().await;
}

#[tokio::test]
async fn a_body_that_is_not_an_envelope_arrives_malformed_and_can_be_dead_lettered() {
    let fixture = Fixture::new().await;
    fixture.bus.declare_topology().await.unwrap();
    fixture
        .probe
        .publish_raw(&fixture.settings.exchange, "backup-request.received", b"not json", BasicProperties::default())
        .await
        .unwrap();
    let mut subscription = fixture.bus.subscribe(WorkQueue::CheckAllowed, 1).await.unwrap();

    let delivery = next_delivery(&mut subscription).await;
    let Err(MalformedMessage(reason)) = &delivery.event else {
        panic!("expected a malformed message, got {:?}", delivery.event);
    };
    delivery.settle.dead_letter(&format!("malformed message: {reason}")).await.unwrap();

    let dead_queue = fixture.dead_queue(WorkQueue::CheckAllowed);
    let parked = fixture.probe.get(&dead_queue, RECEIVE_TIMEOUT).await.unwrap().delivery;
    assert_eq!(parked.data, b"not json");
    let parked_reason = header(&parked.properties, "x-linebacker-reason").unwrap();
    assert!(parked_reason.starts_with("malformed message:"), "{parked_reason}");
    fixture.cleanup().await;
}
