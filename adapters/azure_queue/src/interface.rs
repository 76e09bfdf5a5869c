//! The BZI's queues as linebacker sees them (SPEC §5): requests go to
//! `allowed-backup-requests`; statuses come from `store-statuses`, and the
//! ones that cannot be handled are parked on `store-statuses-poison`.

use std::time::Duration;

use anyhow::anyhow;
use async_trait::async_trait;
use sha2::Digest;
use linebacker_domain::DomainError;
use linebacker_domain::external::InterfaceRequest;
use linebacker_domain::ports::{BackupInterface, InboxMessage, InboxReceipt, StatusInbox};

use crate::{QueueClient, QueueMessage, QueueServiceConfig};

/// The BZI's request queue.
pub const REQUESTS_QUEUE: &str = "allowed-backup-requests";
/// The BZI's status queue.
pub const STATUSES_QUEUE: &str = "store-statuses";
/// Where status messages that cannot be handled are parked.
pub const POISON_QUEUE: &str = "store-statuses-poison";

/// Sends allowed requests to the BZI.
#[derive(Debug, Clone)]
pub struct AzureBackupInterface {
    requests: QueueClient,
}

impl AzureBackupInterface {
    /// The interface on `requests_queue` (normally [`REQUESTS_QUEUE`]).
    pub fn new(config: &QueueServiceConfig, requests_queue: &str) -> Result<Self, DomainError> {
        Ok(Self { requests: QueueClient::new(config, requests_queue)? })
    }

    pub fn queue(&self) -> &QueueClient {
        &self.requests
    }
}

#[async_trait]
impl BackupInterface for AzureBackupInterface {
    #[tracing::instrument(skip_all, fields(backup_request_id = %request.backup_request_id))]
    async fn send(&self, request: &InterfaceRequest) -> Result<(), DomainError> {
        let text = serde_json::to_string(request)
            .map_err(|e| DomainError::Unexpected(anyhow!("cannot serialize the interface request: {e}")))?;
        self.requests.put(&self.requests.encoding().encode(&text)).await
    }
}

/// Receives the BZI's statuses.
#[derive(Debug, Clone)]
pub struct AzureStatusInbox {
    statuses: QueueClient,
    poison: QueueClient,
}

impl AzureStatusInbox {
    /// The inbox on `statuses_queue` parking on `poison_queue` (normally
    /// [`STATUSES_QUEUE`] and [`POISON_QUEUE`]).
    pub fn new(config: &QueueServiceConfig, statuses_queue: &str, poison_queue: &str) -> Result<Self, DomainError> {
        Ok(Self { statuses: QueueClient::new(config, statuses_queue)?, poison: QueueClient::new(config, poison_queue)? })
    }

    pub fn statuses(&self) -> &QueueClient {
        &self.statuses
    }

    pub fn poison(&self) -> &QueueClient {
        &self.poison
    }

    /// Creates both queues when missing (a fresh Azurite has none).
    pub async fn create_queues_if_missing(&self) -> Result<(), DomainError> {
        self.statuses.create_if_missing().await?;
        self.poison.create_if_missing().await
    }
}

/// The most a queue message may take (Azure's limit, 64 KiB), counted as
/// its escaped text so that the put is accepted whatever the service counts.
const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// What a parked message becomes: the original text with why and when it
/// was parked, so an operator can read it and replay it. A message too large
/// to park whole with that envelope keeps as much of its start as fits, and
/// the reason says so, with the original's size and SHA-256.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Parked<'a> {
    reason: &'a str,
    parked_at: chrono::DateTime<chrono::Utc>,
    message_id: &'a str,
    dequeue_count: u32,
    message_text: &'a str,
}

