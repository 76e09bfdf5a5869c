//! The receiver process assembled from its settings: the database pool, the
//! message bus, the outbox relay, the start-up work and the HTTP server,
//! with the order in which they stop.

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::middleware::ErrorHandlers;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use linebacker_azure_queue::QueueClient;
use linebacker_domain::ports::MessageBus;
use linebacker_domain::usecase::{BrowseRequests, CancelBackupRequest, CreateBackupRequest, GetBackupRequest, RecoverPending};
use linebacker_memory::InMemoryBus;
use linebacker_postgres::{Database, OutboxRelay};
use linebacker_rabbitmq::RabbitBus;
use linebacker_runtime::{Settings, TokioTimer};
use linebacker_runtime::settings::BusKind;
use linebacker_runtime::health::{Identity, UsageMeter};
use linebacker_runtime::metrics::metrics;
use linebacker_platform::heartbeat::{self, Roster};
use linebacker_platform::retry_until_done;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;


use crate::auth::Authenticator;
use crate::routes::{self, ApiState, Broker, HealthState};

/// How long closing the connections may take once everything else stopped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// The stop deadline split between its phases: HTTP requests in flight first,
/// then the relay's last pass, then closing connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StopBudget {
    /// actix counts its graceful-stop timeout in whole seconds.
    http_secs: u64,
    relay_flush: Duration,
}

impl StopBudget {
    fn split(deadline: Duration) -> Self {
        let http_secs = (deadline.as_secs() / 2).max(1);
        let relay_flush = deadline
            .saturating_sub(Duration::from_secs(http_secs))
            .saturating_sub(CLOSE_TIMEOUT / 2)
            .max(Duration::from_millis(200));
        Self { http_secs, relay_flush }
    }
}

pub struct Application {
    port: u16,
    server: Server,
    stopping: CancellationToken,
    budget: StopBudget,
    relay_stop: CancellationToken,
    relay: JoinHandle<()>,
    /// Stops the start-up retries (migrations, topology) if they still run,
    /// and the heartbeat listener.
    background: CancellationToken,
    /// Stops the heartbeats; the last one says goodbye.
    beating_stop: CancellationToken,
    beating: Option<JoinHandle<()>>,
    database: Database,
    rabbit: Option<Arc<RabbitBus>>,
}

impl Application {
    /// Builds every part and binds the listener (`http.port = 0` picks a free
    /// port), but connects to nothing yet: dependencies that are down at start
    /// are retried in the background while the API answers 503.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        // Recovery re-emits what was left waiting before this moment.
        let started_at = linebacker_domain::request::now();
        // First, so that a taken port fails the start before anything runs.
        let listener = bind_api_port(&settings.http.host, settings.http.port)
            .with_context(|| format!("binding http.host:http.port = {}:{}", settings.http.host, settings.http.port))?;
        let port = listener.local_addr()?.port();
        let database = Database::connect_lazy(&settings.database.pool_options()?)
            .map_err(anyhow::Error::from)
            .context("database.url")?;
        let (bus, rabbit): (Arc<dyn MessageBus>, _) = match settings.bus.kind {
            BusKind::Rabbitmq => {
                let bus = Arc::new(RabbitBus::new(settings.rabbitmq.bus_settings(&settings.retry, &settings.process_name("http-receiver"))));
                (bus.clone(), Some(bus))
            }
            BusKind::Memory => (Arc::new(InMemoryBus::with_retry_policy(settings.retry.policy())), None),
        };

        let background = CancellationToken::new();
        let schema_ready = spawn_migrations(&settings, &database, &background);
        if let Some(bus) = rabbit.clone() {
            tokio::spawn(retry_until_done("declaring the broker topology", background.clone(), move || {
                let bus = bus.clone();
                async move { bus.declare_topology().await }
            }));
        }

        let budget = StopBudget::split(settings.shutdown_deadline());
        let relay_stop = CancellationToken::new();
        let relay = OutboxRelay::new(
            database.clone(),
            bus,
            settings.outbox.relay_config(),
        )
        .observing(Arc::new(|events| metrics().observe_published(events)));
        let relay = tokio::spawn(run_relay(relay, schema_ready.clone(), relay_stop.clone(), budget.relay_flush));

