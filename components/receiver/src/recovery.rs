//! Startup recovery (SPEC §6) and the reconciliation sweep (SPEC §9) as
//! components. Startup recovery, once the schema is in place, re-emits the
//! requests left waiting since before the process started (see
//! `RecoverPending`); the sweep does the same every
//! `recovery.sweep_interval_secs` for requests stalled longer than
//! `recovery.stalled_after_secs` whose event left the outbox (so their
//! message was lost). Of several receivers, the one that takes the recovery
//! lock does a pass; the others log that and skip. A database that is down
//! at start is waited out with the start-up backoff. Stopping abandons a
//! pass (a batch in flight rolls back, the lock is freed with its
//! connection).

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use linebacker_domain::usecase::{RecoverPending, Recovery, RecoverySummary};
use linebacker_platform::{Component, Host, Work, retry_until_done};
use linebacker_postgres::{Database, SweepRecord};
use linebacker_runtime::TokioTimer;
use linebacker_runtime::metrics::metrics;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The recovery use case of `host`'s process, paced by `recovery.*`; the
/// operator endpoint runs it too.
pub fn recover_pending(host: &Host) -> Arc<RecoverPending> {
    recovery_resending_after(host, host.settings.recovery.resend_sent_after())
}

/// Recovery that sends `Sent` requests to the interface again once their
/// reply is `overdue`.
fn recovery_resending_after(host: &Host, overdue: Duration) -> Arc<RecoverPending> {
    Arc::new(recovery(host).resending_sent_after(overdue))
}

fn recovery(host: &Host) -> RecoverPending {
    let store = Arc::new(host.database.store_of(&host.identity.name));
    RecoverPending::new(store.clone(), store.clone(), Arc::new(TokioTimer), host.settings.recovery.per_second)
        .continuing_traces(store)
}

/// Once the schema is in place, runs `pass` every `interval` (the first one
/// interval after the start) until `stop`, which also abandons a pass.
pub(crate) async fn every<F: Future<Output = ()>>(
    interval: Duration,
    schema_ready: watch::Receiver<bool>,
    stop: &CancellationToken,
    pass: impl Fn() -> F,
) {
    if !schema_in_place(schema_ready, stop).await {
        return;
    }
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = stop.cancelled() => return,
        }
        tokio::select! {
            () = pass() => {}
            () = stop.cancelled() => return,
        }
    }
}

/// Waits until the schema is in place; `false` when the process stops first.
async fn schema_in_place(mut schema_ready: watch::Receiver<bool>, stop: &CancellationToken) -> bool {
    tokio::select! {
        ready = schema_ready.wait_for(|ready| *ready) => ready.is_ok(),
        () = stop.cancelled() => false,
    }
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
        let schema_ready = host.schema_ready.clone();
        Ok(async move {
            if !enabled || !schema_in_place(schema_ready, &stop).await {
                return Ok(());
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

/// The reconciliation sweep (SPEC §9): every `recovery.sweep_interval_secs`,
/// one pass over the requests stalled for `recovery.stalled_after_secs`
/// (waiting in linebacker with no event left in the outbox) and the `Sent`
/// ones whose reply is overdue (`recovery.resend_sent_after_secs`), by
/// whichever receiver takes the recovery lock. A failed pass is logged and
/// the next interval tries again.
pub struct ReconciliationSweep;

impl Component for ReconciliationSweep {
    fn name(&self) -> &'static str {
        "reconciliation-sweep"
    }

    fn start(self: Box<Self>, host: &Arc<Host>, stop: CancellationToken) -> anyhow::Result<Work> {
        let settings = &host.settings.recovery;
        let (interval, stalled_after) = (settings.sweep_interval(), settings.stalled_after());
        let stalled_after = chrono::Duration::from_std(stalled_after)?;
        // A pass's cutoff is `stalled_after` ago, and it resends what was
        // sent that long before its cutoff: so `Sent` requests older than
        // `resend_sent_after` in all.
        let resend_after = settings.resend_sent_after().saturating_sub(settings.stalled_after());
        let sweep = recovery(host).only_stalled().resending_sent_after(resend_after);
        let sweeper = Sweeper { sweep, database: host.database.clone(), by: host.identity.name.clone() };
        let schema_ready = host.schema_ready.clone();
        Ok(async move {
            every(interval, schema_ready, &stop, || sweeper.pass(chrono::Utc::now() - stalled_after)).await;
            Ok(())
        }
        .boxed())
    }
}

struct Sweeper {
    sweep: RecoverPending,
    database: Database,
    by: String,
}

impl Sweeper {
    async fn pass(&self, cutoff: chrono::DateTime<chrono::Utc>) {
        match self.sweep.execute(cutoff).await {
            Ok(Recovery::Completed(summary)) => self.record(&summary).await,
            Ok(Recovery::Busy) => {}
            Err(error) => tracing::warn!(error = %format!("{error:#}"), "reconciliation sweep failed; the next one tries again"),
        }
    }

    async fn record(&self, summary: &RecoverySummary) {
        metrics().sweep_runs.inc();
        metrics().sweep_reemitted.inc_by(summary.reemitted);
        let record = SweepRecord {
            swept_at: chrono::Utc::now(),
            reemitted: i64::try_from(summary.reemitted - summary.sent).unwrap_or(i64::MAX),
            resent: i64::try_from(summary.sent).unwrap_or(i64::MAX),
            swept_by: self.by.clone(),
        };
        tracing::info!(reemitted = record.reemitted, resent = record.resent, "reconciliation sweep done");
        if let Err(error) = self.database.record_sweep(&record).await {
            tracing::warn!(error = %format!("{error:#}"), "the sweep's record could not be stored");
        }
    }
}
