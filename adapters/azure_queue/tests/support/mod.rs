//! Queues of each test's own on the local Azurite.
#![allow(dead_code)] // each test file uses a different part of this module
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use linebacker_azure_queue::testing::{require_azurite, unique_queue_name};
use linebacker_azure_queue::{AzureStatusInbox, QueueClient, QueueServiceConfig};

/// The Azurite account; panics with what to start when Azurite is down.
pub async fn azurite() -> QueueServiceConfig {
    require_azurite().await.unwrap_or_else(|reason| panic!("{reason}"))
}

/// A new, empty queue named `<prefix>-<random>`.
pub async fn fresh_queue(prefix: &str) -> QueueClient {
    let client = QueueClient::new(&azurite().await, &unique_queue_name(prefix)).unwrap();
    client.create_if_missing().await.unwrap();
    client
}

/// Gets messages until at least one arrives, or fails after `timeout`.
pub async fn get_within(queue: &QueueClient, timeout: Duration) -> Vec<linebacker_azure_queue::QueueMessage> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let messages = queue.get(32, Duration::from_secs(30)).await.unwrap();
        if !messages.is_empty() {
            return messages;
        }
        assert!(tokio::time::Instant::now() < deadline, "no message on {} within {timeout:?}", queue.name());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Receives from `inbox` until `count` messages were taken, or fails after
/// `timeout`.
pub async fn receive_within(
    inbox: &AzureStatusInbox,
    count: usize,
    timeout: Duration,
) -> Vec<linebacker_domain::ports::InboxMessage> {
    use linebacker_domain::ports::StatusInbox;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut taken = Vec::new();
    while taken.len() < count {
        taken.extend(inbox.receive(32, Duration::from_secs(30)).await.unwrap());
        assert!(tokio::time::Instant::now() < deadline, "took {} of {count} messages within {timeout:?}", taken.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    taken
}

/// A status inbox on new status and poison queues of its own.
pub async fn fresh_inbox() -> AzureStatusInbox {
    let inbox =
        AzureStatusInbox::new(&azurite().await, &unique_queue_name("statuses"), &unique_queue_name("poison")).unwrap();
    inbox.create_queues_if_missing().await.unwrap();
    inbox
}

pub async fn delete_inbox(inbox: AzureStatusInbox) {
    inbox.statuses().delete_queue().await.unwrap();
    inbox.poison().delete_queue().await.unwrap();
}

/// An allowed request for the interface, with `id` and a prepared path of
/// characters XML and JSON both treat specially.
pub fn interface_request(id: &str, prepared_path: &str) -> linebacker_domain::external::InterfaceRequest {
    use linebacker_domain::{BackupJobId, BackupProviderCode, BackupRequestId, DataDate, PreparedDataPathName};
    linebacker_domain::external::InterfaceRequest {
        api_version: linebacker_domain::external::API_VERSION.to_owned(),
        backup_request_id: BackupRequestId::try_from(id).unwrap(),
        backup_job_id: BackupJobId::try_from("job-17").unwrap(),
        data_date: DataDate::try_from("2022-05-30").unwrap(),
        prepared_data_path_name: PreparedDataPathName::try_from(prepared_path).unwrap(),
        backup_provider_code: BackupProviderCode::CloudA,
        storage_path_name: "/store/job-17".to_owned(),
    }
}
