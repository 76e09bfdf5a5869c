//! The PostgreSQL adapter: the repositories of the domain, the migrations,
//! and the transactional outbox with its relay. All SQL of linebacker is here.

mod clients;
mod error;
mod group_commit;
mod outbox;
mod pauses;
mod queries;
mod recovery;
mod retention;
mod rows;
mod stats;
mod store;
mod sweep;
mod traces;

use std::time::Duration;

use linebacker_domain::DomainError;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

pub use error::map_sqlx_error;
pub use group_commit::MAX_WAITING_CREATES;
pub use outbox::{OutboxRelay, PublishedObserver, RelayConfig};
pub use pauses::StagePause;
pub use stats::WorkStats;
pub use store::PgStore;
pub use sweep::SweepRecord;

/// The migrations under `migrations/`, embedded in every binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

pub struct PgConfig {
    /// Where and how to connect, TLS included (`DatabaseSettings::connect_options`).
    pub options: PgConnectOptions,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

/// The connection pool every PostgreSQL adapter shares.
#[derive(Clone)]
pub struct Database {
    pool: PgPool,
}

impl Database {
    /// A pool that connects on first use, so a process starts (and answers
    /// 503) while the database is down, and recovers when it comes back.
    pub fn connect_lazy(config: &PgConfig) -> Result<Self, DomainError> {
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections)
            .acquire_timeout(config.acquire_timeout)
            .connect_lazy_with(config.options.clone());
        Ok(Self { pool })
    }

    /// Applies pending migrations. sqlx holds an advisory lock while it
    /// migrates, so processes starting together apply each migration once.
    pub async fn migrate(&self) -> Result<(), DomainError> {
        MIGRATOR.run(&self.pool).await.map_err(|error| match error {
            sqlx::migrate::MigrateError::Execute(inner) => map_sqlx_error(inner),
            other => DomainError::Unexpected(anyhow::Error::new(other).context("applying migrations")),
        })
    }

    /// Whether the database answers now (for readiness probes).
    pub async fn is_ready(&self) -> bool {
        let ping = sqlx::query("SELECT 1").execute(&self.pool);
        matches!(tokio::time::timeout(Duration::from_secs(2), ping).await, Ok(Ok(_)))
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn store(&self) -> PgStore {
        PgStore::new(self.pool.clone())
    }

    /// The store, naming process instance `instance` in request histories.
    pub fn store_of(&self, instance: &str) -> PgStore {
        self.store().acting_as(instance)
    }
}
