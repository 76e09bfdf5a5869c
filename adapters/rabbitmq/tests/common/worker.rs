//! A worker loop over the adapter's subscription that settles the way the
//! consumer edge of `linebacker-platform` does: a malformed message is
//! dead-lettered with its reason, an event is acked, retried or
//! dead-lettered as the test decides, up to `prefetch` at a time, and a lost
//! subscription is renewed. The bus's edge is under test, not a use case.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures::StreamExt;
use linebacker_domain::DomainEvent;
use linebacker_domain::ports::{Delivery, MessageBus, WorkQueue};
use linebacker_rabbitmq::RabbitBus;
use tokio_util::sync::CancellationToken;

/// What the test's handler makes of an event on its `attempt`.
pub enum Outcome {
    Ack,
    Retry(&'static str),
    DeadLetter(&'static str),
}

/// What a worker did.
#[derive(Default)]
pub struct Worker {
    /// How often each event (by its message id) was handled with success.
    pub handled: Mutex<HashMap<String, u32>>,
    /// Subscriptions that failed or ended before the worker stopped.
    pub lost_subscriptions: AtomicU32,
}

impl Worker {
    pub fn handled(&self) -> HashMap<String, u32> {
        self.handled.lock().unwrap().clone()
    }

    pub fn lost_subscriptions(&self) -> u32 {
        self.lost_subscriptions.load(Ordering::SeqCst)
    }

    /// Consumes `queue` until `stop`.
    pub async fn run<F>(&self, bus: &RabbitBus, queue: WorkQueue, prefetch: u16, decide: F, stop: CancellationToken)
    where
        F: Fn(&DomainEvent, u32) -> Outcome + Sync,
    {
        while !stop.is_cancelled() {
            let Ok(subscription) = bus.subscribe(queue, prefetch).await else {
                self.lost_subscriptions.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            };
            subscription
                .take_until(stop.cancelled())
                .take_while(|item| std::future::ready(item.is_ok()))
                .filter_map(|item| std::future::ready(item.ok()))
                .for_each_concurrent(usize::from(prefetch), |delivery| self.settle(delivery, &decide))
                .await;
            if !stop.is_cancelled() {
                self.lost_subscriptions.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    async fn settle<F>(&self, delivery: Delivery, decide: &F)
    where
        F: Fn(&DomainEvent, u32) -> Outcome,
    {
        let Delivery { event, attempt, settle } = delivery;
        // Unsettled, a delivery comes back once its channel is gone.
        let _ = match event {
            Err(malformed) => settle.dead_letter(&malformed.to_string()).await,
            Ok(event) => match decide(&event, attempt) {
                Outcome::Ack => {
                    *self.handled.lock().unwrap().entry(event.message_id.to_string()).or_default() += 1;
                    settle.ack().await
                }
                Outcome::Retry(reason) => settle.retry(reason).await,
                Outcome::DeadLetter(reason) => settle.dead_letter(reason).await,
            },
        };
    }
}
