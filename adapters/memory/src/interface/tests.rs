//! The in-memory BZI against the contracts of its ports, and what the
//! simulator sees of it, on virtual time where timing matters.

// A test that cannot set up fails at once; a panic is the report.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use linebacker_domain::dead_letter::DeadLetters;
use linebacker_domain::external::ResultTypeCode;
use linebacker_domain::ports::{BackupInterface, InboxMessage, InboxReceipt, StatusInbox};
use linebacker_domain::testing::fixtures::interface_request_for;
use tokio_util::sync::CancellationToken;

use super::InMemoryInterface;

const VISIBILITY: Duration = Duration::from_secs(30);

fn failed_status(id: &str) -> String {
    format!(r#"{{"apiVersion":"2022-05-22","backupRequestId":"{id}","resultTypeCode":"Failed","messageText":"no room"}}"#)
}

async fn take_one(interface: &InMemoryInterface) -> InboxMessage {
    let mut taken = interface.receive(32, VISIBILITY).await.unwrap();
    assert_eq!(taken.len(), 1, "{taken:?}");
    taken.remove(0)
}

#[tokio::test]
async fn sent_requests_are_taken_oldest_first_and_counted_until_taken() {
    let interface = InMemoryInterface::new();
    interface.send(&interface_request_for("r-1")).await.unwrap();
    interface.send(&interface_request_for("r-2")).await.unwrap();
    assert_eq!(interface.request_count(), 2);

    let stop = CancellationToken::new();
    assert_eq!(interface.next_request(&stop).await, Some(interface_request_for("r-1")));
    assert_eq!(interface.next_request(&stop).await, Some(interface_request_for("r-2")));
    assert_eq!(interface.request_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn taking_a_request_waits_for_one_to_be_sent() {
    let interface = InMemoryInterface::new();
    let stop = CancellationToken::new();
    let simulator = interface.clone();
    let waiting = tokio::spawn(async move { simulator.next_request(&stop).await });
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(!waiting.is_finished());

    interface.send(&interface_request_for("r-1")).await.unwrap();

    assert_eq!(waiting.await.unwrap(), Some(interface_request_for("r-1")));
}

#[tokio::test(start_paused = true)]
async fn waiting_for_a_request_ends_when_stopped() {
    let interface = InMemoryInterface::new();
    let stop = CancellationToken::new();
    let (simulator, stopping) = (interface.clone(), stop.clone());
    let waiting = tokio::spawn(async move { simulator.next_request(&stopping).await });
    tokio::time::sleep(Duration::from_secs(1)).await;

    stop.cancel();

    assert_eq!(waiting.await.unwrap(), None);
}

#[tokio::test]
async fn a_status_text_is_handed_out_read_and_a_malformed_one_with_its_reason_and_text() {
    let interface = InMemoryInterface::new();
    interface.put_status(failed_status("r-1"));
    interface.put_status("{not json");

    let taken = interface.receive(32, VISIBILITY).await.unwrap();

    assert_eq!(taken.len(), 2);
    let status = taken[0].status.as_ref().unwrap();
    assert_eq!((status.backup_request_id.as_str(), status.result_type_code), ("r-1", ResultTypeCode::Failed));
    let unreadable = taken[1].status.as_ref().unwrap_err();
    assert!(unreadable.reason.contains("not a store status"), "{}", unreadable.reason);
    assert_eq!(unreadable.text, "{not json");
    assert!(taken.iter().all(|message| message.times_taken == 1));
    assert_ne!(taken[0].message_id, taken[1].message_id);
}

#[tokio::test]
async fn a_receive_takes_at_most_max_messages() {
    let interface = InMemoryInterface::new();
    for id in ["r-1", "r-2", "r-3"] {
        interface.put_status(failed_status(id));
    }
    assert_eq!(interface.receive(2, VISIBILITY).await.unwrap().len(), 2);
    assert_eq!(interface.receive(2, VISIBILITY).await.unwrap().len(), 1);
    assert_eq!(interface.status_count(), 3, "hidden messages still count");
}

#[tokio::test(start_paused = true)]
async fn a_taken_status_is_hidden_for_its_visibility_timeout_then_taken_again_counted() {
    let interface = InMemoryInterface::new();
    interface.put_status(failed_status("r-1"));
    let first = take_one(&interface).await;

    tokio::time::sleep(VISIBILITY - Duration::from_millis(10)).await;
    assert!(interface.receive(32, VISIBILITY).await.unwrap().is_empty());

    tokio::time::sleep(Duration::from_millis(10)).await;
    let again = take_one(&interface).await;
    assert_eq!(again.message_id, first.message_id);
    assert_eq!(again.times_taken, 2);
}

#[tokio::test(start_paused = true)]
async fn a_deleted_status_is_gone_but_a_stale_receipt_leaves_the_message_taken_again() {
    let interface = InMemoryInterface::new();
    interface.put_status(failed_status("r-1"));
    let stale = take_one(&interface).await;
    tokio::time::sleep(VISIBILITY).await;
    let current = take_one(&interface).await;

    interface.delete(&stale).await.unwrap();
    assert_eq!(interface.status_count(), 1, "another reader holds it now");

    interface.delete(&current).await.unwrap();
    assert_eq!(interface.status_count(), 0);
    interface.delete(&current).await.unwrap();
}

#[tokio::test]
async fn a_parked_status_moves_to_the_poison_list_with_its_reason_text_and_takes() {
    let interface = InMemoryInterface::new();
    interface.put_status(r#"{"backupRequestId":"r-9","resultTypeCode":"Maybe"}"#);
    let message = take_one(&interface).await;

    interface.park(&message, "not a store status").await.unwrap();

    assert_eq!((interface.status_count(), interface.poison_count()), (0, 1));
    let parked = interface.poison().remove(0);
    assert_eq!(parked.message_id, message.message_id);
    assert_eq!(parked.reason.as_deref(), Some("not a store status"));
    assert_eq!(parked.body, r#"{"backupRequestId":"r-9","resultTypeCode":"Maybe"}"#);
    assert_eq!(parked.backup_request_id.as_deref(), Some("r-9"));
    assert_eq!(parked.attempts, Some(1));
    assert!(parked.dead_lettered_at.is_some());
}

#[tokio::test]
async fn a_message_another_inbox_took_is_refused() {
    let interface = InMemoryInterface::new();
    interface.put_status(failed_status("r-1"));
    let foreign = InboxMessage::read("status-1".into(), 1, failed_status("r-1"), InboxReceipt::new(7_u8));

    assert!(interface.delete(&foreign).await.is_err());
    assert!(interface.park(&foreign, "why").await.is_err());
    assert_eq!((interface.status_count(), interface.poison_count()), (1, 0));
}

#[tokio::test]
async fn operators_list_replay_and_purge_the_poison_queue() {
    let interface = InMemoryInterface::new();
    let poison = interface.poison_letters();
    for text in ["one", "two", "three"] {
        interface.put_status(text);
    }
    for message in interface.receive(32, VISIBILITY).await.unwrap() {
        interface.park(&message, "not a store status").await.unwrap();
    }
    assert_eq!(poison.count().await.unwrap(), 3);
    let listed = poison.list(2).await.unwrap();
    assert_eq!(listed.iter().map(|letter| letter.body.as_str()).collect::<Vec<_>>(), ["one", "two"]);
    assert_eq!(poison.count().await.unwrap(), 3, "listing leaves them parked");

    assert_eq!(poison.replay(Some(&listed[1].message_id)).await.unwrap().count, 1);
    assert_eq!(poison.replay(Some("no-such-message")).await.unwrap().count, 0);
    let replayed = take_one(&interface).await;
    assert_eq!(replayed.status.unwrap_err().text, "two");
    assert_eq!(replayed.times_taken, 1, "back as a first attempt");

    assert_eq!(poison.purge().await.unwrap().count, 2);
    assert_eq!(poison.count().await.unwrap(), 0);
}

#[tokio::test]
async fn replaying_every_parked_status_puts_each_back_on_the_status_queue() {
    let interface = InMemoryInterface::new();
    let poison = interface.poison_letters();
    for text in ["one", "two"] {
        interface.put_status(text);
    }
    for message in interface.receive(32, VISIBILITY).await.unwrap() {
        interface.park(&message, "why").await.unwrap();
    }

    assert_eq!(poison.replay(None).await.unwrap().count, 2);

    assert_eq!((interface.status_count(), interface.poison_count()), (2, 0));
}
