//! The receiver's HTTP service as a component (`HttpService`): the API, the
//! operator endpoints, the zpages under `/api/zpages/` and the dashboard,
//! with what they need beside the server (the heartbeat roster, the
//! dashboard's sampler, the JWKS refresh). `Application` is the
//! http-receiver process made of it and startup recovery, for tests that run
//! the receiver inside their own process.

use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::http::{StatusCode, header};
use actix_web::middleware::{DefaultHeaders, ErrorHandlers};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use futures::FutureExt;
use linebacker_azure_queue::QueueClient;
use linebacker_domain::usecase::{BrowseRequests, CancelBackupRequest, CreateBackupRequest, GetBackupRequest};
use linebacker_platform::heartbeat::{self, Roster};
use linebacker_platform::{Component, DeadLetterQueues, Host, Needs, Process, RunningProcess, Work};
use linebacker_runtime::Settings;
use linebacker_runtime::settings::HttpSettings;
use tokio_util::sync::CancellationToken;

use crate::auth::Authenticator;
use crate::recovery::{ReconciliationSweep, StartupRecovery, recover_pending};
use crate::retention::Retention;
use crate::routes;
use crate::state::{ApiState, HealthState};

/// The receiver's HTTP service.
#[derive(Default)]
pub struct HttpService {
    /// Bound ahead of the start (to learn a port picked by the system), or
    /// bound at the start from `http.*`.
    listener: Option<std::net::TcpListener>,
}

impl HttpService {
    /// The service on a port bound now (`http.port = 0` picks a free one).
    pub fn bind(http: &HttpSettings) -> anyhow::Result<Self> {
        Ok(Self { listener: Some(bind_api_port(http)?) })
    }

    pub fn port(&self) -> Option<u16> {
        self.listener.as_ref().and_then(|listener| listener.local_addr().ok()).map(|address| address.port())
    }
}

impl Component for HttpService {
    fn name(&self) -> &'static str {
        "http-service"
    }

    fn needs(&self) -> Needs {
        Needs { serves_zpages: true, ..Needs::default() }
    }

    fn start(self: Box<Self>, host: &Arc<Host>, stop: CancellationToken) -> anyhow::Result<Work> {
        let settings = &host.settings;
        let listener = match self.listener {
            Some(listener) => listener,
            None => bind_api_port(&settings.http)?,
        };
        let port = listener.local_addr()?.port();
        // Its side tasks end once the server has stopped.
        let background = CancellationToken::new();
        let state = api_state(host);
        crate::dashboard::samples::spawn_sampling(state.clone(), background.clone());
        if let Some(bus) = host.bus.rabbit() {
            heartbeat::spawn_listening(bus.clone(), state.health.roster.clone(), background.clone());
        }
        let clients = Arc::new(host.database.store());
        let authenticator = web::Data::new(Authenticator::from_settings(settings, clients, background.clone())?);
        let stop_secs = (settings.shutdown_deadline().as_secs() / 2).max(1);
        let server = http_server(state, authenticator, listener, stop_secs)?;
        tracing::info!(port, "http-receiver listening");
        Ok(serve(server, stop, background).boxed())
    }
}

/// Serves until `stop`; then no new connection is accepted and the
/// requests in flight finish.
async fn serve(server: Server, stop: CancellationToken, background: CancellationToken) -> anyhow::Result<()> {
    let handle = server.handle();
    let mut server = tokio::spawn(server);
    let served = tokio::select! {
        served = &mut server => served,
        () = stop.cancelled() => {
            handle.stop(true).await;
            server.await
        }
    };
    background.cancel();
    served.context("the HTTP server task failed")?.context("the HTTP server failed")
}

/// What every handler can reach, built from the process's host.
fn api_state(host: &Arc<Host>) -> web::Data<ApiState> {
    let settings = &host.settings;
    let store = Arc::new(host.database.store_of(&host.identity.name));
    web::Data::new(ApiState {
        create: Arc::new(CreateBackupRequest::new(store.clone())),
        get: Arc::new(GetBackupRequest::new(store.clone(), store.clone())),
        browse: Arc::new(BrowseRequests::new(store.clone(), store.clone())),
        cancel: Arc::new(CancelBackupRequest::new(store)),
        recover: recover_pending(host),
        runtime: tokio::runtime::Handle::current(),
        host: host.clone(),
        database: host.database.clone(),
        schema_ready: host.schema_ready.clone(),
        stopping: host.stopping.clone(),
        retry_after_secs: settings.http.retry_after_secs,
        body_limit_bytes: settings.http.body_limit_bytes,
        dead_letters: DeadLetterQueues::of(host),
        health: HealthState {
            roster: Arc::new(Roster::new(host.identity.key(), &settings.heartbeat)),
            settings: settings.heartbeat.clone(),
            interface_queues: interface_queues(settings),
        },
        samples: Arc::new(crate::dashboard::ring::SampleRing::new(crate::dashboard::ring::KEPT)),
    })
}