/// The parked envelope of `message`, within `MAX_MESSAGE_BYTES`.
fn parked_text(message: &QueueMessage, reason: &str) -> Result<String, DomainError> {
    let parked_at = chrono::Utc::now();
    let envelope = |reason: &str, text: &str| {
        serde_json::to_string(&Parked {
            reason,
            parked_at,
            message_id: &message.message_id,
            dequeue_count: message.dequeue_count,
            message_text: text,
        })
        .map_err(|e| DomainError::Unexpected(anyhow!("cannot serialize the parked message: {e}")))
    };
    let fits = |text: &str| crate::xml::escaped_len(text) <= MAX_MESSAGE_BYTES;
    let whole = envelope(reason, &message.text)?;
    if fits(&whole) {
        return Ok(whole);
    }
    let original = message.text.as_str();
    let digest = sha2::Sha256::digest(original.as_bytes());
    let digest: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    let truncated_reason = |kept: usize| {
        format!(
            "{reason}; the message ({} bytes, sha256 {digest}) was too large to park whole: \
             messageText holds its first {kept} bytes",
            original.len()
        )
    };
    // The longest prefix (on a character boundary) whose envelope fits.
    let (mut fitting, mut too_long) = (0, original.len());
    while too_long - fitting > 1 {
        let middle = floor_char_boundary(original, (fitting + too_long) / 2);
        if middle <= fitting {
            break;
        }
        if fits(&envelope(&truncated_reason(middle), &original[..middle])?) {
            fitting = middle;
        } else {
            too_long = middle;
        }
    }
    envelope(&truncated_reason(fitting), &original[..fitting])
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while index > 0 && !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

#[async_trait]
impl StatusInbox for AzureStatusInbox {
    /// Decodes and reads each message; one that is not valid in the
    /// configured encoding is parked with that reason and not handed out.
    async fn receive(&self, max: u32, visibility_timeout: Duration) -> Result<Vec<InboxMessage>, DomainError> {
        let encoding = self.statuses.encoding();
        let mut readable = Vec::new();
        for message in self.statuses.get(max, visibility_timeout).await? {
            match encoding.decode(&message.text) {
                Ok(text) => readable.push(InboxMessage::read(
                    message.message_id.clone(),
                    message.dequeue_count,
                    text,
                    InboxReceipt::new(message),
                )),
                Err(reason) => self.park_as_taken(&message, &reason).await?,
            }
        }
        Ok(readable)
    }

    async fn delete(&self, message: &InboxMessage) -> Result<(), DomainError> {
        self.statuses.delete(taken(message)?).await
    }

    /// Puts first, deletes second (a message too large to park whole is
    /// parked truncated, see `parked_text`): a failure in between leaves the message
    /// both parked and in the inbox (seen again, parked again), never lost.
    #[tracing::instrument(skip_all, fields(message_id = %message.message_id))]
    async fn park(&self, message: &InboxMessage, reason: &str) -> Result<(), DomainError> {
        // Parked as it was on the queue, so that a replay puts it back as is.
        self.park_as_taken(taken(message)?, reason).await
    }
}

/// The queue's message behind `message`, as this inbox took it.
fn taken(message: &InboxMessage) -> Result<&QueueMessage, DomainError> {
    message.receipt.get::<QueueMessage>().ok_or_else(|| {
        DomainError::Unexpected(anyhow!("message {} was not taken from an Azure queue", message.message_id))
    })
}

impl AzureStatusInbox {
    /// Parks `message` whose text is as the queue holds it.
    async fn park_as_taken(&self, message: &QueueMessage, reason: &str) -> Result<(), DomainError> {
        let text = parked_text(message, reason)?;
        self.poison.put(&text).await?;
        tracing::warn!(reason, poison_queue = self.poison.name(), "status message parked");
        self.statuses.delete(message).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn queue_message(text: &str) -> QueueMessage {
        QueueMessage { message_id: "m-1".into(), pop_receipt: "p".into(), dequeue_count: 3, text: text.into() }
    }

    #[test]
    fn a_message_this_inbox_took_keeps_the_queues_message_behind_it() {
        let on_queue = queue_message("eyJub3QiOiJqc29uIn0=");
        let message = InboxMessage::read("m-1".into(), 3, "{\"not\":\"json\"}".into(), InboxReceipt::new(on_queue.clone()));
        assert_eq!(taken(&message).unwrap(), &on_queue);
        assert_eq!(message.times_taken, 3);
        assert!(message.status.is_err());
    }

    #[test]
    fn a_message_another_inbox_took_is_refused_not_deleted_by_guesswork() {
        let message = InboxMessage::read("m-1".into(), 1, String::new(), InboxReceipt::new("another inbox's"));
        let error = taken(&message).unwrap_err();
        assert!(matches!(&error, DomainError::Unexpected(_)) && error.to_string().contains("m-1"), "{error}");
    }

    #[test]
    fn a_parked_message_keeps_its_text_as_the_queue_held_it() {
        let text = parked_text(&queue_message("eyJ4Ijox"), "unknown request").unwrap();
        let parked: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!((parked["messageText"].as_str(), parked["dequeueCount"].as_u64()), (Some("eyJ4Ijox"), Some(3)));
        assert_eq!(parked["reason"], "unknown request");
    }
}
