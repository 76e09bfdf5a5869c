//! What the simulated BZI saw and did, per request id, so that tests can
//! check that every allowed request reached it exactly once.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use serde::Serialize;

#[derive(Debug, Default, Clone, Serialize)]
pub struct StatsSnapshot {
    /// How often each request id was taken from the request queue.
    pub received: BTreeMap<String, u64>,
    /// How often each request id was answered.
    pub replied: BTreeMap<String, u64>,
    pub succeeded: u64,
    pub failed: u64,
    /// Request messages that were not an interface request (deleted).
    pub malformed: u64,
}

#[derive(Debug, Default)]
pub struct Stats {
    inner: Mutex<StatsSnapshot>,
}

impl Stats {
    pub fn received(&self, id: &str) {
        *self.lock().received.entry(id.to_owned()).or_default() += 1;
    }

    pub fn replied(&self, id: &str, succeeded: bool) {
        let mut stats = self.lock();
        *stats.replied.entry(id.to_owned()).or_default() += 1;
        if succeeded {
            stats.succeeded += 1;
        } else {
            stats.failed += 1;
        }
    }

    pub fn malformed(&self) {
        self.lock().malformed += 1;
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        self.lock().clone()
    }

    /// Counting goes on after a panic elsewhere: counters stay consistent.
    fn lock(&self) -> std::sync::MutexGuard<'_, StatsSnapshot> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
