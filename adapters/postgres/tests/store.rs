//! PgStore against the real PostgreSQL, a fresh database per test.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use linebacker_domain::ports::{BackupRepository, BackupRequestRepository, Stored};
use linebacker_domain::request::{IdempotencyKey, NewBackupRequest, now};
use linebacker_domain::{
    BackupJobId, BackupRequest, BackupRequestId, DataDate, DomainError,
    DomainEvent, EventType, PreparedDataPathName, RequesterId, StatusTypeCode, TraceParent,
    TransportTypeCode,
};
use linebacker_postgres::{Database, PgConfig};

async fn database() -> Database {
    common::migrated_database(20).await
}

fn new_request(job: &str) -> NewBackupRequest {
    NewBackupRequest {
        backup_job_id: BackupJobId::try_from(job).unwrap(),
        data_date: DataDate::try_from("2022-05-30").unwrap(),
        prepared_data_path_name: PreparedDataPathName::try_from("/prepared/x").unwrap(),
        transport_type_code: TransportTypeCode::Http,
        requester_id: RequesterId::anonymous(),
    }
}


fn received(request: &BackupRequest) -> DomainEvent {
    DomainEvent::about(EventType::BackupRequestReceived, request, Some(&TraceParent::new_root()))
}

async fn outbox_count(database: &Database) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM outbox").fetch_one(database.pool()).await.unwrap()
}

#[tokio::test]
async fn migrations_can_run_again_and_concurrently() {
    let database = database().await;
    let (a, b) = tokio::join!(database.migrate(), database.migrate());
    a.unwrap();
    b.unwrap();
}

#[tokio::test]
async fn a_created_request_reads_back_equal_with_its_event_in_the_outbox() {
    let database = database().await;
    let store = database.store();
    let request = BackupRequest::receive(new_request("job-1"), now());
    let event = received(&request);
    assert_eq!(store.create(&request, None, &[event.clone()]).await.unwrap(), Stored::Created);

    assert_eq!(store.find(request.backup_request_id()).await.unwrap(), Some(request.clone()));
    let (payload, traceparent): (serde_json::Value, Option<String>) =
        sqlx::query_as("SELECT payload, traceparent FROM outbox WHERE message_id = $1")
            .bind(event.message_id.as_uuid())
            .fetch_one(database.pool())
            .await
            .unwrap();
    assert_eq!(payload["type"], "BackupRequestReceived");
    assert_eq!(payload["backupRequestId"], request.backup_request_id().as_str());
    assert_eq!(traceparent, event.traceparent.map(|t| t.to_string()));
}

#[tokio::test]
async fn an_unknown_id_finds_nothing() {
    let store = database().await.store();
    let id = BackupRequestId::try_from("missing").unwrap();
    assert_eq!(store.find(&id).await.unwrap(), None);
    assert_eq!(store.find_by_request(&id).await.unwrap(), None);
}

#[tokio::test]
async fn racing_creates_with_one_idempotency_key_store_one_request() {
    let database = database().await;
    let key = IdempotencyKey::try_from("same-key").unwrap();
    let attempts = (0..10).map(|_| {
        let store = database.store();
        let key = key.clone();
        tokio::spawn(async move {
            let request = BackupRequest::receive(new_request("job-1"), now());
            let event = received(&request);
            let outcome = store.create(&request, Some(&key), &[event]).await.unwrap();
            (request.backup_request_id().clone(), outcome)
        })
    });
    let outcomes: Vec<_> = futures::future::join_all(attempts).await.into_iter().map(Result::unwrap).collect();

    let created: Vec<_> = outcomes.iter().filter(|(_, o)| *o == Stored::Created).collect();
    assert_eq!(created.len(), 1, "exactly one create wins");
    let winner = &created[0].0;
    let originals: HashSet<_> = outcomes
        .iter()
        .filter_map(|(_, o)| match o {
            Stored::Existing(original) => Some(original.backup_request_id().clone()),
            Stored::Created => None,
        })
        .collect();
    assert_eq!(originals, HashSet::from([winner.clone()]), "every repeat sees the winner");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM backup_requests").fetch_one(database.pool()).await.unwrap();
    assert_eq!(rows, 1);
    assert_eq!(outbox_count(&database).await, 1);
}

#[tokio::test]
async fn the_same_key_from_another_requester_is_another_request() {
    let database = database().await;
    let store = database.store();
    let key = IdempotencyKey::try_from("k").unwrap();
    for requester in ["client-a", "client-b"] {
        let mut new = new_request("job-1");
        new.requester_id = RequesterId::try_from(requester.to_owned()).unwrap();
        let request = BackupRequest::receive(new, now());
        assert_eq!(store.create(&request, Some(&key), &[received(&request)]).await.unwrap(), Stored::Created);
    }
}

#[tokio::test]
async fn an_update_lands_only_from_the_expected_status() {
    let database = database().await;
    let store = database.store();
    let mut request = BackupRequest::receive(new_request("job-1"), now());
    store.create(&request, None, &[received(&request)]).await.unwrap();

    request.allow(&common::job(), now()).unwrap();
    let allowed = DomainEvent::about(EventType::BackupRequestAllowed, &request, None);
    store.update(&request, StatusTypeCode::Received, &[allowed]).await.unwrap();
    assert_eq!(store.find(request.backup_request_id()).await.unwrap(), Some(request.clone()));
    assert_eq!(outbox_count(&database).await, 2);

    // A second worker that read `Received` too loses, and writes nothing.
    let late = DomainEvent::about(EventType::BackupRequestAllowed, &request, None);
    let error = store.update(&request, StatusTypeCode::Received, &[late]).await.unwrap_err();
    assert!(matches!(error, DomainError::Conflict { expected: StatusTypeCode::Received, .. }), "{error:?}");
    assert_eq!(outbox_count(&database).await, 2);
}

