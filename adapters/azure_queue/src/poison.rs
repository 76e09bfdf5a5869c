//! Operating `store-statuses-poison`, the parking queue of status messages
//! that could not be forwarded: list, replay, purge.
//!
//! The queue service has no "take and give back": reading hides a message
//! for a visibility timeout. Listing and replay read with a short one
//! ([`SCAN_VISIBILITY`]), so what a listing looked at is visible again a few
//! seconds later (and invisible to a second listing until then), and stop
//! once the queue is empty or shows only messages seen already. Replay puts the
//! original status text back on `store-statuses`, then deletes the parked
//! message: a failure in between leaves it both replayed and parked
//! (receive-status is idempotent), never lost.

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use linebacker_domain::DomainError;
use linebacker_domain::dead_letter::{Affected, DeadLetter, DeadLetters};
use serde::Deserialize;

use crate::{MAX_MESSAGES_PER_GET, QueueClient, QueueMessage};

/// How long a message an operator read stays hidden from other readers.
pub const SCAN_VISIBILITY: Duration = Duration::from_secs(5);

/// The parked messages and the queue they are replayed to.
#[derive(Debug, Clone)]
pub struct AzurePoisonLetters {
    poison: QueueClient,
    statuses: QueueClient,
}

/// A parked message as `AzureStatusInbox::park` writes it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Parked {
    reason: Option<String>,
    parked_at: Option<String>,
    dequeue_count: Option<u32>,
    message_text: String,
}

impl AzurePoisonLetters {
    pub fn new(poison: QueueClient, statuses: QueueClient) -> Self {
        Self { poison, statuses }
    }

    /// The next messages not `seen` before, each hidden for
    /// `SCAN_VISIBILITY`; none once the queue is empty or comes round again.
    async fn next_unseen(&self, seen: &mut HashSet<String>) -> Result<Vec<QueueMessage>, DomainError> {
        let batch = self.poison.get(MAX_MESSAGES_PER_GET, SCAN_VISIBILITY).await?;
        Ok(batch.into_iter().filter(|message| seen.insert(message.message_id.clone())).collect())
    }
}

/// The status message as the BZI sent it: the parked envelope's
/// `messageText`, or the whole text when it is not such an envelope.
fn original_text(parked: &str) -> String {
    serde_json::from_str::<Parked>(parked).map_or_else(|_| parked.to_owned(), |parked| parked.message_text)
}

fn inspect(message: &QueueMessage) -> DeadLetter {
    let parked = serde_json::from_str::<Parked>(&message.text).ok();
    let text = parked.as_ref().map_or(message.text.as_str(), |parked| parked.message_text.as_str());
    DeadLetter {
        message_id: message.message_id.clone(),
        backup_request_id: DeadLetter::request_id_in(text),
        reason: parked.as_ref().and_then(|parked| parked.reason.clone()),
        last_error: None,
        attempts: parked.as_ref().and_then(|parked| parked.dequeue_count),
        dead_lettered_at: parked.as_ref().and_then(|parked| parked.parked_at.clone()),
        body: text.to_owned(),
    }
}

#[async_trait]
impl DeadLetters for AzurePoisonLetters {
    async fn count(&self) -> Result<u64, DomainError> {
        self.poison.approximate_count().await
    }

    async fn list(&self, limit: usize) -> Result<Vec<DeadLetter>, DomainError> {
        let (mut items, mut seen) = (Vec::new(), HashSet::new());
        while items.len() < limit {
            let batch = self.next_unseen(&mut seen).await?;
            if batch.is_empty() {
                break;
            }
            items.extend(batch.iter().take(limit - items.len()).map(inspect));
        }
        Ok(items)
    }

    #[tracing::instrument(skip(self), fields(queue = self.poison.name()))]
    async fn replay(&self, message_id: Option<&str>) -> Result<Affected, DomainError> {
        let (mut replayed, mut seen) = (0, HashSet::new());
        'scan: loop {
            let batch = self.next_unseen(&mut seen).await?;
            if batch.is_empty() {
                break;
            }
            for message in batch.iter().filter(|m| message_id.is_none_or(|id| id == m.message_id)) {
                self.statuses.put(&original_text(&message.text)).await?;
                self.poison.delete(message).await?;
                replayed += 1;
                if message_id.is_some() {
                    break 'scan;
                }
            }
        }
        tracing::info!(replayed, "parked status messages replayed");
        Ok(Affected { count: replayed })
    }

    #[tracing::instrument(skip(self), fields(queue = self.poison.name()))]
    async fn purge(&self) -> Result<Affected, DomainError> {
        let count = self.poison.approximate_count().await?;
        self.poison.clear().await?;
        tracing::warn!(count, "parked status messages purged");
        Ok(Affected { count })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn message(text: &str) -> QueueMessage {
        QueueMessage { message_id: "m-1".into(), pop_receipt: "p".into(), dequeue_count: 1, text: text.into() }
    }

    #[test]
    fn a_parked_status_shows_its_reason_request_and_original_text() {
        let parked = r#"{"reason":"not JSON","parkedAt":"2026-01-01T00:00:00Z","messageId":"x","dequeueCount":5,"messageText":"{\"backupRequestId\":\"r-1\"}"}"#;
        let item = inspect(&message(parked));
        assert_eq!(item.reason.as_deref(), Some("not JSON"));
        assert_eq!(item.backup_request_id.as_deref(), Some("r-1"));
        assert_eq!(item.attempts, Some(5));
        assert_eq!(item.body, r#"{"backupRequestId":"r-1"}"#);
        assert_eq!(original_text(parked), r#"{"backupRequestId":"r-1"}"#);
    }

    #[test]
    fn a_message_that_is_not_a_parked_envelope_is_shown_and_replayed_as_it_is() {
        let item = inspect(&message("garbage"));
        assert_eq!((item.reason, item.backup_request_id, item.body.as_str()), (None, None, "garbage"));
        assert_eq!(original_text("garbage"), "garbage");
    }
}