/// The http-receiver process run inside the caller's: the HTTP service on a
/// port bound at once, and startup recovery.
pub struct Application {
    port: u16,
    process: RunningProcess,
}

impl Application {
    /// Builds every part and binds the listener (`http.port = 0` picks a free
    /// port), but connects to nothing yet: dependencies that are down at start
    /// are retried in the background while the API answers 503.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        // First, so that a taken port fails the start before anything runs.
        let service = HttpService::bind(&settings.http)?;
        let port = service.port().context("the API listener has no local address")?;
        let process = Process::new("http-receiver").with(StartupRecovery).with(ReconciliationSweep).with(Retention).with(service).start(settings)?;
        Ok(Self { port, process })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown` is cancelled, then stops in order: livez turns
    /// 503 and no new connection is accepted, requests in flight finish, the
    /// relay publishes what they stored, connections close.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        self.process.run_until(shutdown).await
    }
}

/// Binds the API port with `SO_REUSEPORT`, so that several receiver
/// instances on one host (PM2 `instances`, fork mode) share it and the kernel
/// spreads connections over them.
fn bind_api_port(http: &HttpSettings) -> anyhow::Result<std::net::TcpListener> {
    use std::net::ToSocketAddrs;

    let bind = || -> anyhow::Result<std::net::TcpListener> {
        let address = (http.host.as_str(), http.port).to_socket_addrs()?.next().context("the host resolves to no address")?;
        let socket = if address.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
        socket.set_reuseaddr(true)?;
        socket.set_reuseport(true)?;
        socket.bind(address)?;
        Ok(socket.listen(1024)?.into_std()?)
    };
    bind().with_context(|| format!("binding http.host:http.port = {}:{}", http.host, http.port))
}

/// The HTTP server on `listener`, stopping gracefully within `stop_secs`.
fn http_server(
    state: web::Data<ApiState>,
    authenticator: web::Data<Authenticator>,
    listener: std::net::TcpListener,
    stop_secs: u64,
) -> anyhow::Result<Server> {
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(authenticator.clone())
            .wrap(ErrorHandlers::new().handler(StatusCode::METHOD_NOT_ALLOWED, routes::method_not_allowed_as_json))
            .wrap_fn(crate::observe::observe)
            // Outermost, so every answer has it: no browser guesses a
            // content type from a body (an error echoing input as HTML).
            .wrap(DefaultHeaders::new().add((header::X_CONTENT_TYPE_OPTIONS, "nosniff")))
            .configure(routes::configure)
            .configure(crate::openapi::configure)
            // A resource, so that another method is 405 with `Allow`, not 404.
            .service(web::resource("/metrics").route(web::get().to(routes::metrics::metrics_page)))
            .default_service(web::to(routes::not_found))
    })
    // The process's own signal handling (runtime::shutdown_on_signals)
    // decides when to stop, and in which order.
    .disable_signals()
    // A caller that closes its side of the connection has hung up: its
    // handler is dropped rather than run on for nobody, so that a new
    // request still waiting for a writer is not stored (no 202 was sent for
    // it). With half-closed connections allowed, actix would keep the
    // handler running until it answered into the closed connection.
    .h1_allow_half_closed(false)
    .shutdown_timeout(stop_secs)
    .listen(listener)?
    .run();
    Ok(server)
}

/// The BZI's queues, as `healthz/all` names them.
fn interface_queues(settings: &Settings) -> Vec<(&'static str, Result<QueueClient, String>)> {
    let config = settings.azure_queue.service_config();
    let azure = &settings.azure_queue;
    [("requests", &azure.requests_queue), ("statuses", &azure.statuses_queue), ("poison", &azure.poison_queue)]
        .into_iter()
        .map(|(role, name)| (role, QueueClient::new(&config, name).map_err(|error| format!("{error:#}"))))
        .collect()
}
