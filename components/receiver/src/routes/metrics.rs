//! `GET /metrics` of the receiver (SPEC §7), needing `read-health`.

use actix_web::{HttpResponse, web};
use linebacker_runtime::metrics::{CONTENT_TYPE, metrics};

use crate::state::ApiState;
use crate::auth::{Authorized, ReadHealth};

/// `GET /metrics`: the process's metrics, with the database's counts read
/// now (left at their last values when the database does not answer).
pub async fn metrics_page(_caller: Authorized<ReadHealth>, state: web::Data<ApiState>) -> HttpResponse {
    let database = state.database.clone();
    let read = tokio::time::timeout(std::time::Duration::from_secs(2), async move { database.work_stats().await });
    match state.runtime.spawn(read).await {
        Ok(Ok(Ok(stats))) => {
            let metrics = metrics();
            for (status, count) in &stats.requests {
                metrics.requests.with_label_values(&[status.as_str()]).set(*count);
            }
            metrics.outbox_backlog.set(stats.outbox_backlog);
            metrics.outbox_oldest_age.set(stats.outbox_oldest_age_secs);
        }
        _ => tracing::debug!("metrics: the database counts could not be read"),
    }
    HttpResponse::Ok().content_type(CONTENT_TYPE).body(metrics().render())
}
