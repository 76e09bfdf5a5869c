//! Recovery against the real PostgreSQL: two passes of the use case racing
//! for the advisory lock. What every store's pending requests, re-emission
//! and lock must do is the contract suites' (`contract.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a failed step is the failure

mod common;

use std::sync::Arc;

use linebacker_domain::StatusTypeCode;
use linebacker_domain::request::now;
use linebacker_domain::testing::fixtures::stored_in;
use linebacker_domain::usecase::{RecoverPending, Recovery};
use linebacker_postgres::{Database, PgStore, SweepRecord};
use linebacker_runtime::TokioTimer;

/// Stores a received request as last changed an hour ago.
async fn stale(database: &Database) {
    let request = stored_in(&database.store(), StatusTypeCode::Received).await;
    sqlx::query("UPDATE backup_requests SET updated_at = now() - interval '1 hour' WHERE backup_request_id = $1")
        .bind(request.backup_request_id().as_str())
        .execute(database.pool())
        .await
        .unwrap();
}

async fn outbox_count(database: &Database) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM outbox").fetch_one(database.pool()).await.unwrap()
}

fn recover(store: PgStore, per_second: u32) -> RecoverPending {
    let store = Arc::new(store);
    RecoverPending::new(store.clone(), store, Arc::new(TokioTimer), per_second)
}

#[tokio::test]
async fn of_two_concurrent_recoveries_one_runs_and_the_other_is_refused() {
    let database = common::migrated_database(10).await;
    for _ in 0..4 {
        stale(&database).await;
    }
    // Two a second: the pass holds the lock for about a second.
    let (first, second) = (recover(database.store(), 2), recover(database.store(), 2));
    let cutoff = now();

    let (a, b) = tokio::join!(first.execute(cutoff), second.execute(cutoff));

    let outcomes = [a.unwrap(), b.unwrap()];
    let busy = outcomes.iter().filter(|o| **o == Recovery::Busy).count();
    assert_eq!(busy, 1, "{outcomes:?}");
    let reemitted: u64 = outcomes
        .iter()
        .map(|o| match o {
            Recovery::Completed(summary) => summary.reemitted,
            Recovery::Busy => 0,
        })
        .sum();
    assert_eq!(reemitted, 4);
    assert_eq!(outbox_count(&database).await, 4);
    // The lock is free again once the pass ended.
    assert!(matches!(first.execute(now()).await.unwrap(), Recovery::Completed(_)));
}

#[tokio::test]
async fn the_last_sweep_is_one_record_replaced_by_each_sweep() {
    let database = common::migrated_database(2).await;
    assert_eq!(database.last_sweep().await.unwrap(), None);
    let at = chrono::DateTime::parse_from_rfc3339("2026-12-04T10:00:00Z").unwrap().to_utc();
    let first = SweepRecord { swept_at: at, reemitted: 3, resent: 1, swept_by: "http-receiver-0".to_owned() };
    database.record_sweep(&first).await.unwrap();
    assert_eq!(database.last_sweep().await.unwrap(), Some(first));

    let second = SweepRecord {
        swept_at: at + chrono::TimeDelta::minutes(1),
        reemitted: 0,
        resent: 0,
        swept_by: "http-receiver-1".to_owned(),
    };
    database.record_sweep(&second).await.unwrap();

    assert_eq!(database.last_sweep().await.unwrap(), Some(second));
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM reconciliation_sweep").fetch_one(database.pool()).await.unwrap();
    assert_eq!(rows, 1);
}
