//! Operating `store-statuses-poison`, the parking queue of status messages
//! that could not be forwarded: list, replay, purge.
//!
//! Listing is read-only: it peeks, which neither hides a message nor counts
//! as a dequeue, so a replay right after a listing finds what it showed. A
//! peek reaches only the front of the queue (`MAX_MESSAGES_PER_GET`
//! messages); a listing that asks for more of a queue that holds more takes
//! the messages for a short visibility timeout ([`SCAN_VISIBILITY`]) and
//! gives each back as soon as it has read them all. Replay by id takes
//! messages the same way until it meets the one asked for, and gives back
//! the rest. Replay puts the original status text back on `store-statuses`,
//! then deletes the parked message: a failure in between leaves it both
//! replayed and parked (receive-status is idempotent), never lost.

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use linebacker_domain::DomainError;
use linebacker_domain::dead_letter::{Affected, DeadLetter, DeadLetters};
use serde::Deserialize;

use crate::{MAX_MESSAGES_PER_GET, QueueClient, QueueMessage};

/// How long a message taken to be read stays hidden if giving it back
/// fails (a crash, the queue service going away meanwhile).
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

    /// Takes messages, front first and each once, into `taken` until
    /// `enough` holds or the queue has shown them all. The caller gives
    /// back what it does not delete, also when this fails half-way.
    async fn take_until(
        &self,
        taken: &mut Vec<QueueMessage>,
        enough: impl Fn(&[QueueMessage]) -> bool,
    ) -> Result<(), DomainError> {
        let mut seen = HashSet::new();
        while !enough(taken) {
            let batch = self.poison.get(MAX_MESSAGES_PER_GET, SCAN_VISIBILITY).await?;
            let before = taken.len();
            taken.extend(batch.into_iter().filter(|message| seen.insert(message.message_id.clone())));
            if taken.len() == before {
                break;
            }
        }
        Ok(())
    }

    /// Makes `messages` visible again; one that cannot be given back now
    /// reappears once its `SCAN_VISIBILITY` ends.
    async fn give_back(&self, messages: &[QueueMessage]) {
        for message in messages {
            if let Err(error) = self.poison.release(message).await {
                tracing::warn!(error = %error, message_id = %message.message_id, "parked status stays hidden for a few seconds");
            }
        }
    }

    /// Puts the original status back on the status queue, then deletes the
    /// parked message.
    async fn replay_one(&self, message: &QueueMessage) -> Result<(), DomainError> {
        self.statuses.put(&original_text(&message.text)).await?;
        self.poison.delete(message).await
    }

    /// Replays every parked message, batch by batch.
    async fn replay_all(&self) -> Result<Affected, DomainError> {
        let (mut replayed, mut seen) = (0, HashSet::new());
        loop {
            let batch = self.poison.get(MAX_MESSAGES_PER_GET, SCAN_VISIBILITY).await?;
            let fresh: Vec<QueueMessage> =
                batch.into_iter().filter(|message| seen.insert(message.message_id.clone())).collect();
            if fresh.is_empty() {
                break;
            }
            for message in &fresh {
                self.replay_one(message).await?;
                replayed += 1;
            }
        }
        tracing::info!(replayed, "parked status messages replayed");
        Ok(Affected { count: replayed })
    }
}

/// The status message as the BZI sent it: the parked envelope's
/// `messageText`, or the whole text when it is not such an envelope.
fn original_text(parked: &str) -> String {
    serde_json::from_str::<Parked>(parked).map_or_else(|_| parked.to_owned(), |parked| parked.message_text)
}

fn inspect(message_id: &str, parked_text: &str) -> DeadLetter {
    let parked = serde_json::from_str::<Parked>(parked_text).ok();
    let text = parked.as_ref().map_or(parked_text, |parked| parked.message_text.as_str());
    DeadLetter {
        message_id: message_id.to_owned(),
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
        if limit == 0 {
            return Ok(Vec::new());
        }
        let peek_max = MAX_MESSAGES_PER_GET as usize;
        let head = self.poison.peek(limit.min(peek_max) as u32).await?;
        if limit <= peek_max || head.len() < peek_max {
            return Ok(head.iter().map(|message| inspect(&message.message_id, &message.text)).collect());
        }
        let mut taken = Vec::new();
        let outcome = self.take_until(&mut taken, |taken| taken.len() >= limit).await;
        self.give_back(&taken).await;
        outcome?;
        Ok(taken.iter().take(limit).map(|message| inspect(&message.message_id, &message.text)).collect())
    }

    #[tracing::instrument(skip(self), fields(queue = self.poison.name()))]
    async fn replay(&self, message_id: Option<&str>) -> Result<Affected, DomainError> {
        let Some(id) = message_id else {
            return self.replay_all().await;
        };
        let mut taken = Vec::new();
        let outcome = self.take_until(&mut taken, |taken| taken.iter().any(|message| message.message_id == id)).await;
        let position = taken.iter().position(|message| message.message_id == id);
        let wanted = position.map(|position| taken.remove(position));
        self.give_back(&taken).await;
        outcome?;
        let Some(message) = wanted else {
            return Ok(Affected { count: 0 });
        };
        self.replay_one(&message).await?;
        tracing::info!(message_id = id, "parked status message replayed");
        Ok(Affected { count: 1 })
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

    #[test]
    fn a_parked_status_shows_its_reason_request_and_original_text() {
        let parked = r#"{"reason":"not JSON","parkedAt":"2026-01-01T00:00:00Z","messageId":"x","dequeueCount":5,"messageText":"{\"backupRequestId\":\"r-1\"}"}"#;
        let item = inspect("m-1", parked);
        assert_eq!(item.reason.as_deref(), Some("not JSON"));
        assert_eq!(item.backup_request_id.as_deref(), Some("r-1"));
        assert_eq!(item.attempts, Some(5));
        assert_eq!(item.body, r#"{"backupRequestId":"r-1"}"#);
        assert_eq!(original_text(parked), r#"{"backupRequestId":"r-1"}"#);
    }

    #[test]
    fn a_message_that_is_not_a_parked_envelope_is_shown_and_replayed_as_it_is() {
        let item = inspect("m-1", "garbage");
        assert_eq!((item.reason, item.backup_request_id, item.body.as_str()), (None, None, "garbage"));
        assert_eq!(original_text("garbage"), "garbage");
    }
}
