//! Operating dead-letter queues: listing leaves them as they were, replay
//! puts a message back to work as a first attempt, purge empties them.

// A test that cannot set up fails at once; a panic is the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Fixture, RECEIVE_TIMEOUT, next_delivery};
use linebacker_domain::DomainEvent;
use linebacker_domain::dead_letter::DeadLetters;
use linebacker_domain::ports::{MessageBus, WorkQueue};
use linebacker_testkit::{eventually, sample_event as event};

const QUEUE: WorkQueue = WorkQueue::CheckAllowed;

/// Publishes `count` events and dead-letters each with `reason <n>`.
async fn park(fixture: &Fixture, count: usize) -> Vec<DomainEvent> {
    let events: Vec<_> = (0..count).map(|_| event(QUEUE.source())).collect();
    fixture.bus.publish(&events).await.unwrap();
    let mut subscription = fixture.bus.subscribe(QUEUE, 10).await.unwrap();
    for n in 0..count {
        let delivery = next_delivery(&mut subscription).await;
        delivery.settle.dead_letter(&format!("reason {n}")).await.unwrap();
    }
    events
}

#[tokio::test]
async fn listing_shows_every_dead_letter_with_its_reason_and_leaves_them_parked() {
    let fixture = Fixture::new().await;
    let events = park(&fixture, 3).await;
    let dead_letters = fixture.bus.dead_letters(QUEUE);

    let listed = dead_letters.list(100).await.unwrap();
    let again = dead_letters.list(100).await.unwrap();

    assert_eq!(listed.len(), 3, "{listed:#?}");
    for event in &events {
        let item = listed.iter().find(|item| item.message_id == event.message_id.to_string()).unwrap();
        assert_eq!(item.backup_request_id, Some(event.backup_request_id.to_string()));
        assert!(item.reason.as_deref().unwrap().starts_with("reason "), "{item:?}");
        assert_eq!(item.attempts, Some(1));
        assert!(item.dead_lettered_at.is_some());
        assert_eq!(item.body.as_bytes(), event.to_json());
    }
    assert_eq!(again.len(), 3, "listing must leave the dead letters parked");
    assert_eq!(dead_letters.list(2).await.unwrap().len(), 2);
    // The broker's count may lag a moment behind messages just handed back.
    eventually(RECEIVE_TIMEOUT, "3 dead letters counted", || async {
        (dead_letters.count().await.ok()? == 3).then_some(())
    })
    .await
    .unwrap();
    fixture.cleanup().await;
}

#[tokio::test]
async fn replaying_one_dead_letter_puts_only_it_back_on_its_work_queue_as_a_first_attempt() {
    let fixture = Fixture::new().await;
    let events = park(&fixture, 2).await;
    let dead_letters = fixture.bus.dead_letters(QUEUE);

    let replayed = dead_letters.replay(Some(&events[1].message_id.to_string())).await.unwrap();
    assert_eq!(replayed.count, 1);
    assert_eq!(dead_letters.replay(Some("no-such-message")).await.unwrap().count, 0);

    let mut subscription = fixture.bus.subscribe(QUEUE, 1).await.unwrap();
    let delivery = next_delivery(&mut subscription).await;
    assert_eq!(delivery.event.as_ref(), Ok(&events[1]));
    assert_eq!(delivery.attempt, 1);
    delivery.settle.ack().await.unwrap();
    let left = dead_letters.list(100).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].message_id, events[0].message_id.to_string());
    drop(subscription);
    fixture.cleanup().await;
}

#[tokio::test]
async fn replaying_all_then_purging_empties_the_dead_letter_queue() {
    let fixture = Fixture::new().await;
    park(&fixture, 3).await;
    let dead_letters = fixture.bus.dead_letters(QUEUE);

    assert_eq!(dead_letters.replay(None).await.unwrap().count, 3);
    assert!(dead_letters.list(100).await.unwrap().is_empty());
    assert_eq!(fixture.probe.message_count(&fixture.work_queue(QUEUE)).await.unwrap(), 3);

    park(&fixture, 3).await;
    assert_eq!(dead_letters.purge().await.unwrap().count, 3);
    assert!(dead_letters.list(100).await.unwrap().is_empty());
    fixture.cleanup().await;
}

#[tokio::test]
async fn thirty_dead_letters_listed_a_hundred_times_two_at_once_stay_parked_in_order_and_each_replays_by_id() {
    let fixture = Fixture::new().await;
    let events = park(&fixture, 30).await;
    let ids: Vec<String> = events.iter().map(|event| event.message_id.to_string()).collect();
    let dead_letters = fixture.bus.dead_letters(QUEUE);

    for _ in 0..50 {
        let (one, other) = tokio::join!(dead_letters.list(100), dead_letters.list(100));
        for listed in [one.unwrap(), other.unwrap()] {
            let listed: Vec<_> = listed.into_iter().map(|item| item.message_id).collect();
            assert_eq!(listed, ids, "a listing must show every dead letter, in the order they were parked");
        }
    }

    for id in &ids {
        assert_eq!(dead_letters.replay(Some(id)).await.unwrap().count, 1, "{id} replays");
    }
    assert!(dead_letters.list(100).await.unwrap().is_empty());
    let mut subscription = fixture.bus.subscribe(QUEUE, 10).await.unwrap();
    for id in &ids {
        let delivery = next_delivery(&mut subscription).await;
        assert_eq!(delivery.event.as_ref().map(|event| event.message_id.to_string()).as_ref(), Ok(id));
        delivery.settle.ack().await.unwrap();
    }
    drop(subscription);
    fixture.cleanup().await;
}
