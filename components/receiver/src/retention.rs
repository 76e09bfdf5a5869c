//! Retention passes (SPEC §10) as a component: every
//! `retention.interval_secs`, the receiver that takes the pruning lock
//! deletes the terminal requests past `retention.days` (see
//! `PruneRequests`); the others skip. A failed pass is logged and the next
//! interval tries again; stopping abandons a pass between two batches.

use std::sync::Arc;

use futures::FutureExt;
use linebacker_domain::usecase::{PruneRequests, Pruning};
use linebacker_platform::{Component, Host, Work};
use linebacker_runtime::TokioTimer;
use linebacker_runtime::metrics::metrics;
use tokio_util::sync::CancellationToken;

use crate::recovery::every;

pub struct Retention;

impl Component for Retention {
    fn name(&self) -> &'static str {
        "retention"
    }

    fn start(self: Box<Self>, host: &Arc<Host>, stop: CancellationToken) -> anyhow::Result<Work> {
        let settings = &host.settings.retention;
        let interval = settings.interval();
        let store = Arc::new(host.database.store_of(&host.identity.name));
        let prune = PruneRequests::new(store, Arc::new(TokioTimer), settings.policy());
        let schema_ready = host.schema_ready.clone();
        Ok(async move {
            every(interval, schema_ready, &stop, || pass(&prune)).await;
            Ok(())
        }
        .boxed())
    }
}

async fn pass(prune: &PruneRequests) {
    match prune.execute(chrono::Utc::now()).await {
        Ok(Pruning::Completed(counts)) => {
            for (status, count) in counts {
                metrics().pruned.with_label_values(&[status.as_str()]).inc_by(count);
            }
        }
        Ok(Pruning::Busy) => {}
        Err(error) => tracing::warn!(error = %format!("{error:#}"), "retention pass failed; the next one tries again"),
    }
}
