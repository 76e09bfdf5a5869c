//! The domain ports on Azure queues, against a real Azurite.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use linebacker_azure_queue::testing::unique_queue_name;
use linebacker_azure_queue::AzureBackupInterface;
use linebacker_domain::ports::{BackupInterface, StatusInbox};
use serde_json::{Value, json};
use support::{azurite, delete_inbox, fresh_inbox, get_within, interface_request};

#[tokio::test]
async fn the_backup_interface_puts_the_spec_json_on_the_request_queue() {
    let interface = AzureBackupInterface::new(&azurite().await, &unique_queue_name("requests")).unwrap();
    interface.queue().create_if_missing().await.unwrap();
    let request = interface_request("r-1", "/prepared/job-17/2022-05-30 & <more>");
    interface.send(&request).await.unwrap();

    let messages = get_within(interface.queue(), Duration::from_secs(5)).await;
    let sent: Value = serde_json::from_str(&messages[0].text).unwrap();
    assert_eq!(
        sent,
        json!({
            "apiVersion": "2022-05-22",
            "backupRequestId": "r-1",
            "backupJobId": "job-17",
            "dataDate": "2022-05-30",
            "preparedDataPathName": "/prepared/job-17/2022-05-30 & <more>",
            "backupProviderCode": "CloudA",
            "storagePathName": "/store/job-17",
        })
    );
    interface.queue().delete_queue().await.unwrap();
}

#[tokio::test]
async fn parking_moves_the_original_text_and_reason_to_the_poison_queue() {
    let inbox = fresh_inbox().await;
    let original = r#"{"not":"a status", "odd": "<&>"}"#;
    inbox.statuses().put(original).await.unwrap();

    let message = inbox.receive(1, Duration::from_secs(30)).await.unwrap().remove(0);
    inbox.park(&message, "not a store status: missing field `apiVersion`").await.unwrap();

    let parked = get_within(inbox.poison(), Duration::from_secs(5)).await;
    let parked: Value = serde_json::from_str(&parked[0].text).unwrap();
    assert_eq!(parked["reason"], "not a store status: missing field `apiVersion`");
    assert_eq!(parked["messageText"], original);
    assert_eq!(parked["messageId"], message.message_id.as_str());
    assert!(parked["parkedAt"].as_str().is_some_and(|at| at.ends_with('Z')), "{parked}");
    assert_eq!(inbox.statuses().approximate_count().await.unwrap(), 0, "removed from the status queue");

    inbox.delete(&message).await.unwrap();
    delete_inbox(inbox).await;
}

#[tokio::test]
async fn an_empty_inbox_receives_nothing() {
    let inbox = fresh_inbox().await;
    assert!(inbox.receive(32, Duration::from_secs(30)).await.unwrap().is_empty());
    delete_inbox(inbox).await;
}
