//! Retention (SPEC §10): terminal requests older than their status's
//! retention are deleted with their history and idempotency keys, in
//! batches with a pause between them so that live traffic does not notice,
//! by one process at a time (the pruning lock). A request whose Backup is
//! not yet due to delete stays; Backups are never deleted.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tracing::instrument;

use crate::error::DomainError;
use crate::ports::{RequestRetention, Timer};
use crate::request::StatusTypeCode;

/// How long each terminal status is kept, and how a pass is paced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Days kept, per terminal status; 0 deletes at the next pass.
    pub days: Vec<(StatusTypeCode, u32)>,
    pub batch_size: u32,
    pub batch_pause: Duration,
}

/// Requests deleted (or, for a dry run, deletable) per status, in the
/// policy's order.
pub type PrunedCounts = Vec<(StatusTypeCode, u64)>;

/// The outcome of asking for a pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pruning {
    Completed(PrunedCounts),
    /// Another process holds the pruning lock; nothing was done.
    Busy,
}

pub struct PruneRequests {
    store: Arc<dyn RequestRetention>,
    timer: Arc<dyn Timer>,
    policy: RetentionPolicy,
}

impl PruneRequests {
    /// A `batch_size` of 0 is taken as 1.
    pub fn new(store: Arc<dyn RequestRetention>, timer: Arc<dyn Timer>, mut policy: RetentionPolicy) -> Self {
        policy.batch_size = policy.batch_size.max(1);
        Self { store, timer, policy }
    }

    /// Each status and the time before which its requests are past
    /// retention, as of `now`.
    fn cutoffs(&self, now: DateTime<Utc>) -> impl Iterator<Item = (StatusTypeCode, DateTime<Utc>)> + '_ {
        self.policy.days.iter().map(move |(status, days)| (*status, now - TimeDelta::days(i64::from(*days))))
    }

    /// What a pass at `now` would delete; deletes nothing and takes no lock.
    pub async fn preview(&self, now: DateTime<Utc>) -> Result<PrunedCounts, DomainError> {
        let mut counts = Vec::new();
        for (status, before) in self.cutoffs(now) {
            counts.push((status, self.store.prunable(status, before, now.date_naive()).await?));
        }
        Ok(counts)
    }

    /// Deletes what is past retention at `now`, unless another process is
    /// pruning. A failed batch stops the pass: what earlier batches deleted
    /// stays deleted, and the next pass takes up the rest.
    #[instrument(skip(self))]
    pub async fn execute(&self, now: DateTime<Utc>) -> Result<Pruning, DomainError> {
        let Some(lock) = self.store.try_lock_pruning().await? else {
            tracing::debug!("another instance is pruning; this one skips its pass");
            return Ok(Pruning::Busy);
        };
        let pass = self.pass(now).await;
        lock.release().await;
        let counts = pass?;
        tracing::info!(pruned = ?counts, "retention pass done");
        Ok(Pruning::Completed(counts))
    }

    async fn pass(&self, now: DateTime<Utc>) -> Result<PrunedCounts, DomainError> {
        let mut counts = Vec::new();
        let mut first = true;
        for (status, before) in self.cutoffs(now) {
            let mut deleted = 0;
            loop {
                if !first {
                    self.timer.sleep(self.policy.batch_pause).await;
                }
                first = false;
                let batch = self.store.prune(status, before, now.date_naive(), self.policy.batch_size).await?;
                deleted += batch;
                if batch < u64::from(self.policy.batch_size) {
                    break;
                }
            }
            counts.push((status, deleted));
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests;
