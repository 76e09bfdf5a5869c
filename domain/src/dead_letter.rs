//! Dead-letter operations: the queues where messages that could not be
//! handled are parked, and what an operator can do with them (list, inspect,
//! replay, purge). The broker and the BZI's queue service each implement
//! [`DeadLetters`] for their parking queues.

use async_trait::async_trait;

use crate::error::DomainError;
use crate::ports::WorkQueue;

/// A queue of parked messages, named as operators name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeadLetterQueue {
    /// `<name>.dead` of a work queue.
    Work(WorkQueue),
    /// `store-statuses-poison`: status messages of the BZI that could not be
    /// forwarded.
    StatusPoison,
}

impl DeadLetterQueue {
    pub const ALL: &'static [DeadLetterQueue] = &[
        Self::Work(WorkQueue::CheckAllowed),
        Self::Work(WorkQueue::SendToInterface),
        Self::Work(WorkQueue::ReceiveStatus),
        Self::StatusPoison,
    ];

    /// `check-allowed`, `send-to-interface`, `receive-status` or
    /// `store-statuses-poison`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Work(queue) => queue.name(),
            Self::StatusPoison => "store-statuses-poison",
        }
    }

    /// The queue called `name`, or `None`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|queue| queue.name() == name)
    }
}

/// One parked message, as an operator inspects it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The id to replay it by: the event's `messageId`, or the queue
    /// service's message id for a parked status message.
    pub message_id: String,
    pub backup_request_id: Option<String>,
    /// Why it was parked.
    pub reason: Option<String>,
    /// The failure of the attempt before the last, when it was retried.
    pub last_error: Option<String>,
    /// How often it was tried before it was parked.
    pub attempts: Option<u32>,
    /// RFC 3339.
    pub dead_lettered_at: Option<String>,
    /// The message itself (UTF-8, lossy), so the cause can be read off it.
    pub body: String,
}

impl DeadLetter {
    /// The `backupRequestId` a parked status text names, when it is JSON
    /// that names one: also a status that could not be read may say which
    /// request it is about.
    pub fn request_id_in(text: &str) -> Option<String> {
        let status: serde_json::Value = serde_json::from_str(text).ok()?;
        status.get("backupRequestId")?.as_str().map(str::to_owned)
    }
}

/// What a replay or a purge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Affected {
    pub count: u64,
}

/// The parked messages of one queue.
#[async_trait]
pub trait DeadLetters: Send + Sync {
    /// How many messages are parked.
    async fn count(&self) -> Result<u64, DomainError>;

    /// Up to `limit` parked messages, oldest first. MUST leave every one of
    /// them parked.
    async fn list(&self, limit: usize) -> Result<Vec<DeadLetter>, DomainError>;

    /// Puts the parked message `message_id` (every parked message when
    /// `None`) back where it is processed again, as a first attempt, and
    /// only then removes it from the parking queue: a failure in between
    /// may leave it both replayed and parked, never lost. A `message_id`
    /// that names no parked message replays nothing (a count of 0).
    async fn replay(&self, message_id: Option<&str>) -> Result<Affected, DomainError>;

    /// Deletes every parked message.
    async fn purge(&self) -> Result<Affected, DomainError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_queue_parses_back_from_its_name() {
        for queue in DeadLetterQueue::ALL {
            assert_eq!(DeadLetterQueue::parse(queue.name()), Some(*queue));
        }
        assert_eq!(DeadLetterQueue::parse("check-allowed.dead"), None);
    }

    #[test]
    fn a_parked_text_names_its_request_when_it_is_json_that_does() {
        assert_eq!(DeadLetter::request_id_in(r#"{"backupRequestId":"r-1","x":1}"#).as_deref(), Some("r-1"));
        for nameless in ["garbage", r#"{"backupRequestId":7}"#, "{}", r#"{"backupRequestId":"r-1""#] {
            assert_eq!(DeadLetter::request_id_in(nameless), None, "{nameless}");
        }
    }
}
