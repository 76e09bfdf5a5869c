//! `linebacker-admin migrate` against the real PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a failed step is the failure

mod support;

use linebacker_testkit::fresh_database;
use support::admin;
use sqlx::Connection;

#[tokio::test]
async fn migrate_creates_the_tables_and_can_run_again() {
    let database = fresh_database().await.unwrap();
    for _ in 0..2 {
        let output = admin(&["migrate"], &database.url).await;
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    let mut connection = sqlx::PgConnection::connect(&database.url).await.unwrap();
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('backup_requests', 'outbox')",
    )
    .fetch_one(&mut connection)
    .await
    .unwrap();
    assert_eq!(tables, 2);
}

#[tokio::test]
async fn migrate_fails_with_a_clear_message_when_the_database_is_unreachable() {
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let output = admin(&["migrate"], &format!("postgres://postgres@127.0.0.1:{closed_port}/nothing")).await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot apply migrations"), "{stderr}");
}

#[tokio::test]
async fn invalid_configuration_exits_2_naming_the_key() {
    let output = admin(&["migrate"], "mysql://nope").await;
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("database.url"));
}
