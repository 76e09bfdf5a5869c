//! The life of a worker process: settings and logs, adapters built from the
//! settings (connecting lazily, so the process starts while a dependency is
//! down), zpages, an outbox relay for the events its use case writes; then
//! the work, until SIGINT or SIGTERM; then a graceful stop: no new work,
//! in-flight work finished within `shutdown.deadline_ms`, the outbox flushed,
//! connections closed, exit 0.

use std::future::Future;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use linebacker_domain::ports::MessageBus;
use linebacker_domain::usecase::MessageHandler;
use linebacker_memory::InMemoryBus;
use linebacker_postgres::{Database, OutboxRelay, PgStore};
use linebacker_rabbitmq::RabbitBus;
use linebacker_runtime::health::{Identity, Readiness, UsageMeter, common_health};
use linebacker_runtime::metrics::metrics;
use linebacker_runtime::settings::BusKind;
use linebacker_runtime::{Settings, shutdown_on_signals, telemetry};
use tokio_util::sync::CancellationToken;

use crate::breaker::Breaker;
use crate::consumer::{ConsumerConfig, ConsumerStats, consume};
use crate::guard::Guarded;
use crate::retry::retry_until_done;
use crate::zpages;

/// What a worker's use case gets from its process.
pub struct Host {
    pub process: &'static str,
    pub settings: Settings,
    pub database: Database,
    pub bus: Arc<dyn MessageBus>,
    /// Cancelled on SIGINT/SIGTERM: stop taking new work.
    pub shutdown: CancellationToken,
    pub stats: Arc<ConsumerStats>,
    rabbit: Option<RabbitBus>,
    pub identity: Identity,
    usage: UsageMeter,
    stopping: AtomicBool,
    /// One breaker per dependency the work needs, made by `breaker`.
    breakers: Mutex<Vec<Arc<Breaker>>>,
}

impl Host {
    /// Builds the adapters from `settings`; nothing connects yet.
    pub fn new(process: &'static str, settings: Settings, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let settings_instance = settings.instance;
        let database = Database::connect_lazy(&settings.database.pool_options()?)?;
        let (bus, rabbit): (Arc<dyn MessageBus>, _) = match settings.bus.kind {
            BusKind::Rabbitmq => {
                let rabbit = RabbitBus::new(settings.rabbitmq.bus_settings(&settings.retry, &settings.process_name(process)));
                (Arc::new(rabbit.clone()), Some(rabbit))
            }
            BusKind::Memory => (Arc::new(InMemoryBus::with_retry_policy(settings.retry.policy())), None),
        };
        Ok(Self {
            process,
            settings,
            database,
            bus,
            shutdown,
            stats: Arc::new(ConsumerStats::default()),
            rabbit,
            identity: Identity::this_process(process, settings_instance),
            usage: UsageMeter::new(),
            stopping: AtomicBool::new(false),
            breakers: Mutex::new(Vec::new()),
        })
    }

    /// The breaker of dependency `name`, made on first use. Every breaker of
    /// the process gates its consumption.
    pub fn breaker(&self, name: &'static str) -> Arc<Breaker> {
        let mut breakers = self.breakers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = breakers.iter().find(|b| b.name == name) {
            return existing.clone();
        }
        let breaker = Arc::new(Breaker::new(name, self.settings.breaker.config()));
        breakers.push(breaker.clone());
        breaker
    }

    /// `port` behind the breaker of dependency `name`.
    pub fn guarded<T>(&self, name: &'static str, port: T) -> Arc<Guarded<T>> {
        Arc::new(Guarded::new(port, self.breaker(name)))
    }

    /// The request and Backup repositories, behind the database's breaker.
    pub fn store(&self) -> Arc<Guarded<PgStore>> {
        self.guarded("database", self.database.store_of(&self.identity.name))
    }

    /// Every breaker's state, for health pages.
    pub fn breaker_states(&self) -> serde_json::Value {
        let breakers = self.breakers.lock().unwrap_or_else(PoisonError::into_inner);
        breakers.iter().map(|b| (b.name.to_owned(), serde_json::Value::from(b.state_name()))).collect()
    }

    /// Every breaker's state as a metric (`Breaker::level`).
    pub fn breaker_levels(&self) -> Vec<(&'static str, i64)> {
        self.all_breakers().iter().map(|b| (b.name, b.level())).collect()
    }

