//! What every PostgreSQL test needs: a database of its own, migrated.

use std::time::Duration;

use linebacker_postgres::{Database, PgConfig};
use linebacker_testkit::fresh_database;

/// A fresh database with linebacker's schema, reached through a pool of
/// `max_connections`.
pub async fn migrated_database(max_connections: u32) -> Database {
    let db = fresh_database().await.unwrap();
    let config = PgConfig { options: db.url.parse().unwrap(), max_connections, acquire_timeout: Duration::from_secs(5) };
    let database = Database::connect_lazy(&config).unwrap();
    database.migrate().await.unwrap();
    database
}

/// An active job that allows requests, storing on `CloudA` under `/store`.
#[allow(dead_code)] // not every test file needs a job
pub fn job() -> linebacker_domain::external::BackupJob {
    linebacker_domain::external::BackupJob {
        backup_job_id: linebacker_domain::BackupJobId::try_from("job-1").unwrap(),
        storage_path_name: "/store".into(),
        backup_provider_code: linebacker_domain::BackupProviderCode::CloudA,
        days_to_keep: 30,
        is_active: true,
        hold_flag: true,
    }
}
