//! Counts for operators (`/metrics`, health pages): requests per status and
//! the outbox backlog. Read-only and cheap: the status index serves the
//! first, the outbox is small unless the broker is away.

use linebacker_domain::DomainError;

use crate::Database;
use crate::error::map_sqlx_error;

/// What the database says about the system's work, now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkStats {
    /// (status, count) for every status that has requests.
    pub requests: Vec<(String, i64)>,
    pub outbox_backlog: i64,
    /// Seconds since the oldest unpublished event was written; 0 when none.
    pub outbox_oldest_age_secs: i64,
}

impl Database {
    pub async fn work_stats(&self) -> Result<WorkStats, DomainError> {
        let requests: Vec<(String, i64)> = sqlx::query_as(
            "SELECT status_type_code, count(*) FROM backup_requests GROUP BY status_type_code ORDER BY 1",
        )
        .fetch_all(self.pool())
        .await
        .map_err(map_sqlx_error)?;
        let (outbox_backlog, outbox_oldest_age_secs): (i64, i64) = sqlx::query_as(
            "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at))::bigint, 0) FROM outbox",
        )
        .fetch_one(self.pool())
        .await
        .map_err(map_sqlx_error)?;
        Ok(WorkStats { requests, outbox_backlog, outbox_oldest_age_secs })
    }
}
