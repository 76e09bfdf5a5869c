//! The trace each request was received under (`backup_requests.trace_parent`),
//! for the steps that reach linebacker without trace context.

use std::collections::HashMap;

use async_trait::async_trait;
use linebacker_domain::ports::RequestTraces;
use linebacker_domain::{BackupRequestId, DomainError, TraceParent};

use crate::error::map_sqlx_error;
use crate::store::PgStore;

#[async_trait]
impl RequestTraces for PgStore {
    async fn trace_of(&self, id: &BackupRequestId) -> Result<Option<TraceParent>, DomainError> {
        let stored: Option<Option<String>> =
            sqlx::query_scalar("SELECT trace_parent FROM backup_requests WHERE backup_request_id = $1")
                .bind(id.as_str())
                .fetch_optional(self.pool())
                .await
                .map_err(map_sqlx_error)?;
        // A value that does not parse was written outside linebacker: the
        // reply then starts a trace of its own rather than failing.
        Ok(stored.flatten().as_deref().and_then(TraceParent::parse))
    }

    /// One query for the whole page.
    async fn traces_of(&self, ids: &[BackupRequestId]) -> Result<HashMap<BackupRequestId, TraceParent>, DomainError> {
        let ids: Vec<&str> = ids.iter().map(BackupRequestId::as_str).collect();
        let stored: Vec<(String, String)> = sqlx::query_as(
            "SELECT backup_request_id, trace_parent FROM backup_requests \
             WHERE backup_request_id = ANY($1) AND trace_parent IS NOT NULL",
        )
        .bind(&ids)
        .fetch_all(self.pool())
        .await
        .map_err(map_sqlx_error)?;
        Ok(stored
            .into_iter()
            .filter_map(|(id, trace)| Some((BackupRequestId::try_from(id.as_str()).ok()?, TraceParent::parse(&trace)?)))
            .collect())
    }
}