    fn all_breakers(&self) -> Vec<Arc<Breaker>> {
        self.breakers.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Whether this process's dependencies are usable now: the database and
    /// the broker answer, and no breaker is open (its external system, or
    /// the database, keeps failing). With each dependency's state.
    pub async fn readiness(&self) -> Readiness {
        let database = self.database.is_ready().await;
        let broker = match &self.rabbit {
            Some(rabbit) if rabbit.is_connected() => "up",
            Some(_) => "down",
            None => "in-memory",
        };
        let breakers = self.all_breakers();
        let ready = database && broker != "down" && !breakers.iter().any(|b| b.is_open());
        let mut dependencies = serde_json::json!({
            "database": if database { "up" } else { "down" },
            "broker": broker,
        });
        if let serde_json::Value::Object(fields) = &mut dependencies {
            for breaker in breakers.iter().filter(|b| b.name != "database") {
                fields.insert(breaker.name.to_owned(), serde_json::Value::from(breaker.state_name()));
            }
        }
        Readiness { ready, stopping: self.is_stopping() || self.shutdown.is_cancelled(), dependencies }
    }

    /// This process's `healthz` (SPEC §7), also sent as its heartbeat.
    pub async fn health(&self) -> serde_json::Value {
        let mut health = common_health(&self.identity, &self.usage, self.readiness().await);
        if let serde_json::Value::Object(fields) = &mut health {
            fields.insert("breakers".to_owned(), self.breaker_states());
            fields.insert("messages".to_owned(), self.stats.snapshot());
        }
        health
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Consumes the work queue of `handler` until shutdown.
    pub async fn consume(&self, queue: linebacker_domain::ports::WorkQueue, handler: Arc<dyn MessageHandler>) {
        let config = ConsumerConfig {
            queue,
            prefetch: self.settings.rabbitmq.prefetch,
            max_attempts: self.settings.worker.max_attempts,
            not_found_grace: self.settings.worker.not_found_grace(),
        };
        let breakers = self.all_breakers();
        consume(self.bus.clone(), handler, config, self.stats.clone(), breakers, self.shutdown.clone()).await;
    }

    /// Readies the database and the broker in the background, retrying
    /// with backoff until they answer: a dependency that is down at start
    /// shows in `readyz`, it does not crash the process.
    fn prepare_dependencies(self: &Arc<Self>) {
        if self.settings.database.migrate_on_start {
            let database = self.database.clone();
            let stop = self.shutdown.clone();
            tokio::spawn(async move { retry_until_done("applying migrations", stop, || database.migrate()).await });
        }
        if let Some(rabbit) = self.rabbit.clone() {
            let stop = self.shutdown.clone();
            tokio::spawn(async move {
                retry_until_done("declaring the broker topology", stop, || rabbit.declare_topology()).await
            });
        }
    }
}

/// Runs a worker process around `work` and returns its exit code: 0 after a
/// graceful stop, 2 for invalid configuration, 1 when it cannot start.
pub async fn run_worker<F, Fut>(process: &'static str, work: F) -> ExitCode
where
    F: FnOnce(Arc<Host>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("{process}: {error}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(process, settings.instance);
    match run(process, settings, work).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "{process} could not run");
            ExitCode::FAILURE
        }
    }
}

async fn run<F, Fut>(process: &'static str, settings: Settings, work: F) -> anyhow::Result<()>
where
    F: FnOnce(Arc<Host>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let shutdown = shutdown_on_signals()?;
    let host = Arc::new(Host::new(process, settings, shutdown.clone())?);
    let deadline = host.settings.shutdown_deadline();
    let zpages = zpages::serve(host.clone())?;
    let zpages_handle = zpages.handle();
    let zpages_task = tokio::spawn(zpages);
    host.prepare_dependencies();
    let beating_stop = CancellationToken::new();
    let beating = host.rabbit.clone().map(|rabbit| {
        let beating = host.clone();
        let health = move || {
            let host = beating.clone();
            async move { host.health().await }
        };
        crate::heartbeat::spawn_beating(rabbit, &host.settings.heartbeat, health, beating_stop.clone())
    });

    // The relay outlives the work, so the events of the last messages go out.
    let relay_stop = CancellationToken::new();
    let relay = OutboxRelay::new(
        host.database.clone(),
        host.bus.clone(),
        host.settings.outbox.relay_config(),
    )
    .observing(Arc::new(|events| metrics().observe_published(events)));
    let relay_task = tokio::spawn(relay.run(relay_stop.clone(), deadline / 4));
    tracing::info!(instance = host.settings.instance, "{process} started");

    let outcome = tokio::select! {
        outcome = work(host.clone()) => outcome,
        _ = async { shutdown.cancelled().await; tokio::time::sleep(deadline * 3 / 4).await } => {
            tracing::warn!("in-flight work did not finish within the shutdown deadline");
            Ok(())
        }
    };
    host.stopping.store(true, Ordering::SeqCst);
    beating_stop.cancel();
    relay_stop.cancel();
    let _ = relay_task.await;
    if let Some(beating) = beating {
        let _ = beating.await;
    }
    if let Some(rabbit) = &host.rabbit {
        rabbit.close().await;
    }
    zpages_handle.stop(true).await;
    let _ = zpages_task.await;
    tracing::info!("{process} stopped");
    outcome
}
