//! What every component of a process shares, built once by the process
//! builder: the settings, the database pool, the message bus (RabbitMQ, or
//! the in-memory bus of dev mode), the process's identity, its breakers and
//! message counts, whether the schema is in place, and the token that says
//! the process is stopping. Connecting is lazy: a process starts while a
//! dependency is down, and shows it in `readyz`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use linebacker_domain::ports::{BackupInterface, BackupJobService, MessageBus, StatusInbox};
use linebacker_memory::InMemoryBus;
use linebacker_postgres::{Database, PgStore};
use linebacker_rabbitmq::RabbitBus;
use linebacker_runtime::Settings;
use linebacker_runtime::health::{Identity, Readiness, UsageMeter, common_health};
use linebacker_runtime::settings::BusKind;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::breaker::Breaker;
use crate::externals::{self, Externals};
use crate::guard::Guarded;
use crate::pause::Pauses;
use crate::stats::ConsumerStats;

/// The message bus the settings chose. The RabbitMQ bus is kept as itself
/// too: the topology, heartbeats, queue counts and dead letters need it.
#[derive(Clone)]
pub enum Bus {
    Rabbit(RabbitBus),
    Memory(InMemoryBus),
}

impl Bus {
    fn from_settings(settings: &Settings, process: &str) -> Self {
        match settings.bus.kind() {
            BusKind::Rabbitmq => {
                let connection = settings.process_name(process);
                Self::Rabbit(RabbitBus::new(settings.rabbitmq.bus_settings(&settings.retry, &connection)))
            }
            BusKind::Memory => Self::Memory(InMemoryBus::with_retry_policy(settings.retry.policy())),
        }
    }

    pub fn port(&self) -> Arc<dyn MessageBus> {
        match self {
            Self::Rabbit(rabbit) => Arc::new(rabbit.clone()),
            Self::Memory(memory) => Arc::new(memory.clone()),
        }
    }

    pub fn rabbit(&self) -> Option<&RabbitBus> {
        match self {
            Self::Rabbit(rabbit) => Some(rabbit),
            Self::Memory(_) => None,
        }
    }

    /// `up`, `down` or `in-memory`, as `readyz` names it.
    pub fn state(&self) -> &'static str {
        match self {
            Self::Rabbit(rabbit) if rabbit.is_connected() => "up",
            Self::Rabbit(_) => "down",
            Self::Memory(_) => "in-memory",
        }
    }
}

/// What a component gets from its process.
pub struct Host {
    pub process: &'static str,
    pub settings: Settings,
    pub database: Database,
    pub bus: Bus,
    pub identity: Identity,
    /// When the process started: startup recovery re-emits what was left
    /// waiting before it.
    pub started_at: DateTime<Utc>,
    /// Cancelled once the process starts to stop (a signal, or a component
    /// that ended): `livez` turns 503 and start-up retries give up.
    pub stopping: CancellationToken,
    /// True once the migrations are applied (at once when the process does
    /// not apply them).
    pub schema_ready: watch::Receiver<bool>,
    /// The job service and the BZI, as configured or as simulated in-process.
    pub externals: Externals,
    /// The stages this process runs, and whether an operator paused them.
    pub pauses: Pauses,
    usage: UsageMeter,
    /// Whether a component of this process needs the broker to work (a
    /// consumer): then a broker that is down makes the process not ready.
    needs_broker: AtomicBool,
    breakers: Mutex<Vec<Arc<Breaker>>>,
    consumers: Mutex<Vec<(String, Arc<ConsumerStats>)>>,
}

impl Host {
    /// Builds the adapters from `settings`; nothing connects yet.
    pub(crate) fn new(
        process: &'static str,
        settings: Settings,
        schema_ready: watch::Receiver<bool>,
    ) -> anyhow::Result<Self> {
        let database = Database::connect_lazy(&settings.database.pool_options()?)?;
        let bus = Bus::from_settings(&settings, process);
        let identity = Identity::this_process(process, settings.instance);
        Ok(Self {
            process,
            database,
            bus,
            identity,
            started_at: linebacker_domain::request::now(),
            stopping: CancellationToken::new(),
            schema_ready,
            externals: Externals::default(),
            pauses: Pauses::default(),
            usage: UsageMeter::new(),
            needs_broker: AtomicBool::new(false),
            breakers: Mutex::new(Vec::new()),
            consumers: Mutex::new(Vec::new()),
            settings,
        })
    }

