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

/// A pool on a port nothing listens on.
#[allow(dead_code)] // not every test file needs one
pub fn unreachable_database() -> Database {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    Database::connect_lazy(&PgConfig {
        options: format!("postgres://postgres@127.0.0.1:{port}/nothing").parse().unwrap(),
        max_connections: 2,
        acquire_timeout: Duration::from_secs(1),
    })
    .unwrap()
}
