//! The message counts of each consumer of a process, for `healthz` and
//! `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

/// Message counts of one consumer, for health pages.
#[derive(Debug, Default)]
pub struct ConsumerStats {
    pub consumed: AtomicU64,
    pub acked: AtomicU64,
    pub retried: AtomicU64,
    pub dead_lettered: AtomicU64,
}

impl ConsumerStats {
    /// Counts a poll of the interface's status queue.
    pub fn record_forwarded(&self, done: &linebacker_domain::usecase::Forwarded) {
        let taken = done.taken() as u64;
        self.consumed.fetch_add(taken, Ordering::Relaxed);
        self.acked.fetch_add(done.published as u64, Ordering::Relaxed);
        self.retried.fetch_add(done.left as u64, Ordering::Relaxed);
        self.dead_lettered.fetch_add(done.parked as u64, Ordering::Relaxed);
    }

    /// Adds `other`'s counts to these (a process with several consumers
    /// shows their sum).
    pub fn add(&self, other: &ConsumerStats) {
        for (into, from) in [
            (&self.consumed, &other.consumed),
            (&self.acked, &other.acked),
            (&self.retried, &other.retried),
            (&self.dead_lettered, &other.dead_lettered),
        ] {
            into.fetch_add(from.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }

    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "consumed": self.consumed.load(Ordering::Relaxed),
            "acked": self.acked.load(Ordering::Relaxed),
            "retried": self.retried.load(Ordering::Relaxed),
            "deadLettered": self.dead_lettered.load(Ordering::Relaxed),
        })
    }
}

