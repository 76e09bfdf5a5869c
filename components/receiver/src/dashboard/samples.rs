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
use tokio_util::sync::CancellationToken;

use crate::routes::ApiState;

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

    fn last_at(&self) -> Option<DateTime<Utc>> {
        self.samples.lock().unwrap_or_else(std::sync::PoisonError::into_inner).back().map(|s| s.at)
    }

    pub fn snapshot(&self) -> Value {
        let samples = self.samples.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        json!({ "intervalSeconds": SAMPLE_EVERY.as_secs(), "items": samples.iter().collect::<Vec<_>>() })
    }
}

/// Takes one sample of the system now.
async fn take(state: &ApiState) -> Sample {
    let at = Utc::now();
    let since = state.samples.last_at().unwrap_or(at - chrono::TimeDelta::seconds(SAMPLE_EVERY.as_secs() as i64));
    let database = crate::routes::zpages::database_counts(state).await;
    let requests = database.get("requests").map(|r| r["byStatus"].clone()).unwrap_or(database);
    let db = state.database.clone();
    let changes = match state.on_main_runtime(async move { db.status_changes_since(since).await }).await {
        Ok(Ok(changes)) => changes.into_iter().map(|(status, n)| (status, Value::from(n))).collect::<serde_json::Map<_, _>>().into(),
        Ok(Err(error)) => json!({ "error": format!("{error:#}") }),
        Err(_) => json!({ "error": "the database could not be read" }),
    };
    Sample { at, requests, changes, queues: crate::routes::zpages::queues(state).await }
}

/// Samples every `SAMPLE_EVERY` until `stop`, starting at once (after the
/// schema is there) so that a freshly started receiver has a first point.
pub fn spawn_sampling(state: actix_web::web::Data<ApiState>, stop: CancellationToken) {
    tokio::spawn(async move {
        let mut schema = state.schema_ready.clone();
        tokio::select! {
            _ = schema.wait_for(|ready| *ready) => {}
            () = stop.cancelled() => return,
        }
        let mut ticks = tokio::time::interval(SAMPLE_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = stop.cancelled() => return,
            }
            let sample = take(&state).await;
            state.samples.push(sample);
        }
    });
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