    pub(crate) fn set_needs_broker(&self, needs: bool) {
        self.needs_broker.store(needs, Ordering::SeqCst);
    }

    /// The bus as the use cases see it.
    pub fn message_bus(&self) -> Arc<dyn MessageBus> {
        self.bus.port()
    }

    /// The breaker of dependency `name`, made on first use and shared by
    /// every component of the process that uses the dependency.
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

    /// The message counts of the consumer of `source` (a work queue, or the
    /// BZI's status queue), made on first use.
    pub fn consumer_stats(&self, source: &str) -> Arc<ConsumerStats> {
        let mut consumers = self.consumers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, existing)) = consumers.iter().find(|(name, _)| name == source) {
            return existing.clone();
        }
        let stats = Arc::new(ConsumerStats::default());
        consumers.push((source.to_owned(), stats.clone()));
        stats
    }

    /// Every consumer's counts, by the queue it reads.
    pub fn all_consumer_stats(&self) -> Vec<(String, Arc<ConsumerStats>)> {
        self.consumers.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Every breaker's state as a metric (`Breaker::level`).
    pub fn breaker_levels(&self) -> Vec<(&'static str, i64)> {
        self.all_breakers().iter().map(|b| (b.name, b.level())).collect()
    }

    fn all_breakers(&self) -> Vec<Arc<Breaker>> {
        self.breakers.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Whether the process can do its work now: the database answers with
    /// the schema in place, the broker answers when a component needs it
    /// (the receiver's outbox keeps events while it is away), and no breaker
    /// is open. With each dependency's state.
    pub async fn readiness(&self) -> Readiness {
        let database = match (self.database.is_ready().await, *self.schema_ready.borrow()) {
            (false, _) => "down",
            (true, false) => "migrating",
            (true, true) => "up",
        };
        let broker = self.bus.state();
        let breakers = self.all_breakers();
        let broker_ok = broker != "down" || !self.needs_broker.load(Ordering::SeqCst);
        let ready = database == "up" && broker_ok && !breakers.iter().any(|b| b.is_open());
        let mut dependencies = serde_json::json!({ "database": database, "broker": broker });
        if let serde_json::Value::Object(fields) = &mut dependencies {
            for breaker in breakers.iter().filter(|b| b.name != "database") {
                fields.insert(breaker.name.to_owned(), serde_json::Value::from(breaker.state_name()));
            }
        }
        Readiness { ready, stopping: self.stopping.is_cancelled(), dependencies }
    }

    /// This process's `healthz` (SPEC §7), also sent as its heartbeat: with
    /// its breakers and message counts when it consumes, and the state of
    /// each stage it runs (`running` or `paused`, SPEC §10).
    pub async fn health(&self) -> serde_json::Value {
        let mut health = common_health(&self.identity, &self.usage, self.readiness().await);
        let stages = self.pauses.states();
        if let (serde_json::Value::Object(fields), false) = (&mut health, stages.is_empty()) {
            let states = stages.into_iter().map(|(stage, state)| (stage.name().to_owned(), serde_json::Value::from(state)));
            fields.insert("stages".to_owned(), states.collect());
        }
        let consumers = self.all_consumer_stats();
        if let (serde_json::Value::Object(fields), false) = (&mut health, consumers.is_empty()) {
            let breakers = self.all_breakers();
            let states = breakers.iter().map(|b| (b.name.to_owned(), serde_json::Value::from(b.state_name())));
            fields.insert("breakers".to_owned(), states.collect());
            let total = ConsumerStats::default();
            for (_, stats) in &consumers {
                total.add(stats);
            }
            fields.insert("messages".to_owned(), total.snapshot());
        }
        health
    }

    /// The backup job service: provided in-process, or over HTTP at
    /// `backup_job_service.url`.
    pub fn job_service(&self) -> anyhow::Result<Arc<dyn BackupJobService>> {
        externals::job_service(&self.externals, &self.settings)
    }

    /// The BZI's request queue: provided in-process, or on Azure.
    pub async fn interface_requests(&self) -> anyhow::Result<Arc<dyn BackupInterface>> {
        externals::interface_requests(&self.externals, &self.settings).await
    }

    /// The BZI's status queue: provided in-process, or on Azure.
    pub async fn status_inbox(&self) -> anyhow::Result<Arc<dyn StatusInbox>> {
        externals::status_inbox(&self.externals, &self.settings).await
    }
}
