//! `azure_queue.message_encoding = base64` against a real Azurite: requests
//! go out as base64 of their JSON, statuses come in decoded, and a status
//! that is not valid base64 is parked with that reason instead of reaching
//! the listener; parked messages keep the text the queue held.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use linebacker_azure_queue::testing::unique_queue_name;
use linebacker_azure_queue::{AzureBackupInterface, AzureStatusInbox, MessageEncoding, QueueServiceConfig};
use linebacker_domain::ports::{BackupInterface, StatusInbox};
use serde_json::Value;
use support::{azurite, delete_inbox, get_within, interface_request};

async fn base64_config() -> QueueServiceConfig {
    QueueServiceConfig { message_encoding: MessageEncoding::Base64, ..azurite().await }
}

#[tokio::test]
async fn a_request_goes_out_as_base64_of_its_json() {
    let interface = AzureBackupInterface::new(&base64_config().await, &unique_queue_name("requests")).unwrap();
    interface.queue().create_if_missing().await.unwrap();
    let request = interface_request("r-64", "/prepared/Zürich & <more>");
    interface.send(&request).await.unwrap();

    let raw = get_within(interface.queue(), Duration::from_secs(5)).await.remove(0).text;
    let sent: Value = serde_json::from_slice(&BASE64.decode(&raw).unwrap()).unwrap();
    assert_eq!(sent["backupRequestId"], "r-64");
    assert_eq!(sent["preparedDataPathName"], "/prepared/Zürich & <more>");
    interface.queue().delete_queue().await.unwrap();
}

#[tokio::test]
async fn statuses_come_in_decoded_and_text_that_is_not_base64_is_parked_with_the_reason() {
    let config = base64_config().await;
    let inbox = AzureStatusInbox::new(&config, &unique_queue_name("statuses"), &unique_queue_name("poison")).unwrap();
    inbox.create_queues_if_missing().await.unwrap();
    let status = r#"{"apiVersion":"2022-05-22","backupRequestId":"r-64"}"#;
    inbox.statuses().put(&BASE64.encode(status)).await.unwrap();
    inbox.statuses().put(status).await.unwrap();

    let mut received = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    // Counts include the taken message: done once only it is left.
    while received.is_empty() || inbox.poison().approximate_count().await.unwrap() == 0 {
        received.extend(inbox.receive(32, Duration::from_secs(30)).await.unwrap());
        assert!(tokio::time::Instant::now() < deadline, "received {received:?}");
    }
    assert_eq!(received.len(), 1, "only the valid message is handed out: {received:?}");
    assert_eq!(received[0].status.as_ref().map_err(|unreadable| unreadable.text.as_str()), Err(status));

    let parked = get_within(inbox.poison(), Duration::from_secs(5)).await;
    let parked: Value = serde_json::from_str(&parked[0].text).unwrap();
    assert!(parked["reason"].as_str().unwrap().contains("not valid base64"), "{parked}");
    assert_eq!(parked["messageText"], status);

    // A readable status parked later keeps the text the queue held.
    inbox.park(&received[0], "unknown request").await.unwrap();
    let parked: Vec<Value> = inbox
        .poison()
        .get(32, Duration::from_secs(30))
        .await
        .unwrap()
        .iter()
        .map(|message| serde_json::from_str(&message.text).unwrap())
        .collect();
    assert!(parked.iter().any(|p| p["messageText"] == BASE64.encode(status)), "{parked:?}");
    delete_inbox(inbox).await;
}
