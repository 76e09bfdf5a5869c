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

    // Listing hid nothing: replay finds it at once.
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

/// Parks `count` statuses straight on the poison queue, as the inbox parks
/// them; returns their original texts in order.
async fn park_many(inbox: &AzureStatusInbox, count: usize) -> Vec<String> {
    let mut texts = Vec::new();
    for i in 0..count {
        let text = format!(r#"{{"backupRequestId":"r-{i:02}"}}"#);
        let parked = serde_json::json!({
            "reason": format!("reason {i}"), "parkedAt": "2026-01-01T00:00:00Z",
            "messageId": format!("m-{i}"), "dequeueCount": 1, "messageText": text,
        });
        inbox.poison().put(&parked.to_string()).await.unwrap();
        texts.push(text);
    }
    texts
}

#[tokio::test]
async fn thirty_parked_statuses_listed_a_hundred_times_stay_in_order_and_each_replays_by_id() {
    let inbox = fresh_inbox().await;
    let letters = AzurePoisonLetters::new(inbox.poison().clone(), inbox.statuses().clone());
    let texts = park_many(&inbox, 30).await;

    let first = letters.list(50).await.unwrap();
    assert_eq!(first.iter().map(|item| item.body.clone()).collect::<Vec<_>>(), texts);
    for round in 0..100 {
        let limit = if round % 2 == 0 { 50 } else { 10 };
        let listed = letters.list(limit).await.unwrap();
        assert_eq!(listed, first[..limit.min(30)], "listing {round} differs");
    }

    // From the back, so that each replay passes over every message before
    // it: what it passed over is visible again at once.
    for (done, item) in first.iter().rev().enumerate() {
        assert_eq!(letters.replay(Some(&item.message_id)).await.unwrap().count, 1, "{}", item.body);
        let left = letters.list(50).await.unwrap();
        assert_eq!(left.len(), 30 - done - 1, "after replaying {}", item.body);
    }
    let mut replayed = Vec::new();
    while replayed.len() < 30 {
        replayed.extend(get_within(inbox.statuses(), Duration::from_secs(5)).await.into_iter().map(|m| m.text));
    }
    replayed.sort();
    assert_eq!(replayed, texts);
    delete_inbox(inbox).await;
}

#[tokio::test]
async fn a_listing_deeper_than_one_peek_shows_every_message_and_gives_each_back_at_once() {
    let inbox = fresh_inbox().await;
    let letters = AzurePoisonLetters::new(inbox.poison().clone(), inbox.statuses().clone());
    let texts = park_many(&inbox, 40).await;

    let listed = letters.list(100).await.unwrap();
    let mut bodies: Vec<String> = listed.iter().map(|item| item.body.clone()).collect();
    bodies.sort();
    assert_eq!(bodies, texts);
    assert_eq!(letters.list(100).await.unwrap().len(), 40, "a second listing right after sees them all");
    let last = listed.iter().find(|item| item.body == texts[39]).unwrap();
    assert_eq!(letters.replay(Some(&last.message_id)).await.unwrap().count, 1);
    assert_eq!(letters.replay(Some("no-such-message")).await.unwrap().count, 0);
    assert_eq!(letters.list(100).await.unwrap().len(), 39);
    delete_inbox(inbox).await;
}
