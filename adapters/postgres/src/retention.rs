//! Retention's view of the store (SPEC §10): terminal requests past their
//! status's clock, deleted a batch a statement (their history and
//! idempotency keys go by cascade; Backups keep no key to them), and the
//! pruning lock, an advisory lock of its own beside recovery's.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use linebacker_domain::ports::{HeldLock, RequestRetention};
use linebacker_domain::{DomainError, StatusTypeCode};

use crate::error::map_sqlx_error;
use crate::store::PgStore;

/// The advisory lock key of pruning ("lbpruner" in ASCII).
const PRUNING_LOCK_KEY: i64 = 0x6c62_7072_756e_6572;

/// Each terminal status's clock, written as the retention index has it
/// (migration `request_retention_pruning`), so that the planner uses it.
macro_rules! clock {
    () => {
        "(CASE status_type_code WHEN 'NotAllowed' THEN checked_timestamp \
         WHEN 'Cancelled' THEN updated_at ELSE reply_timestamp END)"
    };
}

/// The requests of status `$1` whose clock is before `$2` and whose Backup,
/// if any, was due to delete before `$3`.
macro_rules! past_retention {
    () => {
        concat!(
            "FROM backup_requests r WHERE status_type_code = $1 AND ",
            clock!(),
            " < $2 AND NOT EXISTS (SELECT 1 FROM backups b \
             WHERE b.backup_request_id = r.backup_request_id AND b.due_to_delete_date >= $3)"
        )
    };
}

#[async_trait]
impl RequestRetention for PgStore {
    async fn prune(
        &self,
        status: StatusTypeCode,
        before: DateTime<Utc>,
        today: NaiveDate,
        limit: u32,
    ) -> Result<u64, DomainError> {
        // SKIP LOCKED: a request a worker is changing right now is left to
        // the next batch, and the lock re-checks the status it read.
        let deleted = sqlx::query(concat!(
            "WITH doomed AS (SELECT backup_request_id ",
            past_retention!(),
            " ORDER BY ",
            clock!(),
            ", backup_request_id LIMIT $4 FOR UPDATE SKIP LOCKED) \
             DELETE FROM backup_requests d USING doomed WHERE d.backup_request_id = doomed.backup_request_id"
        ))
        .bind(status.as_str())
        .bind(before)
        .bind(today)
        .bind(i64::from(limit))
        .execute(self.pool())
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        Ok(deleted)
    }

    async fn prunable(&self, status: StatusTypeCode, before: DateTime<Utc>, today: NaiveDate) -> Result<u64, DomainError> {
        let count: i64 = sqlx::query_scalar(concat!("SELECT count(*) ", past_retention!()))
            .bind(status.as_str())
            .bind(before)
            .bind(today)
            .fetch_one(self.pool())
            .await
            .map_err(map_sqlx_error)?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    async fn try_lock_pruning(&self) -> Result<Option<Box<dyn HeldLock>>, DomainError> {
        self.try_advisory_lock(PRUNING_LOCK_KEY).await
    }
}