#[tokio::test]
async fn work_stats_count_requests_per_status_the_oldest_waiting_and_the_outbox() {
    let database = database().await;
    assert_eq!(database.work_stats().await.unwrap(), linebacker_postgres::WorkStats::default());
    let store = database.store();
    let hour_ago = now() - chrono::Duration::hours(1);
    let mut old = BackupRequest::receive(new_request("job-1"), hour_ago);
    store.create(&old, None, &[received(&old)]).await.unwrap();
    for _ in 0..2 {
        let fresh = BackupRequest::receive(new_request("job-2"), now());
        store.create(&fresh, None, &[received(&fresh)]).await.unwrap();
    }
    old.allow(&common::job(), now()).unwrap();
    store.update(&old, StatusTypeCode::Received, &[]).await.unwrap();

    let stats = database.work_stats().await.unwrap();
    assert_eq!(stats.requests, [("Allowed".to_owned(), 1), ("Received".to_owned(), 2)]);
    let oldest: std::collections::HashMap<_, _> = stats.oldest_waiting_age_secs.into_iter().collect();
    assert!((3590..3700).contains(&oldest["Allowed"]), "{oldest:?}");
    assert!(oldest["Received"] < 60, "{oldest:?}");
    assert_eq!(stats.outbox_backlog, 3);
    assert!(stats.outbox_oldest_age_secs < 60);
}

#[tokio::test]
async fn updating_an_unknown_request_is_not_found() {
    let store = database().await.store();
    let request = BackupRequest::receive(new_request("job-1"), now());
    let error = store.update(&request, StatusTypeCode::Received, &[]).await.unwrap_err();
    assert!(matches!(error, DomainError::NotFound(_)), "{error:?}");
}

#[tokio::test]
async fn an_unreachable_database_is_unavailable_not_a_crash() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let database = Database::connect_lazy(&PgConfig {
        options: format!("postgres://postgres@127.0.0.1:{port}/nothing").parse().unwrap(),
        max_connections: 2,
        acquire_timeout: Duration::from_secs(1),
    })
    .unwrap();
    assert!(!database.is_ready().await);
    let request = BackupRequest::receive(new_request("job-1"), now());
    let error = database.store().create(&request, None, &[]).await.unwrap_err();
    assert!(matches!(error, DomainError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn a_backup_is_recorded_with_its_step_once_and_reads_back_equal() {
    use linebacker_domain::external::{API_VERSION, ResultTypeCode, StoreStatus};
    use linebacker_domain::request::Backup;

    let database = database().await;
    let store = database.store();
    let mut request = BackupRequest::receive(new_request("job-1"), now());
    store.create(&request, None, &[received(&request)]).await.unwrap();
    request.allow(&common::job(), now()).unwrap();
    store.update(&request, StatusTypeCode::Received, &[]).await.unwrap();
    assert_eq!(store.find(request.backup_request_id()).await.unwrap(), Some(request.clone()), "retention is kept");

    let reply = StoreStatus {
        api_version: API_VERSION.into(),
        backup_request_id: request.backup_request_id().clone(),
        result_type_code: ResultTypeCode::Succeeded,
        storage_path_name: Some("/store/copied".into()),
        backup_byte_count: Some(10),
        copy_start_timestamp: Some(now()),
        copy_end_timestamp: Some(now()),
        verify_start_timestamp: None,
        verify_end_timestamp: None,
        verified_hash: Some("h".into()),
        message_text: None,
    };
    let backup = Backup::from_reply(&request, request.retention().unwrap(), &reply).unwrap();
    let mut succeeded = request.clone();
    succeeded.record_reply(StatusTypeCode::Succeeded, None, now()).unwrap();
    let event = DomainEvent::about(EventType::BackupRequestSucceeded, &succeeded, None);
    store.record_backup(&backup, &succeeded, StatusTypeCode::Allowed, &[event]).await.unwrap();
    assert_eq!(store.find_by_request(request.backup_request_id()).await.unwrap(), Some(backup.clone()));
    assert_eq!(store.find(request.backup_request_id()).await.unwrap().unwrap().status(), StatusTypeCode::Succeeded);

    // A second Backup for the same request cannot land, whatever status it expects.
    let second = Backup::from_reply(&request, request.retention().unwrap(), &reply).unwrap();
    let late = DomainEvent::about(EventType::BackupRequestSucceeded, &succeeded, None);
    for expected in [StatusTypeCode::Allowed, StatusTypeCode::Succeeded] {
        let error = store.record_backup(&second, &succeeded, expected, &[late.clone()]).await.unwrap_err();
        assert!(matches!(error, DomainError::Conflict { .. }), "{error:?}");
    }
    let backups: i64 = sqlx::query_scalar("SELECT count(*) FROM backups").fetch_one(database.pool()).await.unwrap();
    assert_eq!(backups, 1);
    assert_eq!(outbox_count(&database).await, 2);
}
