//! The trace each request was received under (`backup_requests.trace_parent`),
//! for the steps that reach linebacker without trace context.

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
}
