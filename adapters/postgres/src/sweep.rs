//! The last reconciliation sweep (SPEC §9), kept in the database so that
//! `healthz/all` on any receiver shows it, not only on the one that swept.

use chrono::{DateTime, Utc};
use linebacker_domain::DomainError;

use crate::Database;
use crate::error::map_sqlx_error;

/// What a sweep did, and when and where it ran.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SweepRecord {
    pub swept_at: DateTime<Utc>,
    /// Stalled `Received` and `Allowed` requests re-emitted.
    pub reemitted: i64,
    /// Overdue `Sent` requests sent to the interface again.
    pub resent: i64,
    /// The process instance that ran it.
    pub swept_by: String,
}

impl Database {
    /// Replaces the record of the last sweep with `sweep`.
    pub async fn record_sweep(&self, sweep: &SweepRecord) -> Result<(), DomainError> {
        sqlx::query(
            "INSERT INTO reconciliation_sweep (swept_at, reemitted, resent, swept_by) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (only_row) DO UPDATE SET swept_at = EXCLUDED.swept_at, reemitted = EXCLUDED.reemitted, \
             resent = EXCLUDED.resent, swept_by = EXCLUDED.swept_by",
        )
        .bind(sweep.swept_at)
        .bind(sweep.reemitted)
        .bind(sweep.resent)
        .bind(&sweep.swept_by)
        .execute(self.pool())
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }

    /// The last sweep's record; `None` before the first.
    pub async fn last_sweep(&self) -> Result<Option<SweepRecord>, DomainError> {
        sqlx::query_as("SELECT swept_at, reemitted, resent, swept_by FROM reconciliation_sweep")
            .fetch_optional(self.pool())
            .await
            .map_err(map_sqlx_error)
    }
}
