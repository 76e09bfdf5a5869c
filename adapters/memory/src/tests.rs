//! The bus against its contract, on virtual time where timing matters.

// A test that cannot set up fails at once; a panic is the report.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use futures::StreamExt;
use linebacker_domain::EventType;
use linebacker_domain::ports::{Delivery, MessageBus, Subscription, WorkQueue};
use linebacker_testkit::sample_event as event;

use linebacker_domain::backoff::RetryPolicy;

use crate::InMemoryBus;

const PAUSE: Duration = Duration::from_secs(5);

async fn next(subscription: &mut Subscription) -> Delivery {
    match tokio::time::timeout(Duration::from_secs(60), subscription.next()).await {
        Ok(Some(Ok(delivery))) => delivery,
        Ok(Some(Err(error))) => panic!("subscription failed: {error}"),
        Ok(None) => panic!("subscription ended"),
        Err(_) => panic!("no delivery within a minute"),
    }
}

/// Whether a delivery arrives within `wait` (virtual time when paused).
async fn arrives_within(subscription: &mut Subscription, wait: Duration) -> bool {
    tokio::time::timeout(wait, subscription.next()).await.is_ok()
}

#[tokio::test]
async fn an_event_reaches_only_the_work_queue_its_type_feeds() {
    let bus = InMemoryBus::new();
    let received = event(EventType::BackupRequestReceived);
    let sent = event(EventType::BackupRequestSent);
    bus.publish(&[received.clone(), sent.clone()]).await.unwrap();

    assert_eq!(bus.published(), vec![received.clone(), sent]);
    assert_eq!(bus.ready_count(WorkQueue::CheckAllowed), 1);
    assert_eq!(bus.ready_count(WorkQueue::SendToInterface), 0);
    assert_eq!(bus.ready_count(WorkQueue::ReceiveStatus), 0);

    let mut subscription = bus.subscribe(WorkQueue::CheckAllowed, 1).await.unwrap();
    let delivery = next(&mut subscription).await;
    assert_eq!(delivery.event, Ok(received));
    assert_eq!(delivery.attempt, 1);
}

#[tokio::test(start_paused = true)]
async fn a_subscriber_holds_at_most_prefetch_unsettled_deliveries() {
    let bus = InMemoryBus::new();
    let events: Vec<_> = (0..3).map(|_| event(EventType::BackupRequestAllowed)).collect();
    bus.publish(&events).await.unwrap();

    let mut subscription = bus.subscribe(WorkQueue::SendToInterface, 2).await.unwrap();
    let first = next(&mut subscription).await;
    let _second = next(&mut subscription).await;
    assert!(!arrives_within(&mut subscription, Duration::from_secs(60)).await);

    first.settle.ack().await.unwrap();
    let third = next(&mut subscription).await;
    assert_eq!(third.event, Ok(events[2].clone()));
}

#[tokio::test(start_paused = true)]
async fn a_retried_message_comes_back_after_the_pause_with_its_attempt_raised() {
    let bus = InMemoryBus::with_retry_pause(PAUSE);
    let published = event(EventType::StoreStatusReceived);
    bus.publish(std::slice::from_ref(&published)).await.unwrap();
    let mut subscription = bus.subscribe(WorkQueue::ReceiveStatus, 5).await.unwrap();

    next(&mut subscription).await.settle.retry("database down").await.unwrap();
    assert!(!arrives_within(&mut subscription, PAUSE - Duration::from_millis(10)).await);

    let again = next(&mut subscription).await;
    assert_eq!(again.event, Ok(published));
    assert_eq!(again.attempt, 2);
}

#[tokio::test(start_paused = true)]
async fn retries_back_off_exponentially_up_to_the_cap() {
    let policy = RetryPolicy { base: Duration::from_secs(1), cap: Duration::from_secs(8), jitter: 0.0 };
    let bus = InMemoryBus::with_retry_policy(policy);
    bus.publish(&[event(EventType::BackupRequestAllowed)]).await.unwrap();
    let mut subscription = bus.subscribe(WorkQueue::SendToInterface, 1).await.unwrap();

    let mut delivery = next(&mut subscription).await;
    let mut schedule = Vec::new();
    for _ in 0..6 {
        delivery.settle.retry("BZI down").await.unwrap();
        let retried_at = tokio::time::Instant::now();
        delivery = next(&mut subscription).await;
        schedule.push((retried_at.elapsed().as_secs(), delivery.attempt));
    }

    assert_eq!(schedule, [(1, 2), (2, 3), (4, 4), (8, 5), (8, 6), (8, 7)]);
}

#[tokio::test(start_paused = true)]
async fn jittered_retries_come_back_within_the_jitter_bounds() {
    let policy = RetryPolicy { base: Duration::from_secs(10), cap: Duration::from_secs(60), jitter: 0.5 };
    let bus = InMemoryBus::with_retry_policy(policy);
    let (low, high) = policy.bounds(1);
    let events: Vec<_> = (0..50).map(|_| event(EventType::BackupRequestReceived)).collect();
    bus.publish(&events).await.unwrap();
    let mut subscription = bus.subscribe(WorkQueue::CheckAllowed, 50).await.unwrap();

    let started = tokio::time::Instant::now();
    for _ in 0..50 {
        next(&mut subscription).await.settle.retry("job service down").await.unwrap();
    }
    let mut waits = Vec::new();
    for _ in 0..50 {
        let again = next(&mut subscription).await;
        assert_eq!(again.attempt, 2);
        waits.push(started.elapsed());
        again.settle.ack().await.unwrap();
    }

    assert!(waits.iter().all(|wait| (low..=high).contains(wait)), "{low:?}..={high:?}: {waits:?}");
    assert!(waits.first() < waits.last(), "jitter must spread the retries: {waits:?}");
}

