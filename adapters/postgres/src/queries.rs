//! The list and history of SPEC §3. The list's SQL is built from the filters
//! present, so that each combination is its own statement with its own plan
//! (a catch-all `$1 IS NULL OR ...` would get one generic plan that fits
//! none), and every shape walks one of the `*_newest_first` indexes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use linebacker_domain::listing::{PageCursor, PageLimit, RequestFilter, RequestPage, StatusChange};
use linebacker_domain::ports::BackupRequestQueries;
use linebacker_domain::{BackupRequest, BackupRequestId, DomainError, StatusTypeCode};
use sqlx::{Postgres, QueryBuilder};
use tracing::instrument;

use crate::error::map_sqlx_error;
use crate::rows::{RequestRow, request_columns};
use crate::store::PgStore;

/// The list query for `filter` after `after`, one row more than `limit` so
/// that the caller learns whether another page follows.
fn list_query(prefix: &str, filter: &RequestFilter, after: Option<&PageCursor>, limit: PageLimit) -> QueryBuilder<Postgres> {
    let mut query = QueryBuilder::new(prefix);
    query.push(concat!("SELECT ", request_columns!(), " FROM backup_requests WHERE true"));
    if let Some(status) = filter.status {
        query.push(" AND status_type_code = ").push_bind(status.as_str());
    }
    if let Some(job) = &filter.backup_job_id {
        query.push(" AND backup_job_id = ").push_bind(job.as_str());
    }
    if let Some(requester) = &filter.requester_id {
        query.push(" AND requester_id = ").push_bind(requester.as_str());
    }
    if let Some(from) = filter.received_from {
        query.push(" AND received_timestamp >= ").push_bind(from);
    }
    if let Some(to) = filter.received_to {
        query.push(" AND received_timestamp < ").push_bind(to);
    }
    if let Some(cursor) = after {
        query
            .push(" AND (received_timestamp, backup_request_id) < (")
            .push_bind(cursor.received_timestamp)
            .push(", ")
            .push_bind(cursor.backup_request_id.as_str())
            .push(")");
    }
    query
        .push(" ORDER BY received_timestamp DESC, backup_request_id DESC LIMIT ")
        .push_bind(i64::from(limit.get()) + 1);
    query
}

#[derive(sqlx::FromRow)]
struct HistoryRow {
    status_type_code: String,
    changed_at: DateTime<Utc>,
    changed_by: String,
    detail: Option<String>,
}

impl PgStore {
    /// The plan PostgreSQL picks for this list query (`EXPLAIN (FORMAT
    /// JSON)`), for operators and tests checking that it uses an index.
    pub async fn explain_list(
        &self,
        filter: &RequestFilter,
        after: Option<&PageCursor>,
        limit: PageLimit,
    ) -> Result<serde_json::Value, DomainError> {
        let mut query = list_query("EXPLAIN (FORMAT JSON) ", filter, after, limit);
        let (plan,): (serde_json::Value,) = query
            .build_query_as()
            .fetch_one(self.pool())
            .await
            .map_err(map_sqlx_error)?;
        Ok(plan)
    }
}

#[async_trait]
impl BackupRequestQueries for PgStore {
    #[instrument(skip_all)]
    async fn list(
        &self,
        filter: &RequestFilter,
        after: Option<&PageCursor>,
        limit: PageLimit,
    ) -> Result<RequestPage, DomainError> {
        let mut query = list_query("", filter, after, limit);
        let rows: Vec<RequestRow> = query
            .build_query_as()
            .fetch_all(self.pool())
            .await
            .map_err(map_sqlx_error)?;
        let items = rows.into_iter().map(BackupRequest::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok(RequestPage::cut(items, limit))
    }

    #[instrument(skip_all, fields(backup_request_id = %id))]
    async fn history(&self, id: &BackupRequestId) -> Result<Vec<StatusChange>, DomainError> {
        let rows: Vec<HistoryRow> = sqlx::query_as(
            "SELECT status_type_code, changed_at, changed_by, detail FROM backup_request_history \
             WHERE backup_request_id = $1 ORDER BY history_id",
        )
        .bind(id.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(map_sqlx_error)?;
        rows.into_iter()
            .map(|row| {
                let status = StatusTypeCode::try_from(row.status_type_code.as_str()).map_err(|error| {
                    DomainError::Unexpected(anyhow::anyhow!("stored history status is invalid: {error}"))
                })?;
                Ok(StatusChange { status, at: row.changed_at, by: row.changed_by, detail: row.detail })
            })
            .collect()
    }
}
