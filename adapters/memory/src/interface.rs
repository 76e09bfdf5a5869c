//! An in-memory backup zone interface (BZI), for dev mode: the request queue
//! (`allowed-backup-requests`), the status queue (`store-statuses`) and its
//! poison queue, in this process. linebacker's side uses it through the
//! `BackupInterface` and `StatusInbox` ports, with the contract of the Azure
//! adapter: a taken status stays hidden for its visibility timeout and comes
//! back when it is neither deleted nor parked, counted each time it is
//! taken. The simulated BZI's side takes requests and puts status texts
//! (malformed ones too, to play a faulty BZI). Operators see the poison queue
//! through [`InMemoryStatusPoison`]. Nothing survives the process.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use anyhow::anyhow;
use async_trait::async_trait;
use linebacker_domain::DomainError;
use linebacker_domain::dead_letter::{Affected, DeadLetter, DeadLetters};
use linebacker_domain::external::InterfaceRequest;
use linebacker_domain::ports::{BackupInterface, InboxMessage, InboxReceipt, StatusInbox};
use linebacker_domain::request::now;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// A status message on the status queue.
struct Status {
    id: String,
    text: String,
    times_taken: u32,
    /// Hidden from readers until then.
    visible_at: Instant,
    /// Raised every time the message is taken: only the last taker's
    /// receipt deletes it, as only the last pop receipt does on Azure.
    lease: u64,
}

/// A status message on the poison queue.
#[derive(Clone)]
struct Parked {
    id: String,
    text: String,
    reason: String,
    times_taken: u32,
    /// RFC 3339.
    parked_at: String,
}

impl Parked {
    fn inspect(&self) -> DeadLetter {
        DeadLetter {
            message_id: self.id.clone(),
            backup_request_id: DeadLetter::request_id_in(&self.text),
            reason: Some(self.reason.clone()),
            last_error: None,
            attempts: Some(self.times_taken),
            dead_lettered_at: Some(self.parked_at.clone()),
            body: self.text.clone(),
        }
    }
}

/// What `receive` hands out with a message: which message, which take of
/// it, and its text for parking.
struct Lease {
    id: String,
    lease: u64,
    text: String,
}

#[derive(Default)]
struct State {
    requests: VecDeque<InterfaceRequest>,
    statuses: Vec<Status>,
    poison: Vec<Parked>,
    /// The last message id and lease given out.
    last_id: u64,
    last_lease: u64,
}

impl State {
    fn put_status(&mut self, text: String) {
        self.last_id += 1;
        let id = format!("status-{}", self.last_id);
        self.statuses.push(Status { id, text, times_taken: 0, visible_at: Instant::now(), lease: 0 });
    }

    /// Removes the message `lease` was given for, unless it was taken again
    /// since (or is gone already).
    fn remove(&mut self, lease: &Lease) {
        self.statuses.retain(|status| !(status.id == lease.id && status.lease == lease.lease));
    }
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Wakes whoever waits for a request.
    request_arrived: Notify,
}

impl Shared {
    /// Each change is one push, removal or update, so a poisoned lock still
    /// guards a consistent state.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The in-memory BZI. Clones share the same queues.
#[derive(Clone, Default)]
pub struct InMemoryInterface {
    shared: Arc<Shared>,
}

impl InMemoryInterface {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the oldest request sent to the interface, waiting for one;
    /// `None` once `stop` is cancelled.
    pub async fn next_request(&self, stop: &CancellationToken) -> Option<InterfaceRequest> {
        loop {
            let arrived = self.shared.request_arrived.notified();
            tokio::pin!(arrived);
            // Registered before looking, so a send in between is not missed.
            arrived.as_mut().enable();
            if let Some(request) = self.shared.state().requests.pop_front() {
                return Some(request);
            }
            tokio::select! {
                () = stop.cancelled() => return None,
                () = arrived => {}
            }
        }
    }

    /// Puts a status message whose text is `text`, as the BZI writes it (the
    /// status JSON itself, or anything else to play a faulty BZI).
    pub fn put_status(&self, text: impl Into<String>) {
        self.shared.state().put_status(text.into());
    }

    /// Requests waiting for the interface.
    pub fn request_count(&self) -> usize {
        self.shared.state().requests.len()
    }

