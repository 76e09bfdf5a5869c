//! Startup recovery (SPEC §6): once the schema is in place, the receiver
//! re-emits the requests left `Received` or `Allowed` since before it started
//! (see `RecoverPending`). Of several receivers starting together, the one
//! that takes the recovery lock does it; the others log that and skip. A
//! database that is down at start is waited out with the start-up backoff.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use linebacker_domain::usecase::RecoverPending;
use linebacker_platform::retry_until_done;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Runs one recovery pass for requests last changed before `started_at`,
/// in the background; `stop` abandons it (a batch in flight rolls back, the
/// lock is freed with its connection).
pub fn spawn_startup_recovery(
    recover: Arc<RecoverPending>,
    started_at: DateTime<Utc>,
    mut schema_ready: watch::Receiver<bool>,
    stop: CancellationToken,
) {
    tokio::spawn(async move {
        tokio::select! {
            ready = schema_ready.wait_for(|ready| *ready) => {
                if ready.is_err() {
                    return;
                }
            }
            () = stop.cancelled() => return,
        }
        retry_until_done("startup recovery", stop, || {
            let recover = recover.clone();
            async move { recover.execute(started_at).await.map(drop) }
        })
        .await;
    });
}