#[tokio::test(start_paused = true)]
async fn a_retry_does_not_hold_up_the_other_messages() {
    let bus = InMemoryBus::with_retry_pause(PAUSE);
    let events: Vec<_> = (0..2).map(|_| event(EventType::BackupRequestReceived)).collect();
    bus.publish(&events).await.unwrap();
    let mut subscription = bus.subscribe(WorkQueue::CheckAllowed, 1).await.unwrap();

    next(&mut subscription).await.settle.retry("job service down").await.unwrap();
    let started = tokio::time::Instant::now();
    let second = next(&mut subscription).await;
    assert_eq!(second.event, Ok(events[1].clone()));
    assert!(started.elapsed() < PAUSE);
}

#[tokio::test(start_paused = true)]
async fn a_dead_lettered_message_is_kept_with_its_reason_and_not_redelivered() {
    let bus = InMemoryBus::new();
    let published = event(EventType::BackupRequestReceived);
    bus.publish(std::slice::from_ref(&published)).await.unwrap();
    let mut subscription = bus.subscribe(WorkQueue::CheckAllowed, 1).await.unwrap();

    next(&mut subscription).await.settle.dead_letter("unknown request").await.unwrap();

    assert_eq!(bus.dead_letters(WorkQueue::CheckAllowed), vec![(published, "unknown request".to_owned())]);
    assert!(bus.dead_letters(WorkQueue::SendToInterface).is_empty());
    assert!(!arrives_within(&mut subscription, Duration::from_secs(3600)).await);
}

#[tokio::test(start_paused = true)]
async fn a_delivery_dropped_unsettled_goes_back_to_its_queue() {
    let bus = InMemoryBus::new();
    bus.publish(&[event(EventType::BackupRequestReceived)]).await.unwrap();
    let mut subscription = bus.subscribe(WorkQueue::CheckAllowed, 1).await.unwrap();

    drop(next(&mut subscription).await);

    assert_eq!(next(&mut subscription).await.attempt, 2);
}

#[tokio::test(start_paused = true)]
async fn subscribers_of_one_queue_share_its_messages_without_duplicates() {
    let bus = InMemoryBus::new();
    let mut first = bus.subscribe(WorkQueue::CheckAllowed, 10).await.unwrap();
    let mut second = bus.subscribe(WorkQueue::CheckAllowed, 10).await.unwrap();
    let waiting = tokio::spawn(async move { next(&mut second).await.event });
    tokio::task::yield_now().await;

    let events: Vec<_> = (0..2).map(|_| event(EventType::BackupRequestReceived)).collect();
    bus.publish(&events).await.unwrap();

    let mut seen = vec![next(&mut first).await.event.unwrap(), waiting.await.unwrap().unwrap()];
    seen.sort_by_key(|e| e.message_id);
    let mut expected = events;
    expected.sort_by_key(|e| e.message_id);
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn an_unavailable_bus_refuses_to_publish_until_it_is_back() {
    let bus = InMemoryBus::new();
    bus.set_unavailable(true);
    let error = bus.publish(&[event(EventType::BackupRequestReceived)]).await.unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert!(bus.published().is_empty());

    bus.set_unavailable(false);
    bus.publish(&[event(EventType::BackupRequestReceived)]).await.unwrap();
    assert_eq!(bus.published().len(), 1);
}

#[tokio::test]
async fn operators_list_replay_and_purge_a_work_queues_dead_letters() {
    use linebacker_domain::dead_letter::DeadLetters;

    let bus = InMemoryBus::new();
    let parking = bus.parking(WorkQueue::CheckAllowed);
    let (first, second) = (event(EventType::BackupRequestReceived), event(EventType::BackupRequestReceived));
    bus.publish(&[first.clone(), second.clone()]).await.unwrap();
    let mut subscription = bus.subscribe(WorkQueue::CheckAllowed, 0).await.unwrap();
    for _ in 0..2 {
        next(&mut subscription).await.settle.dead_letter("job service said no").await.unwrap();
    }

    assert_eq!(parking.count().await.unwrap(), 2);
    let listed = parking.list(10).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].message_id, first.message_id.to_string());
    assert_eq!(listed[0].backup_request_id.as_deref(), Some(first.backup_request_id.as_str()));
    assert_eq!(listed[0].reason.as_deref(), Some("job service said no"));
    assert_eq!(listed[0].attempts, Some(1));

    // Replaying one puts it back on its work queue as a first attempt.
    assert_eq!(parking.replay(Some(&listed[0].message_id)).await.unwrap().count, 1);
    let replayed = next(&mut subscription).await;
    assert_eq!((replayed.event.as_ref().unwrap().message_id.clone(), replayed.attempt), (first.message_id.clone(), 1));
    replayed.settle.ack().await.unwrap();
    assert_eq!(parking.count().await.unwrap(), 1);

    assert_eq!(parking.purge().await.unwrap().count, 1);
    assert_eq!(parking.count().await.unwrap(), 0);
    assert_eq!(bus.ready_count(WorkQueue::CheckAllowed), 0);
}
