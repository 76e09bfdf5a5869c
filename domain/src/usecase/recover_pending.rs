//! Recovery (SPEC §6): requests left waiting in linebacker (`Received` or
//! `Allowed`) since before a cutoff get their next step's event again, through
//! the outbox, so a message lost with a crashed process or a restored
//! database does not strand them. The consumers are idempotent, so an event
//! that was not lost after all costs nothing but a skipped message.
//!
//! Contract of a pass:
//! - it runs only while holding the `RecoveryLock`: of several receivers
//!   starting at once one recovers and the others return `Busy`;
//! - it pages through the pending requests by id and re-emits each batch in
//!   one transaction that marks the requests changed, so within a pass (and
//!   in any later pass with the same or an earlier cutoff) a request is
//!   re-emitted at most once;
//! - it never changes a request's status;
//! - it is paced: at most about `per_second` requests a second, so a large
//!   backlog does not flood the workers of a system that has just started.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::instrument;

use crate::error::DomainError;
use crate::event::{DomainEvent, EventType};
use crate::ports::{PendingRequests, RecoveryLock, Reemission, RequestTraces, Timer, Waiting};
use crate::request::{BackupRequest, BackupRequestId, StatusTypeCode};
use crate::trace::TraceParent;
use crate::usecase::continued_traces;

/// The most requests read and re-emitted in one transaction.
const MAX_BATCH: u32 = 500;

/// What one recovery pass did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoverySummary {
    /// Requests last changed before this were considered.
    pub cutoff: DateTime<Utc>,
    /// Requests re-emitted, in all and by the status they wait in.
    pub reemitted: u64,
    pub received: u64,
    pub allowed: u64,
    /// `Sent` requests whose reply was overdue, sent to the interface again.
    pub sent: u64,
    /// Requests read as pending that moved on before their batch was written.
    pub skipped: u64,
    pub batches: u64,
}

/// The outcome of asking for a recovery pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    Completed(RecoverySummary),
    /// Another holder of the recovery lock is recovering; nothing was done.
    Busy,
}

pub struct RecoverPending {
    requests: Arc<dyn PendingRequests>,
    lock: Arc<dyn RecoveryLock>,
    timer: Arc<dyn Timer>,
    per_second: u32,
    /// `Sent` requests without a reply for this long are sent again.
    resend_sent_after: Option<Duration>,
    /// Where each request's trace is kept; without it every re-emitted
    /// event starts a trace of its own.
    traces: Option<Arc<dyn RequestTraces>>,
    /// Which waiting requests a pass takes.
    waiting: Waiting,
}

/// The event that restarts the next step of a request waiting in `status`.
fn next_step_event(status: StatusTypeCode) -> Option<EventType> {
    match status {
        StatusTypeCode::Received => Some(EventType::BackupRequestReceived),
        // Allowed: send it. Sent with an overdue reply: send it again.
        StatusTypeCode::Allowed | StatusTypeCode::Sent => Some(EventType::BackupRequestAllowed),
        _ => None,
    }
}

/// The event that restarts `request`, in `trace`.
fn reemission(request: &BackupRequest, trace: &TraceParent) -> Option<Reemission> {
    let event_type = next_step_event(request.status())?;
    Some(Reemission { expected: request.status(), event: DomainEvent::about(event_type, request, Some(trace)) })
}

impl RecoverPending {
    /// `per_second` of 0 is taken as 1.
    pub fn new(
        requests: Arc<dyn PendingRequests>,
        lock: Arc<dyn RecoveryLock>,
        timer: Arc<dyn Timer>,
        per_second: u32,
    ) -> Self {
        Self {
            requests,
            lock,
            timer,
            per_second: per_second.max(1),
            resend_sent_after: None,
            traces: None,
            waiting: Waiting::Any,
        }
    }

    /// Re-emits each request's event in the trace it was received under, so
    /// that its recovered steps are logged with its earlier lines.
    pub fn continuing_traces(mut self, traces: Arc<dyn RequestTraces>) -> Self {
        self.traces = Some(traces);
        self
    }

