//! Operating the poison queue against a real Azurite: parked status messages
//! are listed with their reason, replayed to the status queue as the BZI
//! sent them, and purged.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use linebacker_azure_queue::{AzurePoisonLetters, AzureStatusInbox};
use linebacker_domain::dead_letter::DeadLetters;
use linebacker_domain::ports::StatusInbox;
use support::{delete_inbox, fresh_inbox, get_within, receive_within};

/// Puts `texts` on the status queue and parks each of them with a reason.
async fn park(inbox: &AzureStatusInbox, texts: &[&str]) {
    for text in texts {
        inbox.statuses().put(text).await.unwrap();
    }
    let taken = receive_within(inbox, texts.len(), Duration::from_secs(5)).await;
    assert_eq!(taken.len(), texts.len());
    for message in &taken {
        inbox.park(message, "the status is not JSON").await.unwrap();
    }
}

#[tokio::test]
async fn parked_statuses_are_listed_then_one_is_replayed_as_sent_and_the_rest_purged() {
    let inbox = fresh_inbox().await;
    let letters = AzurePoisonLetters::new(inbox.poison().clone(), inbox.statuses().clone());
    park(&inbox, &[r#"{"backupRequestId":"r-1""#, "garbage"]).await;

    let listed = letters.list(10).await.unwrap();
    assert_eq!(listed.len(), 2, "{listed:#?}");
    assert!(listed.iter().all(|item| item.reason.as_deref() == Some("the status is not JSON")));
    let first = listed.iter().find(|item| item.body == r#"{"backupRequestId":"r-1""#).unwrap();

    // Listing hid them for a moment only; replay finds them again.
    tokio::time::sleep(linebacker_azure_queue::SCAN_VISIBILITY + Duration::from_millis(500)).await;
    assert_eq!(letters.replay(Some(&first.message_id)).await.unwrap().count, 1);
    let replayed = get_within(inbox.statuses(), Duration::from_secs(5)).await;
    assert_eq!(replayed.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(), [r#"{"backupRequestId":"r-1""#]);

    assert_eq!(letters.purge().await.unwrap().count, 1);
    assert!(letters.list(10).await.unwrap().is_empty());
    delete_inbox(inbox).await;
}

#[tokio::test]
async fn a_status_near_64_kib_is_parked_as_a_truncated_copy_that_names_the_original() {
    let inbox = fresh_inbox().await;
    let letters = AzurePoisonLetters::new(inbox.poison().clone(), inbox.statuses().clone());
    // Fits on its own, but not inside the parking envelope: JSON doubles
    // every backslash, and the envelope adds its own fields.
    let original = format!("{{\"backupRequestId\":\"r-big\",\"messageText\":\"{}{}", "x".repeat(40_000), "\\".repeat(20_000));
    assert!(original.len() > 60_000 && original.len() < 64 * 1024);
    inbox.statuses().put(&original).await.unwrap();
    let taken = receive_within(&inbox, 1, Duration::from_secs(5)).await;
    assert_eq!(taken.len(), 1);
    inbox.park(&taken[0], "the status is not JSON").await.unwrap();

    let listed = letters.list(10).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:#?}");
    let parked = &listed[0];
    assert!(original.starts_with(&parked.body) && parked.body.len() < original.len() && parked.body.len() > 30_000);
    let reason = parked.reason.as_deref().unwrap();
    assert!(reason.starts_with("the status is not JSON"), "{reason}");
    assert!(reason.contains(&format!("({} bytes, sha256 ", original.len())), "{reason}");
    assert!(reason.contains(&format!("first {} bytes", parked.body.len())), "{reason}");
    let left = inbox.statuses().get(32, Duration::from_secs(1)).await.unwrap();
    assert!(left.is_empty(), "the original is gone from the inbox");
    delete_inbox(inbox).await;
}
