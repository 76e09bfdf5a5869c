//! Counts for operators (`/metrics`, health pages): requests per status,
//! the oldest still waiting, and the outbox backlog. Read-only: one pass
//! over the requests (the status index does not cover the received time, so
//! this is a scan, fine for a page an operator or a scraper reads every few
//! seconds), and the outbox, which is small unless the broker is away.

use linebacker_domain::DomainError;

use crate::Database;
use crate::error::map_sqlx_error;

/// What the database says about the system's work, now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkStats {
    /// (status, count) for every status that has requests.
    pub requests: Vec<(String, i64)>,
    /// (status, seconds since the oldest was received) for the statuses
    /// in which a request waits on linebacker or the interface: `Received`,
    /// `Allowed`, `Sent`; only those that have requests.
    pub oldest_waiting_age_secs: Vec<(String, i64)>,
    pub outbox_backlog: i64,
    /// Seconds since the oldest unpublished event was written; 0 when none.
    pub outbox_oldest_age_secs: i64,
}

/// The statuses of a request not yet settled.
const WAITING: [&str; 3] = ["Received", "Allowed", "Sent"];

impl Database {
    pub async fn work_stats(&self) -> Result<WorkStats, DomainError> {
        let by_status: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT status_type_code, count(*), \
             coalesce(extract(epoch FROM now() - min(received_timestamp))::bigint, 0) \
             FROM backup_requests GROUP BY status_type_code ORDER BY 1",
        )
        .fetch_all(self.pool())
        .await
        .map_err(map_sqlx_error)?;
        let requests = by_status.iter().map(|(status, count, _)| (status.clone(), *count)).collect();
        let oldest_waiting_age_secs = by_status
            .into_iter()
            .filter(|(status, _, _)| WAITING.contains(&status.as_str()))
            .map(|(status, _, oldest)| (status, oldest))
            .collect();
        let (outbox_backlog, outbox_oldest_age_secs): (i64, i64) = sqlx::query_as(
            "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at))::bigint, 0) FROM outbox",
        )
        .fetch_one(self.pool())
        .await
        .map_err(map_sqlx_error)?;
        Ok(WorkStats { requests, oldest_waiting_age_secs, outbox_backlog, outbox_oldest_age_secs })
    }

    /// (status, count) of the status changes made after `since`: how many
    /// requests reached each status in that time (the dashboard's
    /// throughput per stage).
    pub async fn status_changes_since(&self, since: chrono::DateTime<chrono::Utc>) -> Result<Vec<(String, i64)>, DomainError> {
        sqlx::query_as(
            "SELECT status_type_code, count(*) FROM backup_request_history WHERE changed_at > $1 \
             GROUP BY status_type_code ORDER BY 1",
        )
        .bind(since)
        .fetch_all(self.pool())
        .await
        .map_err(map_sqlx_error)
    }
}
