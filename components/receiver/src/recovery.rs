//! Startup recovery (SPEC §6) as a component: once the schema is in place,
//! it re-emits the requests left waiting since before the process started
//! (see `RecoverPending`). Of several receivers starting together, the one
//! that takes the recovery lock does it; the others log that and skip. A
//! database that is down at start is waited out with the start-up backoff.
//! Stopping abandons it (a batch in flight rolls back, the lock is freed
//! with its connection).

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use linebacker_domain::usecase::RecoverPending;
use linebacker_platform::{Component, Host, Work, retry_until_done};
use linebacker_runtime::TokioTimer;
use tokio_util::sync::CancellationToken;

/// The recovery use case of `host`'s process, paced by `recovery.*`; the
/// operator endpoint runs it too.
pub fn recover_pending(host: &Host) -> Arc<RecoverPending> {
    recovery_resending_after(host, host.settings.recovery.resend_sent_after())
}

/// Recovery that sends `Sent` requests to the interface again once their
/// reply is `overdue`.
fn recovery_resending_after(host: &Host, overdue: Duration) -> Arc<RecoverPending> {
    let store = Arc::new(host.database.store_of(&host.identity.name));
    Arc::new(
        RecoverPending::new(store.clone(), store.clone(), Arc::new(TokioTimer), host.settings.recovery.per_second)
            .resending_sent_after(overdue)
            .continuing_traces(store),
    )
}

/// One recovery pass at start, when `recovery.on_start`.
pub struct StartupRecovery;

impl Component for StartupRecovery {
    fn name(&self) -> &'static str {
        "startup-recovery"
    }

    fn start(self: Box<Self>, host: &Arc<Host>, stop: CancellationToken) -> anyhow::Result<Work> {
        let enabled = host.settings.recovery.on_start;
        // A BZI played in the process died with the last one, and with it
        // every request it held: each `Sent` before this start is overdue.
        let recover = match host.externals.in_process_interface() {
            Some(_) => recovery_resending_after(host, Duration::ZERO),
            None => recover_pending(host),
        };
        let started_at = host.started_at;
        let mut schema_ready = host.schema_ready.clone();
        Ok(async move {
            if !enabled {
                return Ok(());
            }
            tokio::select! {
                ready = schema_ready.wait_for(|ready| *ready) => {
                    if ready.is_err() {
                        return Ok(());
                    }
                }
                () = stop.cancelled() => return Ok(()),
            }
            retry_until_done("startup recovery", stop, || {
                let recover = recover.clone();
                async move { recover.execute(started_at).await.map(drop) }
            })
            .await;
            Ok(())
        }
        .boxed())
    }
}
