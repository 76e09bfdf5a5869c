//! `RequestRetention` in memory, as PostgreSQL does it: by each terminal
//! status's clock, oldest first, keeping requests whose Backup is due.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::{InMemoryStore, State};
use crate::error::DomainError;
use crate::ports::{HeldLock, RecoveryLock, RequestRetention};
use crate::request::{BackupRequestId, StatusTypeCode};

impl State {
    /// The ids `prune` would take, oldest first.
    fn prunable(&self, status: StatusTypeCode, before: DateTime<Utc>, today: NaiveDate) -> Vec<BackupRequestId> {
        let mut found: Vec<(DateTime<Utc>, BackupRequestId)> = self
            .requests
            .values()
            .filter(|request| request.status() == status)
            .filter_map(|request| {
                let id = request.backup_request_id();
                let clock = match status {
                    StatusTypeCode::Succeeded | StatusTypeCode::Failed => request.reply_timestamp(),
                    StatusTypeCode::NotAllowed => request.checked_timestamp(),
                    StatusTypeCode::Cancelled => self.touched.get(id).copied(),
                    _ => None,
                }?;
                let due = self.backups.get(id).is_some_and(|backup| backup.due_to_delete_date >= today);
                (clock < before && !due).then(|| (clock, id.clone()))
            })
            .collect();
        found.sort();
        found.into_iter().map(|(_, id)| id).collect()
    }
}

#[async_trait]
impl RequestRetention for InMemoryStore {
    async fn prune(
        &self,
        status: StatusTypeCode,
        before: DateTime<Utc>,
        today: NaiveDate,
        limit: u32,
    ) -> Result<u64, DomainError> {
        let mut state = self.state()?;
        let doomed: Vec<BackupRequestId> = state.prunable(status, before, today).into_iter().take(limit as usize).collect();
        for id in &doomed {
            state.requests.remove(id);
            state.history.remove(id);
            state.touched.remove(id);
            state.traces.remove(id);
            state.keys.retain(|_, keyed| keyed != id);
        }
        Ok(doomed.len() as u64)
    }

    async fn prunable(&self, status: StatusTypeCode, before: DateTime<Utc>, today: NaiveDate) -> Result<u64, DomainError> {
        Ok(self.state()?.prunable(status, before, today).len() as u64)
    }

    async fn try_lock_pruning(&self) -> Result<Option<Box<dyn HeldLock>>, DomainError> {
        drop(self.state()?);
        self.pruning.try_lock().await
    }
}
