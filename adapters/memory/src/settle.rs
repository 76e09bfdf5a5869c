//! Settling an in-memory delivery: the counterpart of a broker's
//! ack / delayed requeue / dead-lettering.

use std::sync::Arc;

use async_trait::async_trait;
use linebacker_domain::DomainError;
use linebacker_domain::backoff::retry_delay;
use linebacker_domain::ports::{Settle, WorkQueue};
use tokio::sync::OwnedSemaphorePermit;

use crate::{Pending, Shared};

pub(crate) struct MemorySettle {
    shared: Arc<Shared>,
    queue: WorkQueue,
    /// `None` once settled.
    pending: Option<Pending>,
    /// Holds one of the subscriber's `prefetch` slots until settled.
    slot: Option<OwnedSemaphorePermit>,
}

impl MemorySettle {
    pub(crate) fn new(shared: Arc<Shared>, queue: WorkQueue, pending: Pending, slot: OwnedSemaphorePermit) -> Self {
        Self { shared, queue, pending: Some(pending), slot: Some(slot) }
    }

    /// Takes the message out of this handle and frees the prefetch slot.
    fn settle(&mut self) -> Option<Pending> {
        self.slot.take();
        self.pending.take()
    }
}

#[async_trait]
impl Settle for MemorySettle {
    async fn ack(mut self: Box<Self>) -> Result<(), DomainError> {
        self.settle();
        Ok(())
    }

    async fn retry(mut self: Box<Self>, reason: &str) -> Result<(), DomainError> {
        let Some(mut pending) = self.settle() else { return Ok(()) };
        let delay = retry_delay(pending.attempt, &self.shared.retry, rand::random::<f64>());
        tracing::info!(
            queue = self.queue.name(),
            backup_request_id = %pending.event.backup_request_id,
            attempt = pending.attempt,
            reason,
            ?delay,
            "message will be retried"
        );
        pending.attempt += 1;
        let (shared, queue) = (self.shared.clone(), self.queue);
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            shared.enqueue(queue, pending);
        });
        Ok(())
    }

    async fn dead_letter(mut self: Box<Self>, reason: &str) -> Result<(), DomainError> {
        let Some(pending) = self.settle() else { return Ok(()) };
        tracing::warn!(
            queue = self.queue.name(),
            backup_request_id = %pending.event.backup_request_id,
            reason,
            "message dead-lettered"
        );
        self.shared.park(self.queue, pending.event, pending.attempt, reason);
        Ok(())
    }
}

/// A delivery dropped unsettled goes back to its queue at once, as a broker
/// returns the unacknowledged messages of a closed channel.
impl Drop for MemorySettle {
    fn drop(&mut self) {
        if let Some(mut pending) = self.settle() {
            pending.attempt += 1;
            self.shared.enqueue(self.queue, pending);
        }
    }
}