        let stopping = CancellationToken::new();
        let identity = Identity::this_process("http-receiver", settings.instance);
        let store = Arc::new(database.store_of(&identity.name));
        let per_second = settings.recovery.per_second;
        let recover = Arc::new(
            RecoverPending::new(store.clone(), store.clone(), Arc::new(TokioTimer), per_second)
                .resending_sent_after(settings.recovery.resend_sent_after())
                .continuing_traces(store.clone()),
        );
        if settings.recovery.on_start {
            crate::recovery::spawn_startup_recovery(recover.clone(), started_at, schema_ready.clone(), stopping.clone());
        }
        let roster = Arc::new(Roster::new(identity.key(), &settings.heartbeat));
        let health = HealthState {
            identity,
            usage: UsageMeter::new(),
            roster: roster.clone(),
            settings: settings.heartbeat.clone(),
            interface_queues: interface_queues(&settings),
        };
        let state = web::Data::new(ApiState {
            create: Arc::new(CreateBackupRequest::new(store.clone())),
            get: Arc::new(GetBackupRequest::new(store.clone(), store.clone())),
            browse: Arc::new(BrowseRequests::new(store.clone(), store.clone())),
            cancel: Arc::new(CancelBackupRequest::new(store)),
            recover,
            runtime: tokio::runtime::Handle::current(),
            database: database.clone(),
            broker: rabbit.clone().map_or(Broker::InMemory, Broker::Rabbit),
            schema_ready,
            stopping: stopping.clone(),
            retry_after_secs: settings.http.retry_after_secs,
            body_limit_bytes: settings.http.body_limit_bytes,
            dead_letters: linebacker_platform::DeadLetterQueues::new(&settings, rabbit.as_deref().cloned()),
            health,
            samples: Arc::new(crate::dashboard::samples::SampleRing::new(crate::dashboard::samples::KEPT)),
        });
        crate::dashboard::samples::spawn_sampling(state.clone(), background.clone());
        let beating_stop = CancellationToken::new();
        let mut beating = None;
        if let Some(bus) = rabbit.as_deref() {
            heartbeat::spawn_listening(bus.clone(), roster, background.clone());
            let reporting = state.clone();
            let own_health = move || {
                let state = reporting.clone();
                async move { routes::zpages::own_health(&state).await }
            };
            beating = Some(heartbeat::spawn_beating(bus.clone(), &settings.heartbeat, own_health, beating_stop.clone()));
        }

        let clients = Arc::new(database.store());
        let authenticator = web::Data::new(Authenticator::from_settings(&settings, clients, background.clone())?);
        let server = http_server(state, authenticator, listener, budget.http_secs)?;
        tracing::info!(port, "http-receiver listening");

        Ok(Self { port, server, stopping, budget, relay_stop, relay, background, beating_stop, beating, database, rabbit })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown` is cancelled, then stops in order: livez turns
    /// 503 and no new connection is accepted, requests in flight finish, the
    /// relay publishes what they stored, connections close.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let mut server = tokio::spawn(self.server);
        let served = tokio::select! {
            served = &mut server => Some(served),
            () = shutdown.cancelled() => None,
        };
        tracing::info!("stopping: finishing requests in flight");
        self.stopping.cancel();
        let served = match served {
            Some(served) => served,
            None => {
                handle.stop(true).await;
                server.await
            }
        };

        self.relay_stop.cancel();
        let relay_limit = self.budget.relay_flush + CLOSE_TIMEOUT;
        if tokio::time::timeout(relay_limit, self.relay).await.is_err() {
            tracing::warn!("the outbox relay did not finish its last pass in time; the outbox keeps the rest");
        }
        self.background.cancel();
        self.beating_stop.cancel();
        if let Some(beating) = self.beating {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, beating).await;
        }
        if let Some(bus) = &self.rabbit {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, bus.close()).await;
        }
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.database.pool().close()).await;
        tracing::info!("stopped");

        served.context("the HTTP server task failed")?.context("the HTTP server failed")
    }
}

/// Binds the API port with `SO_REUSEPORT`, so that several receiver
/// instances on one host (PM2 `instances`, fork mode) share it and the kernel
/// spreads connections over them.
fn bind_api_port(host: &str, port: u16) -> anyhow::Result<std::net::TcpListener> {
    use std::net::ToSocketAddrs;

    let address = (host, port).to_socket_addrs()?.next().context("the host resolves to no address")?;
    let socket = if address.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.bind(address)?;
    Ok(socket.listen(1024)?.into_std()?)
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
            .configure(routes::configure)
            .configure(crate::openapi::configure)
            // A resource, so that another method is 405 with `Allow`, not 404.
            .service(web::resource("/metrics").route(web::get().to(crate::observe::metrics_page)))
            .default_service(web::to(routes::not_found))
    })
    // The process's own signal handling (runtime::shutdown_on_signals)
    // decides when to stop, and in which order.
    .disable_signals()
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

/// Applies migrations in the background when `database.migrate_on_start`;
/// the receiver tells whether the schema is in place.
fn spawn_migrations(settings: &Settings, database: &Database, stop: &CancellationToken) -> watch::Receiver<bool> {
    let migrate = settings.database.migrate_on_start;
    let (ready, schema_ready) = watch::channel(!migrate);
    if migrate {
        let database = database.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            if retry_until_done("applying database migrations", stop, || database.migrate()).await {
                ready.send_replace(true);
            }
        });
    }
    schema_ready
}

/// The relay needs the outbox table: it starts once the schema is in place.
async fn run_relay(
    relay: OutboxRelay,
    mut schema_ready: watch::Receiver<bool>,
    stop: CancellationToken,
    flush_deadline: Duration,
) {
    tokio::select! {
        ready = schema_ready.wait_for(|ready| *ready) => {
            if ready.is_err() {
                return;
            }
        }
        () = stop.cancelled() => return,
    }
    relay.run(stop, flush_deadline).await;
}


#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_stop_deadline_leaves_time_for_the_relay_and_for_closing() {
        let budget = StopBudget::split(Duration::from_millis(5000));
        assert_eq!(budget, StopBudget { http_secs: 2, relay_flush: Duration::from_millis(2500) });
        let budget = StopBudget::split(Duration::from_millis(8000));
        assert_eq!(budget, StopBudget { http_secs: 4, relay_flush: Duration::from_millis(3500) });
        assert!(StopBudget::split(Duration::from_millis(100)).relay_flush >= Duration::from_millis(200));
    }
}
