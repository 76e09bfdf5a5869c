//! PgStore against the real PostgreSQL, a fresh database per test: what the
//! ports' contract suites (`contract.rs`) cannot see: the migrations, the
//! outbox rows as the relay reads them, the work statistics and readiness.

mod common;

use linebacker_domain::ports::{BackupRequestRepository, Stored};
use linebacker_domain::request::now;
use linebacker_domain::testing::fixtures::{advance, new_request, received};
use linebacker_domain::{BackupRequest, DomainError, DomainEvent, EventType, StatusTypeCode, TraceParent};
use linebacker_postgres::Database;

async fn database() -> Database {
    common::migrated_database(20).await
}

fn received_event(request: &BackupRequest) -> DomainEvent {
    DomainEvent::about(EventType::BackupRequestReceived, request, Some(&TraceParent::new_root()))
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
    let request = received("job-1");
    let event = received_event(&request);
    assert_eq!(store.create(&request, None, &[event.clone()]).await.unwrap(), Stored::Created);

    assert_eq!(store.find(&request.backup_request_id()).await.unwrap(), Some(request.clone()));
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
async fn requests_created_together_share_commits_and_each_is_stored_whole() {
    let database = database().await;
    let store = database.store().acting_as("http-receiver-0");
    let requests: Vec<BackupRequest> = (0..200).map(|n| received(&format!("job-{}", n % 7))).collect();
    let creates = requests.iter().map(|request| {
        let store = store.clone();
        async move { store.create(request, None, &[received_event(request)]).await }
    });
    for stored in futures::future::join_all(creates).await {
        assert_eq!(stored.unwrap(), Stored::Created);
    }

    for request in &requests {
        assert_eq!(store.find(request.backup_request_id()).await.unwrap().as_ref(), Some(request));
    }
    let (history, by, outbox): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM backup_request_history WHERE status_type_code = 'Received'), \
                (SELECT count(*) FROM backup_request_history WHERE changed_by = 'http-receiver-0'), \
                (SELECT count(DISTINCT backup_request_id) FROM outbox WHERE event_type = 'BackupRequestReceived')",
    )
    .fetch_one(database.pool())
    .await
    .unwrap();
    assert_eq!((history, by, outbox), (200, 200, 200));
    // `updated_at` is the time its transaction started: requests that share
    // one share it.
    let transactions: i64 = sqlx::query_scalar("SELECT count(DISTINCT updated_at) FROM backup_requests")
        .fetch_one(database.pool())
        .await
        .unwrap();
    assert!(transactions < 200, "200 requests took {transactions} transactions");
}

#[tokio::test]
async fn work_stats_count_requests_per_status_the_oldest_waiting_and_the_outbox() {
    let database = database().await;
    assert_eq!(database.work_stats().await.unwrap(), linebacker_postgres::WorkStats::default());
    let store = database.store();
    let hour_ago = now() - chrono::Duration::hours(1);
    let mut old = BackupRequest::receive(new_request("job-1"), hour_ago);
    store.create(&old, None, &[received_event(&old)]).await.unwrap();
    for _ in 0..2 {
        let fresh = received("job-2");
        store.create(&fresh, None, &[received_event(&fresh)]).await.unwrap();
    }
    advance(&mut old, StatusTypeCode::Allowed);
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
async fn an_unreachable_database_is_unavailable_not_a_crash() {
    let database = common::unreachable_database();
    assert!(!database.is_ready().await);
    let error = database.store().create(&received("job-1"), None, &[]).await.unwrap_err();
    assert!(matches!(error, DomainError::Unavailable(_)), "{error:?}");
}
