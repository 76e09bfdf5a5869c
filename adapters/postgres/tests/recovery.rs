//! Recovery's view of PgStore against the real PostgreSQL: paging through the
//! pending requests, re-emitting them through the outbox, and the advisory
//! lock that lets one recovery run at a time.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a failed step is the failure

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use linebacker_domain::external::BackupJob;
use linebacker_domain::ports::{BackupRequestRepository, PendingRequests, RecoveryLock, Reemission};
use linebacker_domain::request::{NewBackupRequest, now};
use linebacker_domain::usecase::{RecoverPending, Recovery};
use linebacker_domain::{
    BackupJobId, BackupProviderCode, BackupRequest, DataDate, DomainEvent, EventType, PreparedDataPathName,
    RequesterId, StatusTypeCode, TransportTypeCode,
};
use linebacker_postgres::{Database, PgStore};
use linebacker_runtime::TokioTimer;

async fn database() -> Database {
    common::migrated_database(10).await
}

/// Stores a request, moved on to `status`, as last changed an hour ago.
async fn stale(database: &Database, status: StatusTypeCode) -> BackupRequest {
    let store = database.store();
    let mut request = BackupRequest::receive(
        NewBackupRequest {
            backup_job_id: BackupJobId::try_from("job-1").unwrap(),
            data_date: DataDate::try_from("2022-05-30").unwrap(),
            prepared_data_path_name: PreparedDataPathName::try_from("/prepared/x").unwrap(),
            transport_type_code: TransportTypeCode::Http,
            requester_id: RequesterId::anonymous(),
        },
        now(),
    );
    store.create(&request, None, &[]).await.unwrap();
    if status != StatusTypeCode::Received {
        let job = BackupJob {
            backup_job_id: BackupJobId::try_from("job-1").unwrap(),
            storage_path_name: "/store".into(),
            backup_provider_code: BackupProviderCode::Local,
            days_to_keep: 7,
            is_active: true,
            hold_flag: false,
        };
        request.allow(&job, now()).unwrap();
        store.update(&request, StatusTypeCode::Received, &[]).await.unwrap();
    }
    if status == StatusTypeCode::Sent {
        request.mark_sent(now()).unwrap();
        store.update(&request, StatusTypeCode::Allowed, &[]).await.unwrap();
    }
    sqlx::query("UPDATE backup_requests SET updated_at = now() - interval '1 hour' WHERE backup_request_id = $1")
        .bind(request.backup_request_id().as_str())
        .execute(database.pool())
        .await
        .unwrap();
    request
}

fn reemission(request: &BackupRequest) -> Reemission {
    let event_type = match request.status() {
        StatusTypeCode::Received => EventType::BackupRequestReceived,
        _ => EventType::BackupRequestAllowed,
    };
    Reemission { expected: request.status(), event: DomainEvent::about(event_type, request, None) }
}

async fn outbox(database: &Database) -> Vec<(String, String)> {
    sqlx::query_as("SELECT backup_request_id, event_type FROM outbox ORDER BY id")
        .fetch_all(database.pool())
        .await
        .unwrap()
}

fn recover(store: PgStore, per_second: u32) -> RecoverPending {
    let store = Arc::new(store);
    RecoverPending::new(store.clone(), store, Arc::new(TokioTimer), per_second)
}

#[tokio::test]
async fn pending_requests_page_by_id_and_leave_out_other_statuses_and_recent_changes() {
    let database = database().await;
    let store = database.store();
    let mut pending = Vec::new();
    for _ in 0..3 {
        pending.push(stale(&database, StatusTypeCode::Received).await.backup_request_id().clone());
        pending.push(stale(&database, StatusTypeCode::Allowed).await.backup_request_id().clone());
    }
    stale(&database, StatusTypeCode::Sent).await;
    let cutoff = now() - TimeDelta::minutes(1);
    // Changed after the cutoff: the running system has it in hand.
    let recent = stale(&database, StatusTypeCode::Received).await;
    sqlx::query("UPDATE backup_requests SET updated_at = now() WHERE backup_request_id = $1")
        .bind(recent.backup_request_id().as_str())
        .execute(database.pool())
        .await
        .unwrap();

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.pending_before(cutoff, None, after.as_ref(), 4).await.unwrap();
        assert!(page.len() <= 4);
        let Some(last) = page.last() else { break };
        after = Some(last.backup_request_id().clone());
        seen.extend(page.iter().map(|r| r.backup_request_id().clone()));
    }

    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    sorted.dedup();
    assert_eq!(seen.len(), 6, "each pending request once: {seen:?}");
    assert_eq!(sorted.len(), 6);
    pending.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(sorted, pending);
}

#[tokio::test]
async fn re_emission_writes_the_events_keeps_the_status_and_happens_once_per_cutoff() {
    let database = database().await;
    let store = database.store();
    let waiting = stale(&database, StatusTypeCode::Received).await;
    let allowed = stale(&database, StatusTypeCode::Allowed).await;
    let moved_on = stale(&database, StatusTypeCode::Received).await;
    let batch = [reemission(&waiting), reemission(&allowed), reemission(&moved_on)];
    // Between the read and the write, a worker took a step.
    let mut stepped = moved_on.clone();
    stepped.not_allow("backup job not found".into(), now()).unwrap();
    store.update(&stepped, StatusTypeCode::Received, &[]).await.unwrap();
    let cutoff = now();

    let done = store.reemit(cutoff, &batch).await.unwrap();

    assert_eq!(done, vec![waiting.backup_request_id().clone(), allowed.backup_request_id().clone()]);
    assert_eq!(
        outbox(&database).await,
        vec![
            (waiting.backup_request_id().to_string(), "BackupRequestReceived".to_owned()),
            (allowed.backup_request_id().to_string(), "BackupRequestAllowed".to_owned()),
        ]
    );
    assert_eq!(store.find(waiting.backup_request_id()).await.unwrap().unwrap(), waiting);
    assert_eq!(store.find(allowed.backup_request_id()).await.unwrap().unwrap(), allowed);
    assert!(store.reemit(cutoff, &batch).await.unwrap().is_empty(), "a second call re-emitted");
    assert_eq!(outbox(&database).await.len(), 2);
}

#[tokio::test]
async fn of_two_concurrent_recoveries_one_runs_and_the_other_is_refused() {
    let database = database().await;
    for _ in 0..4 {
        stale(&database, StatusTypeCode::Received).await;
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
    assert_eq!(outbox(&database).await.len(), 4);
    // The lock is free again once the pass ended.
    assert!(matches!(first.execute(now()).await.unwrap(), Recovery::Completed(_)));
}

#[tokio::test]
async fn the_lock_is_exclusive_and_freed_when_its_holder_goes_away() {
    let database = database().await;
    let (one, other) = (database.store(), database.store());

    let held = one.try_lock().await.unwrap().expect("a free lock is taken");
    assert!(other.try_lock().await.unwrap().is_none(), "a second holder got the lock");
    held.release().await;
    let again = other.try_lock().await.unwrap().expect("a released lock is taken again");
    // A holder that dies without releasing: its session ends, the lock frees.
    drop(again);
    let taken = linebacker_testkit::eventually(Duration::from_secs(10), "the dropped lock to free", || async {
        one.try_lock().await.unwrap()
    })
    .await
    .unwrap();
    taken.release().await;
}