    /// Status messages on the status queue, hidden ones included (as the
    /// queue service counts them).
    pub fn status_count(&self) -> usize {
        self.shared.state().statuses.len()
    }

    /// Status messages parked on the poison queue.
    pub fn poison_count(&self) -> usize {
        self.shared.state().poison.len()
    }

    /// The parked status messages, oldest first.
    pub fn poison(&self) -> Vec<DeadLetter> {
        self.shared.state().poison.iter().map(Parked::inspect).collect()
    }

    /// The poison queue as operators work it.
    pub fn poison_letters(&self) -> InMemoryStatusPoison {
        InMemoryStatusPoison { shared: self.shared.clone() }
    }
}

/// The message behind `message`, as an in-memory inbox handed it out.
fn lease(message: &InboxMessage) -> Result<&Lease, DomainError> {
    message.receipt.get::<Lease>().ok_or_else(|| {
        DomainError::Unexpected(anyhow!("message {} was not taken from an in-memory inbox", message.message_id))
    })
}

#[async_trait]
impl BackupInterface for InMemoryInterface {
    async fn send(&self, request: &InterfaceRequest) -> Result<(), DomainError> {
        self.shared.state().requests.push_back(request.clone());
        self.shared.request_arrived.notify_waiters();
        Ok(())
    }
}

#[async_trait]
impl StatusInbox for InMemoryInterface {
    async fn receive(&self, max: u32, visibility_timeout: Duration) -> Result<Vec<InboxMessage>, DomainError> {
        let now = Instant::now();
        let mut guard = self.shared.state();
        let state = &mut *guard;
        let mut leases = Vec::new();
        let visible = state.statuses.iter_mut().filter(|status| status.visible_at <= now);
        for status in visible.take(usize::try_from(max).unwrap_or(usize::MAX)) {
            state.last_lease += 1;
            status.visible_at = now + visibility_timeout;
            status.times_taken += 1;
            status.lease = state.last_lease;
            let lease = Lease { id: status.id.clone(), lease: status.lease, text: status.text.clone() };
            leases.push((status.times_taken, lease));
        }
        drop(guard);
        Ok(leases
            .into_iter()
            .map(|(times_taken, lease)| {
                InboxMessage::read(lease.id.clone(), times_taken, lease.text.clone(), InboxReceipt::new(lease))
            })
            .collect())
    }

    async fn delete(&self, message: &InboxMessage) -> Result<(), DomainError> {
        self.shared.state().remove(lease(message)?);
        Ok(())
    }

    async fn park(&self, message: &InboxMessage, reason: &str) -> Result<(), DomainError> {
        let lease = lease(message)?;
        let mut state = self.shared.state();
        state.poison.push(Parked {
            id: lease.id.clone(),
            text: lease.text.clone(),
            reason: reason.to_owned(),
            times_taken: message.times_taken,
            parked_at: now().to_rfc3339(),
        });
        state.remove(lease);
        tracing::warn!(reason, message_id = %lease.id, "status message parked");
        Ok(())
    }
}

/// The in-memory interface's poison queue, for operators: list, replay to
/// the status queue, purge.
#[derive(Clone)]
pub struct InMemoryStatusPoison {
    shared: Arc<Shared>,
}

#[async_trait]
impl DeadLetters for InMemoryStatusPoison {
    async fn count(&self) -> Result<u64, DomainError> {
        Ok(self.shared.state().poison.len() as u64)
    }

    async fn list(&self, limit: usize) -> Result<Vec<DeadLetter>, DomainError> {
        Ok(self.shared.state().poison.iter().take(limit).map(Parked::inspect).collect())
    }

    /// Puts each replayed text back on the status queue as a new message,
    /// never taken yet.
    async fn replay(&self, message_id: Option<&str>) -> Result<Affected, DomainError> {
        let mut state = self.shared.state();
        let (replayed, kept): (Vec<Parked>, Vec<Parked>) =
            state.poison.drain(..).partition(|parked| message_id.is_none_or(|id| id == parked.id));
        state.poison = kept;
        let count = replayed.len() as u64;
        for parked in replayed {
            state.put_status(parked.text);
        }
        Ok(Affected { count })
    }

    async fn purge(&self) -> Result<Affected, DomainError> {
        let purged = std::mem::take(&mut self.shared.state().poison);
        Ok(Affected { count: purged.len() as u64 })
    }
}

#[cfg(test)]
mod tests;
