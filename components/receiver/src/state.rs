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
use tokio_util::sync::CancellationToken;

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
    /// write finish even if the caller goes away.
    pub(crate) async fn on_main_runtime<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, ApiError> {
        // The span goes along, so the work's lines carry the request's trace.
        let work = tracing::Instrument::instrument(work, tracing::Span::current());
        self.runtime.spawn(work).await.map_err(|error| {
            tracing::error!(error = %error, "answering 500: a request's task failed");
            ApiError::new(ErrorCode::Internal, "internal error")
        })
    }
}
