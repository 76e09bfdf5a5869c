//! Group commit for new requests: `create`s that arrive while earlier ones
//! are being written wait for one of a few writers, which takes every
//! request waiting (up to `MAX_BATCH`) and stores them all with one
//! statement, so that they share one commit. Each caller is answered only
//! once that commit is durable: a 202 still follows its own request's
//! commit, it just does not pay for a commit of its own.
//!
//! A batch that fails for a reason of its rows (a constraint) is written
//! again one request at a time, so one bad request fails alone; a batch that
//! fails because the database is away fails every request in it, as each
//! would have alone.
//!
//! The queue is bounded ([`MAX_WAITING_CREATES`]): while the database falls
//! behind, a create past the bound fails at once as `Unavailable` (the
//! receiver's 503 with `Retry-After`) instead of piling up memory and
//! latency. A create whose caller left before a writer took it (its future
//! dropped) is not written: nobody was answered 202 for it.

use std::sync::Arc;

use futures::future::join_all;
use linebacker_domain::{BackupRequest, DomainError, DomainEvent, TraceParent};
use sqlx::PgPool;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::store::{NewRequest, insert_requests};

/// The most requests one statement writes.
const MAX_BATCH: usize = 64;
/// Writers with a batch in flight at once: while one commits, the next
/// gathers what arrived meanwhile.
const WRITERS: usize = 4;
/// The most creates waiting for a writer (beside the `WRITERS` batches in
/// flight): sixteen full batches, a fraction of a second of work at the
/// rates the receiver reaches, and far beyond what its clients keep
/// waiting while the database keeps up.
pub const MAX_WAITING_CREATES: usize = 16 * MAX_BATCH;

/// One `create` waiting for its commit.
struct Waiting {
    request: BackupRequest,
    trace: Option<TraceParent>,
    by: Arc<str>,
    events: Vec<DomainEvent>,
    done: oneshot::Sender<Result<(), DomainError>>,
}

impl Waiting {
    fn as_new(&self) -> NewRequest<'_> {
        NewRequest { request: &self.request, trace: self.trace.as_ref(), by: &self.by, events: &self.events }
    }
}

/// The queue of waiting `create`s and the writers that empty it. The
/// writers end when the last handle to the queue is dropped.
pub(crate) struct GroupCommit {
    queue: mpsc::Sender<Waiting>,
}

impl GroupCommit {
    /// Starts the writers on the current tokio runtime.
    pub(crate) fn start(pool: PgPool) -> Self {
        let (queue, waiting) = mpsc::channel(MAX_WAITING_CREATES);
        let waiting = Arc::new(Mutex::new(waiting));
        for _ in 0..WRITERS {
            tokio::spawn(write_batches(pool.clone(), waiting.clone()));
        }
        Self { queue }
    }

    /// Stores `request` with its first history row and `events` in the next
    /// batch; returns once that batch is committed.
    pub(crate) async fn create(
        &self,
        request: &BackupRequest,
        trace: Option<&TraceParent>,
        by: &Arc<str>,
        events: &[DomainEvent],
    ) -> Result<(), DomainError> {
        let (done, answer) = oneshot::channel();
        let waiting =
            Waiting { request: request.clone(), trace: trace.cloned(), by: by.clone(), events: events.to_vec(), done };
        self.queue.try_send(waiting).map_err(|error| match error {
            TrySendError::Full(_) => DomainError::unavailable(anyhow::anyhow!(
                "{MAX_WAITING_CREATES} new requests are already waiting for the database"
            )),
            TrySendError::Closed(_) => stopped(),
        })?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> DomainError {
    DomainError::unavailable(anyhow::anyhow!("the request writer has stopped"))
}

/// One writer: takes every request waiting, writes those whose caller is
/// still there, answers them.
async fn write_batches(pool: PgPool, waiting: Arc<Mutex<mpsc::Receiver<Waiting>>>) {
    loop {
        let mut batch = Vec::new();
        {
            let mut waiting = waiting.lock().await;
            if waiting.recv_many(&mut batch, MAX_BATCH).await == 0 {
                return;
            }
        }
        batch.retain(|waiting| !waiting.done.is_closed());
        if !batch.is_empty() {
            write(&pool, batch).await;
        }
    }
}

async fn write(pool: &PgPool, batch: Vec<Waiting>) {
    let rows: Vec<NewRequest<'_>> = batch.iter().map(Waiting::as_new).collect();
    let outcome = insert_requests(pool, &rows).await;
    drop(rows);
    match outcome {
        Ok(()) => {
            for waiting in batch {
                let _ = waiting.done.send(Ok(()));
            }
        }
        Err(error) if error.is_transient() || batch.len() == 1 => {
            let reason = format!("{error:#}");
            let transient = error.is_transient();
            let mut first = Some(error);
            for waiting in batch {
                // Every request of the batch failed for the same reason.
                let error = first.take().unwrap_or_else(|| {
                    let copy = anyhow::anyhow!("{reason}");
                    if transient { DomainError::unavailable(copy) } else { DomainError::Unexpected(copy) }
                });
                let _ = waiting.done.send(Err(error));
            }
        }
        Err(_) => {
            let alone = batch.iter().map(|waiting| async move { insert_requests(pool, &[waiting.as_new()]).await });
            let outcomes = join_all(alone).await;
            for (waiting, outcome) in batch.into_iter().zip(outcomes) {
                let _ = waiting.done.send(outcome);
            }
        }
    }
}
