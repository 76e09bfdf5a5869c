//! The dashboard's memory: a bounded ring of samples of the system (requests
//! per status, status changes since the sample before, each work queue's
//! depth, retrying and dead letters), taken every `SAMPLE_EVERY`, one hour
//! of them. Only this receiver's memory: a restart starts the plots afresh,
//! which is what a look at the last hour needs, with nothing to store.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

pub const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// One hour of samples.
pub const KEPT: usize = 360;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    pub at: DateTime<Utc>,
    /// `{"Received": 3, ...}`, or `{error}`.
    pub requests: Value,
    /// Status changes since the sample before, by the status reached.
    pub changes: Value,
    /// The work queues as `healthz/all` shows them, or `{error}`.
    pub queues: Value,
}

pub struct SampleRing {
    samples: Mutex<VecDeque<Sample>>,
    capacity: usize,
}

impl SampleRing {
    pub fn new(capacity: usize) -> Self {
        Self { samples: Mutex::new(VecDeque::with_capacity(capacity)), capacity }
    }

    /// Adds a sample, dropping the oldest once full.
    pub fn push(&self, sample: Sample) {
        let mut samples = self.samples.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if samples.len() == self.capacity {
            samples.pop_front();
        }
        samples.push_back(sample);
    }

    pub(crate) fn last_at(&self) -> Option<DateTime<Utc>> {
        self.samples.lock().unwrap_or_else(std::sync::PoisonError::into_inner).back().map(|s| s.at)
    }

    pub fn snapshot(&self) -> Value {
        let samples = self.samples.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        json!({ "intervalSeconds": SAMPLE_EVERY.as_secs(), "items": samples.iter().collect::<Vec<_>>() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: i64) -> Sample {
        Sample { at: Utc::now(), requests: json!({ "Received": n }), changes: json!({}), queues: json!([]) }
    }

    #[test]
    fn the_ring_keeps_the_newest_samples_up_to_its_capacity() {
        let ring = SampleRing::new(3);
        for n in 0..5 {
            ring.push(sample(n));
        }
        let snapshot = ring.snapshot();
        let kept: Vec<i64> = snapshot["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["requests"]["Received"].as_i64())
            .collect();
        assert_eq!(kept, [2, 3, 4]);
        assert_eq!(snapshot["intervalSeconds"], 10);
    }
}
