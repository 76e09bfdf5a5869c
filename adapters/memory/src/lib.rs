//! An in-memory `MessageBus` for dev mode (one process runs every use case,
//! no RabbitMQ) and for tests. It keeps the contract of the RabbitMQ adapter:
//! the three work queues are fed by the same event types, a subscriber holds
//! at most `prefetch` unsettled deliveries, `retry` brings a message back
//! after the backoff of its attempt (the same `retry_delay` the broker's
//! delay queues follow, on tokio timers) with its attempt raised,
//! `dead_letter` parks it with its reason. Nothing survives the process.
//!
//! [`InMemoryInterface`] is the BZI's queues in the same way (`interface`).

mod dead_letters;
mod interface;
mod settle;

pub use dead_letters::MemoryDeadLetters;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use linebacker_domain::backoff::RetryPolicy;
use linebacker_domain::ports::{Delivery, MessageBus, Subscription, WorkQueue};
use linebacker_domain::{DomainError, DomainEvent};
use tokio::sync::{Notify, Semaphore};

use dead_letters::Parked;
pub use interface::{InMemoryInterface, InMemoryStatusPoison};
use settle::MemorySettle;

/// A message waiting in a work queue.
#[derive(Debug, Clone)]
struct Pending {
    event: DomainEvent,
    attempt: u32,
}

#[derive(Default)]
struct Queue {
    ready: VecDeque<Pending>,
    dead: Vec<Parked>,
    /// Wakes the subscribers waiting for this queue to get a message.
    arrived: Arc<Notify>,
}

#[derive(Default)]
struct State {
    published: Vec<DomainEvent>,
    queues: HashMap<WorkQueue, Queue>,
}

struct Shared {
    retry: RetryPolicy,
    unavailable: AtomicBool,
    state: Mutex<State>,
}

/// The in-memory bus. Clones share the same queues.
#[derive(Clone)]
pub struct InMemoryBus {
    shared: Arc<Shared>,
}

impl Default for InMemoryBus {
    fn default() -> Self {
        Self::new()
    }
}

impl InMemoryBus {
    /// A bus retrying with the default backoff.
    pub fn new() -> Self {
        Self::with_retry_policy(RetryPolicy::default())
    }

    /// A bus whose retried messages come back after exactly `pause`, every
    /// attempt (no growth, no jitter): for tests.
    pub fn with_retry_pause(pause: Duration) -> Self {
        Self::with_retry_policy(RetryPolicy { base: pause, cap: pause, jitter: 0.0 })
    }

    pub fn with_retry_policy(retry: RetryPolicy) -> Self {
        Self {
            shared: Arc::new(Shared {
                retry,
                unavailable: AtomicBool::new(false),
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// Every event published so far, in order.
    pub fn published(&self) -> Vec<DomainEvent> {
        self.shared.state().published.clone()
    }

    /// The messages parked on `queue`'s dead-letter queue, with their reasons.
    pub fn dead_letters(&self, queue: WorkQueue) -> Vec<(DomainEvent, String)> {
        let state = self.shared.state();
        let parked = state.queues.get(&queue).map(|q| q.dead.as_slice()).unwrap_or_default();
        parked.iter().map(|parked| (parked.event.clone(), parked.reason.clone())).collect()
    }

    /// The dead-letter queue of `queue`, operated as the broker's are.
    pub fn parking(&self, queue: WorkQueue) -> MemoryDeadLetters {
        MemoryDeadLetters { shared: self.shared.clone(), queue }
    }

    /// How many messages wait in `queue` (not counting those handed out).
    pub fn ready_count(&self, queue: WorkQueue) -> usize {
        self.shared.state().queues.get(&queue).map_or(0, |q| q.ready.len())
    }

    /// Makes `publish` and `subscribe` fail with `Unavailable` (as a broker
    /// outage would) until called again with `false`, so that callers' outage
    /// handling can be tested.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.shared.unavailable.store(unavailable, Ordering::SeqCst);
    }
}

impl Shared {
    /// The state stays consistent under every panic (each change is a single
    /// push or pop), so a poisoned lock is still safe to use.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn check_available(&self) -> Result<(), DomainError> {
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(DomainError::unavailable(anyhow::anyhow!("the in-memory bus is set unavailable")));
        }
        Ok(())
    }

    fn enqueue(&self, queue: WorkQueue, pending: Pending) {
        let mut state = self.state();
        let queue = state.queues.entry(queue).or_default();
        queue.ready.push_back(pending);
        queue.arrived.notify_waiters();
    }

    fn park(&self, queue: WorkQueue, event: DomainEvent, attempts: u32, reason: &str) {
        let parked = Parked { event, reason: reason.to_owned(), attempts, at: chrono::Utc::now() };
        self.state().queues.entry(queue).or_default().dead.push(parked);
    }

    /// Waits for the next message of `queue`; subscribers of one queue
    /// compete for its messages, each goes to one of them.
    async fn next(&self, queue: WorkQueue) -> Pending {
        loop {
            let arrived = self.state().queues.entry(queue).or_default().arrived.clone();
            let notified = arrived.notified();
            tokio::pin!(notified);
            // Registered before looking, so a publish in between is not missed.
            notified.as_mut().enable();
            if let Some(pending) = self.state().queues.entry(queue).or_default().ready.pop_front() {
                return pending;
            }
            notified.await;
        }
    }
}

#[async_trait]
impl MessageBus for InMemoryBus {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), DomainError> {
        self.shared.check_available()?;
        for event in events {
            self.shared.state().published.push(event.clone());
            for queue in WorkQueue::ALL.iter().filter(|q| q.source() == event.event_type) {
                self.shared.enqueue(*queue, Pending { event: event.clone(), attempt: 1 });
            }
        }
        Ok(())
    }

    /// A `prefetch` of 0 means no limit, as in AMQP.
    async fn subscribe(&self, queue: WorkQueue, prefetch: u16) -> Result<Subscription, DomainError> {
        self.shared.check_available()?;
        let permits = if prefetch == 0 { Semaphore::MAX_PERMITS } else { usize::from(prefetch) };
        let unsettled = Arc::new(Semaphore::new(permits));
        let shared = self.shared.clone();
        let deliveries = futures::stream::unfold((shared, unsettled), move |(shared, unsettled)| async move {
            // The semaphore is never closed, so this only waits for a free slot.
            let slot = unsettled.clone().acquire_owned().await.ok()?;
            let pending = shared.next(queue).await;
            let delivery = Delivery {
                event: Ok(pending.event.clone()),
                attempt: pending.attempt,
                settle: Box::new(MemorySettle::new(shared.clone(), queue, pending, slot)),
            };
            Some((Ok(delivery), (shared, unsettled)))
        });
        Ok(deliveries.boxed())
    }
}

#[cfg(test)]
mod tests;
