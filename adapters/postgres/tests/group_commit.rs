//! The group commit of new requests while the database cannot keep up: its
//! queue is bounded, and a create whose caller left before a writer took it
//! is not stored. The database is held back by a lock on `backup_requests`
//! that every insert waits for.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use linebacker_domain::ports::BackupRequestRepository;
use linebacker_domain::testing::fixtures::received;
use linebacker_domain::{BackupRequest, DomainError, DomainEvent, EventType, TraceParent};
use linebacker_postgres::{Database, MAX_WAITING_CREATES, PgStore};
use sqlx::{Postgres, Transaction};

fn received_event(request: &BackupRequest) -> DomainEvent {
    DomainEvent::about(EventType::BackupRequestReceived, request, Some(&TraceParent::new_root()))
}

/// A transaction holding a lock every insert into `backup_requests` waits
/// for, until it ends.
async fn hold_inserts(database: &Database) -> Transaction<'static, Postgres> {
    let mut lock = database.pool().begin().await.unwrap();
    sqlx::query("LOCK TABLE backup_requests IN SHARE MODE").execute(&mut *lock).await.unwrap();
    lock
}

/// Backends of this database waiting for a lock: the writers held back.
async fn writers_waiting(database: &Database) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
        .fetch_one(database.pool())
        .await
        .unwrap()
}

async fn stored(database: &Database, request: &BackupRequest) -> bool {
    sqlx::query_scalar("SELECT count(*) FROM backup_requests WHERE backup_request_id = $1")
        .bind(request.backup_request_id().as_str())
        .fetch_one(database.pool())
        .await
        .map(|count: i64| count == 1)
        .unwrap()
}

/// Creates one request at a time while each is taken by a writer of its
/// own, until one is left waiting: then every writer is busy. Returns the
/// creates, still running.
async fn occupy_every_writer(database: &Database, store: &PgStore) -> Vec<tokio::task::JoinHandle<Result<(), DomainError>>> {
    let mut creates = Vec::new();
    loop {
        let before = writers_waiting(database).await;
        let store = store.clone();
        let request = received("job-blocker");
        creates.push(tokio::spawn(async move { store.create(&request, None, &[received_event(&request)]).await.map(drop) }));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while writers_waiting(database).await == before {
            if tokio::time::Instant::now() > deadline {
                return creates;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn a_create_past_the_bound_of_waiting_creates_is_unavailable_at_once_and_the_rest_are_stored() {
    let database = common::migrated_database(20).await;
    let store = database.store();
    let lock = hold_inserts(&database).await;
    let mut creates = occupy_every_writer(&database, &store).await;

    // Every writer holds at most one batch; what is past the bound waits
    // for nothing.
    let requests: Vec<BackupRequest> = (0..MAX_WAITING_CREATES + 300).map(|_| received("job-1")).collect();
    for request in requests.clone() {
        let store = store.clone();
        creates.push(tokio::spawn(async move { store.create(&request, None, &[received_event(&request)]).await.map(drop) }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let refused = creates.iter().filter(|create| create.is_finished()).count();
    assert!(refused >= 300, "only {refused} creates answered while the database was held");

    lock.rollback().await.unwrap();
    let mut outcomes = Vec::new();
    for create in creates {
        outcomes.push(create.await.unwrap());
    }
    let unavailable = outcomes.iter().filter(|outcome| matches!(outcome, Err(DomainError::Unavailable(_)))).count();
    let created = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
    assert_eq!(unavailable, refused, "every create answered early was refused as Unavailable");
    assert_eq!(created + unavailable, outcomes.len(), "{outcomes:?}");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM backup_requests").fetch_one(database.pool()).await.unwrap();
    assert_eq!(rows as usize, created, "exactly the creates answered Ok are stored");
}

#[tokio::test]
async fn a_create_whose_caller_left_before_a_writer_took_it_is_not_stored() {
    let database = common::migrated_database(20).await;
    let store = database.store();
    let lock = hold_inserts(&database).await;
    let creates = occupy_every_writer(&database, &store).await;

    let abandoned = received("job-left");
    let gave_up = tokio::time::timeout(Duration::from_millis(300), store.create(&abandoned, None, &[received_event(&abandoned)])).await;
    assert!(gave_up.is_err(), "the create waited for the held database");
    let kept = received("job-stayed");
    let staying = {
        let (store, kept) = (store.clone(), kept.clone());
        tokio::spawn(async move { store.create(&kept, None, &[received_event(&kept)]).await })
    };

    lock.rollback().await.unwrap();
    for create in creates {
        create.await.unwrap().unwrap();
    }
    staying.await.unwrap().unwrap();
    assert!(stored(&database, &kept).await, "a create whose caller waited is stored");
    assert!(!stored(&database, &abandoned).await, "the create whose caller left was stored");
}
