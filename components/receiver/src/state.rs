//! What every handler of the receiver can reach: the use cases, the
//! process's host, the parking queues and what the health pages and the
//! dashboard keep.

use std::future::Future;
use std::sync::Arc;

use linebacker_azure_queue::QueueClient;
use linebacker_domain::DomainError;
use linebacker_domain::usecase::{BrowseRequests, CancelBackupRequest, CreateBackupRequest, GetBackupRequest, RecoverPending};
use linebacker_platform::Host;
use linebacker_platform::heartbeat::Roster;
use linebacker_postgres::Database;
use linebacker_runtime::settings::HeartbeatSettings;
use tokio::sync::watch;
use tokio::task::{JoinError, JoinHandle};
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use crate::error::{ApiError, ErrorCode};

/// What the receiver knows to tell about the system.
pub struct HealthState {
    /// Every process heard from through its heartbeats.
    pub roster: Arc<Roster>,
    pub settings: HeartbeatSettings,
    /// The BZI's queues (`requests`, `statuses`, `poison`), counted for
    /// `healthz/all`; an invalid account is shown as the error.
    pub interface_queues: Vec<(&'static str, Result<QueueClient, String>)>,
}

/// What every handler can reach.
pub struct ApiState {
    pub create: Arc<CreateBackupRequest>,
    pub get: Arc<GetBackupRequest>,
    pub browse: Arc<BrowseRequests>,
    pub cancel: Arc<CancelBackupRequest>,
    pub recover: Arc<RecoverPending>,
    /// The process's main runtime, where all database work runs (see
    /// `on_main_runtime`).
    pub runtime: tokio::runtime::Handle,
    /// The process: its bus, readiness and health.
    pub host: Arc<Host>,
    pub database: Database,
    /// True once the migrations are applied; until then the tables may not
    /// exist and the API answers 503 rather than a confusing 500.
    pub schema_ready: watch::Receiver<bool>,
    /// Cancelled when the process starts to stop.
    pub stopping: CancellationToken,
    pub retry_after_secs: u32,
    pub body_limit_bytes: usize,
    /// The parking queues operators list, replay and purge.
    pub dead_letters: linebacker_platform::DeadLetterQueues,
    pub health: HealthState,
    /// The dashboard's last hour.
    pub samples: Arc<crate::dashboard::ring::SampleRing>,
}

impl ApiState {
    pub(crate) fn require_schema(&self) -> Result<(), ApiError> {
        if *self.schema_ready.borrow() {
            Ok(())
        } else {
            Err(ApiError::unavailable(self.retry_after_secs))
        }
    }

    pub(crate) fn domain_error(&self, error: DomainError) -> ApiError {
        ApiError::from_domain(error, self.retry_after_secs)
    }

    /// Runs `work` on the main runtime rather than on the actix worker's own.
    /// A pooled connection belongs to the runtime that opened it; opened on
    /// a worker, it would break when the workers stop, just when the relay
    /// needs the pool for its last pass. Running there also lets a started
    /// piece of work finish even if the caller goes away: reads cost little
    /// more to finish than to stop, and an operator's action (a cancel, a
    /// replay, a recovery) is one the operator expects to have happened,
    /// answer seen or not.
    pub(crate) async fn on_main_runtime<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.spawn(work).await.map_err(task_failed)
    }

    /// Runs `work` on the main runtime (see `on_main_runtime`) for as long
    /// as the caller waits: when the handler's future is dropped because the
    /// caller hung up, `work` is dropped where it is. A new request still
    /// waiting for a writer is then not stored, since no 202 was sent for
    /// it; one a writer already took is stored all the same.
    pub(crate) async fn on_main_runtime_while_caller_waits<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, ApiError> {
        AbortOnDropHandle::new(self.spawn(work)).await.map_err(task_failed)
    }

    fn spawn<T: Send + 'static>(&self, work: impl Future<Output = T> + Send + 'static) -> JoinHandle<T> {
        // The span goes along, so the work's lines carry the request's trace.
        self.runtime.spawn(tracing::Instrument::instrument(work, tracing::Span::current()))
    }
}

fn task_failed(error: JoinError) -> ApiError {
    tracing::error!(error = %error, "answering 500: a request's task failed");
    ApiError::new(ErrorCode::Internal, "internal error")
}