    /// Leaves out requests whose event is still in the outbox: the
    /// reconciliation sweep's passes (SPEC §9), which run while the system
    /// runs, take only requests whose message was lost.
    pub fn only_stalled(mut self) -> Self {
        self.waiting = Waiting::Stalled;
        self
    }

    /// Also re-emits `Sent` requests whose reply has not come for `after`
    /// (before the cutoff), so that `send-to-interface` sends them again: a
    /// reply lost with a restored database, or never given, does not strand
    /// them. The interface knows a request by its `backupRequestId`.
    pub fn resending_sent_after(mut self, after: Duration) -> Self {
        self.resend_sent_after = Some(after);
        self
    }

    /// Re-emits every request pending since before `cutoff`, unless another
    /// pass holds the lock. The lock is freed when the pass ends, also when
    /// it fails or its future is dropped (a stopping process).
    #[instrument(skip(self))]
    pub async fn execute(&self, cutoff: DateTime<Utc>) -> Result<Recovery, DomainError> {
        let Some(lock) = self.lock.try_lock().await? else {
            tracing::info!("another instance is recovering; this one skips recovery");
            return Ok(Recovery::Busy);
        };
        let pass = self.pass(cutoff).await;
        lock.release().await;
        let summary = pass?;
        tracing::info!(
            reemitted = summary.reemitted,
            received = summary.received,
            allowed = summary.allowed,
            skipped = summary.skipped,
            "recovery pass done"
        );
        Ok(Recovery::Completed(summary))
    }

    async fn pass(&self, cutoff: DateTime<Utc>) -> Result<RecoverySummary, DomainError> {
        let batch_size = self.per_second.min(MAX_BATCH);
        let mut summary =
            RecoverySummary { cutoff, reemitted: 0, received: 0, allowed: 0, sent: 0, skipped: 0, batches: 0 };
        let sent_before = self
            .resend_sent_after
            .and_then(|after| chrono::Duration::from_std(after).ok())
            .map(|after| cutoff - after);
        let started = self.timer.now();
        let mut page = self.requests.pending_before(self.waiting, cutoff, sent_before, None, batch_size).await?;
        while let Some(last) = page.last() {
            let full = page.len() >= batch_size as usize;
            let after = last.backup_request_id().clone();
            let ids: Vec<BackupRequestId> = page.iter().map(|request| request.backup_request_id().clone()).collect();
            let traces = continued_traces(self.traces.as_deref(), &ids).await;
            let batch: Vec<Reemission> = page
                .iter()
                .filter_map(|request| reemission(request, traces.get(request.backup_request_id())?))
                .collect();
            // Pages go by id, so the next one is read while this one is
            // written: they never share a request.
            let next_page = async {
                if full { self.requests.pending_before(self.waiting, cutoff, sent_before, Some(&after), batch_size).await } else { Ok(Vec::new()) }
            };
            let (done, next_page) = futures::join!(self.requests.reemit(cutoff, &batch), next_page);
            let done = done?;
            for entry in batch.iter().filter(|entry| done.contains(&entry.event.backup_request_id)) {
                tracing::info!(backup_request_id = %entry.event.backup_request_id, event = %entry.event.event_type, "re-emitted");
                match entry.expected {
                    StatusTypeCode::Received => summary.received += 1,
                    StatusTypeCode::Sent => summary.sent += 1,
                    _ => summary.allowed += 1,
                }
            }
            summary.reemitted += done.len() as u64;
            summary.skipped += (page.len() - done.len()) as u64;
            summary.batches += 1;
            page = next_page?;
            if page.is_empty() {
                break;
            }
            // Pace to `per_second` a second since the pass started: the time
            // the batches took counts, so only what is left of it is slept.
            let read = summary.reemitted + summary.skipped;
            let due = started + Duration::from_secs_f64(read as f64 / f64::from(self.per_second));
            let pause = due.saturating_duration_since(self.timer.now());
            if !pause.is_zero() {
                self.timer.sleep(pause).await;
            }
        }
        Ok(summary)
    }
}

#[cfg(test)]
mod tests;
