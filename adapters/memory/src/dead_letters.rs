//! The in-memory bus's dead-letter queues, operated as the broker's are
//! (`DeadLetters`): listed, replayed onto their work queue with the attempt
//! count reset, purged. Each parked message keeps its reason, attempts and
//! the moment it was parked.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use linebacker_domain::dead_letter::{Affected, DeadLetter, DeadLetters};
use linebacker_domain::ports::WorkQueue;
use linebacker_domain::{DomainError, DomainEvent};

use crate::{Pending, Shared};

/// A message parked on a work queue's dead-letter queue.
#[derive(Debug, Clone)]
pub(crate) struct Parked {
    pub(crate) event: DomainEvent,
    pub(crate) reason: String,
    pub(crate) attempts: u32,
    pub(crate) at: DateTime<Utc>,
}

impl Parked {
    fn listed(&self) -> DeadLetter {
        DeadLetter {
            message_id: self.event.message_id.to_string(),
            backup_request_id: Some(self.event.backup_request_id.to_string()),
            reason: Some(self.reason.clone()),
            last_error: Some(self.reason.clone()),
            attempts: Some(self.attempts),
            dead_lettered_at: Some(self.at.to_rfc3339()),
            body: String::from_utf8_lossy(&self.event.to_json()).into_owned(),
        }
    }
}

/// The dead-letter queue of one work queue of an `InMemoryBus`.
pub struct MemoryDeadLetters {
    pub(crate) shared: Arc<Shared>,
    pub(crate) queue: WorkQueue,
}

#[async_trait]
impl DeadLetters for MemoryDeadLetters {
    async fn count(&self) -> Result<u64, DomainError> {
        let state = self.shared.state();
        Ok(state.queues.get(&self.queue).map_or(0, |queue| queue.dead.len() as u64))
    }

    async fn list(&self, limit: usize) -> Result<Vec<DeadLetter>, DomainError> {
        let state = self.shared.state();
        let parked = state.queues.get(&self.queue).map(|queue| queue.dead.as_slice()).unwrap_or_default();
        Ok(parked.iter().take(limit).map(Parked::listed).collect())
    }

    async fn replay(&self, message_id: Option<&str>) -> Result<Affected, DomainError> {
        let replayed: Vec<Parked> = {
            let mut state = self.shared.state();
            let Some(queue) = state.queues.get_mut(&self.queue) else { return Ok(Affected { count: 0 }) };
            let (chosen, kept) = std::mem::take(&mut queue.dead)
                .into_iter()
                .partition(|parked| message_id.is_none_or(|id| parked.event.message_id.to_string() == id));
            queue.dead = kept;
            chosen
        };
        let count = replayed.len() as u64;
        for parked in replayed {
            self.shared.enqueue(self.queue, Pending { event: parked.event, attempt: 1 });
        }
        Ok(Affected { count })
    }

    async fn purge(&self) -> Result<Affected, DomainError> {
        let mut state = self.shared.state();
        let purged = state.queues.get_mut(&self.queue).map_or(0, |queue| std::mem::take(&mut queue.dead).len());
        Ok(Affected { count: purged as u64 })
    }
}
