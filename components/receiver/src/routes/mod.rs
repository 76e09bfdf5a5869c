//! The HTTP routes of the receiver (SPEC §3 and the zpages of §7), and the
//! state they share.

mod backup_requests;
mod bodies;
mod browse;
pub(crate) mod operator_dead_letters;
mod operator_recovery;
pub mod zpages;

use std::future::Future;
use std::sync::Arc;

use actix_web::dev::ServiceResponse;
use actix_web::http::header;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use linebacker_domain::DomainError;
use linebacker_domain::usecase::{BrowseRequests, CancelBackupRequest, CreateBackupRequest, GetBackupRequest, RecoverPending};
use linebacker_postgres::Database;
use linebacker_azure_queue::QueueClient;
use linebacker_rabbitmq::RabbitBus;
use linebacker_runtime::health::{Identity, UsageMeter};
use linebacker_runtime::settings::HeartbeatSettings;
use linebacker_platform::heartbeat::Roster;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::error::{ApiError, ErrorCode};

/// The broker as the zpages report it.
#[derive(Clone)]
pub enum Broker {
    Rabbit(Arc<RabbitBus>),
    /// Dev mode: events stay in this process.
    InMemory,
}

/// What the receiver knows to tell about itself and the system.
pub struct HealthState {
    pub identity: Identity,
    pub usage: UsageMeter,
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
    pub database: Database,
    pub broker: Broker,
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
    pub samples: Arc<crate::dashboard::samples::SampleRing>,
}

impl ApiState {
    pub(crate) fn require_schema(&self) -> Result<(), ApiError> {
        if *self.schema_ready.borrow() {
            Ok(())
        } else {
            Err(ApiError::unavailable(self.retry_after_secs))
        }
    }

    fn domain_error(&self, error: DomainError) -> ApiError {
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

/// Registers every route; anything else is answered in the same JSON shape
/// (an unknown path by `not_found`, a method a path does not serve by
/// `method_not_allowed_as_json`).
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(
            web::resource("/api/backup-requests")
                .route(web::post().to(backup_requests::create))
                .route(web::get().to(browse::list)),
        )
        .service(
            web::resource("/api/backup-requests/{backupRequestId}")
                .route(web::get().to(backup_requests::get)),
        )
        .service(
            web::resource("/api/backup-requests/{backupRequestId}/history")
                .route(web::get().to(browse::history)),
        )
        .service(
            web::resource("/api/backup-requests/{backupRequestId}/cancel")
                .route(web::post().to(browse::cancel)),
        )
        .service(
            web::resource("/api/operator/recovery")
                .route(web::post().to(operator_recovery::recover)),
        )
        .configure(operator_dead_letters::routes)
        .configure(crate::dashboard::routes)
        .service(web::resource("/api/zpages/livez").route(web::get().to(zpages::livez)))
        .service(web::resource("/api/zpages/readyz").route(web::get().to(zpages::readyz)))
        .service(web::resource("/api/zpages/healthz").route(web::get().to(zpages::healthz)))
        .service(web::resource("/api/zpages/healthz/all").route(web::get().to(zpages::healthz_all)));
}

pub async fn not_found(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(ErrorCode::NotFound, format!("no route for {}", request.path())))
}

/// A method a resource does not serve: actix answers 405 with the `Allow`
/// header listing the methods it does serve (RFC 9110 §15.5.6); this gives
/// that answer the JSON shape of every other error, keeping `Allow`.
pub fn method_not_allowed_as_json<B>(response: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let (request, answered) = response.into_parts();
    let mut json = ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("{} is not allowed on {}", request.method(), request.path()),
    )
    .error_response();
    if let Some(allow) = answered.headers().get(header::ALLOW) {
        json.headers_mut().insert(header::ALLOW, allow.clone());
    }
    Ok(ErrorHandlerResponse::Response(ServiceResponse::new(request, json).map_into_right_body()))
}
