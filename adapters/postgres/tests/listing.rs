//! The list, history and cancel of SPEC §3 against the real PostgreSQL: the
//! plans of every list query shape on a million requests, paging while
//! requests arrive, history rows, and a cancel racing a held request.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use linebacker_domain::listing::{PageCursor, PageLimit, RequestFilter};
use linebacker_domain::ports::{BackupRequestQueries, BackupRequestRepository};
use linebacker_domain::request::{NewBackupRequest, now};
use linebacker_domain::{
    BackupJobId, BackupRequest, BackupRequestId, DataDate, DomainEvent, EventType,
    PreparedDataPathName, RequesterId, StatusTypeCode, TransportTypeCode,
};
use linebacker_postgres::PgStore;
use serde_json::Value;

fn new_request(job: &str, requester: &str) -> BackupRequest {
    BackupRequest::receive(
        NewBackupRequest {
            backup_job_id: BackupJobId::try_from(job).unwrap(),
            data_date: DataDate::try_from("2022-05-30").unwrap(),
            prepared_data_path_name: PreparedDataPathName::try_from("/prepared/x").unwrap(),
            transport_type_code: TransportTypeCode::Http,
            requester_id: RequesterId::try_from(requester.to_owned()).unwrap(),
        },
        now(),
    )
}


async fn created(store: &PgStore, job: &str, requester: &str) -> BackupRequest {
    let request = new_request(job, requester);
    let event = DomainEvent::about(EventType::BackupRequestReceived, &request, None);
    store.create(&request, None, &[event]).await.unwrap();
    request
}

/// Every node of a plan, depth first.
fn nodes(plan: &Value) -> Vec<&Value> {
    let mut found = vec![plan];
    if let Some(children) = plan.get("Plans").and_then(Value::as_array) {
        found.extend(children.iter().flat_map(nodes));
    }
    found
}

#[tokio::test]
async fn every_list_query_shape_walks_an_index_on_a_million_requests() {
    let database = common::migrated_database(4).await;
    // One statement: a million requests over a year, 7 statuses, 1000 jobs,
    // 100 requesters.
    sqlx::query(
        "INSERT INTO backup_requests (backup_request_id, backup_job_id, data_date, prepared_data_path_name, \
         status_type_code, transport_type_code, requester_id, received_timestamp) \
         SELECT 'r-' || lpad(i::text, 7, '0'), 'job-' || (i % 1000), date '2022-05-30', '/p/' || i, \
         (ARRAY['Received','Allowed','NotAllowed','Sent','Succeeded','Failed','Cancelled'])[1 + i % 7], \
         'HTTP', 'requester-' || (i % 100), now() - make_interval(secs => i * 31.5) \
         FROM generate_series(1, 1000000) AS i",
    )
    .execute(database.pool())
    .await
    .unwrap();
    sqlx::query("ANALYZE backup_requests").execute(database.pool()).await.unwrap();
    let store = database.store();

    let cursor = PageCursor {
        received_timestamp: now() - chrono::TimeDelta::days(30),
        backup_request_id: BackupRequestId::try_from("r-0082000").unwrap(),
    };
    let day_ago = now() - chrono::TimeDelta::days(1);
    let week_ago = now() - chrono::TimeDelta::days(7);
    let shapes: Vec<(&str, RequestFilter)> = vec![
        ("no filter", RequestFilter::default()),
        ("status", RequestFilter { status: Some(StatusTypeCode::Sent), ..Default::default() }),
        ("backupJobId", RequestFilter { backup_job_id: Some(BackupJobId::try_from("job-17").unwrap()), ..Default::default() }),
        (
            "requesterId",
            RequestFilter { requester_id: Some(RequesterId::try_from("requester-3".to_owned()).unwrap()), ..Default::default() },
        ),
        ("receivedFrom", RequestFilter { received_from: Some(day_ago), ..Default::default() }),
        ("receivedTo", RequestFilter { received_to: Some(week_ago), ..Default::default() }),
        ("receivedFrom and receivedTo", RequestFilter { received_from: Some(week_ago), received_to: Some(day_ago), ..Default::default() }),
        (
            "every filter",
            RequestFilter {
                status: Some(StatusTypeCode::Cancelled),
                backup_job_id: Some(BackupJobId::try_from("job-17").unwrap()),
                requester_id: Some(RequesterId::try_from("requester-17".to_owned()).unwrap()),
                received_from: Some(now() - chrono::TimeDelta::days(365)),
                received_to: Some(day_ago),
            },
        ),
    ];
    for (name, filter) in &shapes {
        for after in [None, Some(&cursor)] {
            for limit in [PageLimit::default(), PageLimit::try_from(500).unwrap()] {
                let explained = store.explain_list(filter, after, limit).await.unwrap();
                let plan = &explained[0]["Plan"];
                let all = nodes(plan);
                let case = format!("{name}, cursor: {}, limit {}: {plan:#}", after.is_some(), limit.get());
                assert!(
                    all.iter().all(|node| node["Node Type"] != "Seq Scan"),
                    "a sequential scan for {case}"
                );
                assert!(
                    all.iter().any(|node| node["Node Type"].as_str().is_some_and(|t| t.contains("Index"))
                        && node["Index Name"].as_str().is_some_and(|index| index.starts_with("backup_requests_"))),
                    "no index on backup_requests for {case}"
                );
            }
        }
    }
    // The pages themselves agree with the filters.
    let page = store.list(&shapes[1].1, None, PageLimit::default()).await.unwrap();
    assert_eq!(page.items.len(), 50);
    assert!(page.items.iter().all(|r| r.status() == StatusTypeCode::Sent));
    assert!(page.items.windows(2).all(|w| w[0].received_timestamp() >= w[1].received_timestamp()));
    assert!(page.next.is_some());

    // A million rows is too much to leave behind for the sweep.
    let name: String = sqlx::query_scalar("SELECT current_database()").fetch_one(database.pool()).await.unwrap();
    database.pool().close().await;
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&linebacker_testkit::postgres_admin_url()).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&mut admin).await.unwrap();
}

#[tokio::test]
async fn paging_while_requests_arrive_returns_each_matching_request_exactly_once() {
    let database = common::migrated_database(4).await;
    let store = database.store();
    let mut expected = Vec::new();
    for i in 0..60 {
        expected.push(created(&store, "job-a", "alice").await.backup_request_id().clone());
        if i % 3 == 0 {
            created(&store, "job-b", "alice").await;
        }
    }
    let filter = RequestFilter { backup_job_id: Some(BackupJobId::try_from("job-a").unwrap()), ..Default::default() };
    let limit = PageLimit::try_from(7).unwrap();
    let mut seen: HashMap<BackupRequestId, usize> = HashMap::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = store.list(&filter, cursor.as_ref(), limit).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 7);
        for request in &page.items {
            assert_eq!(request.backup_job_id().as_str(), "job-a");
            *seen.entry(request.backup_request_id().clone()).or_default() += 1;
        }
        // New matching requests arrive between pages: they are newer than
        // the cursor, so this walk does not meet them.
        created(&store, "job-a", "alice").await;
        created(&store, "job-b", "bob").await;
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 9, "60 requests in pages of 7");
    assert_eq!(seen.len(), expected.len());
    for id in &expected {
        assert_eq!(seen.get(id), Some(&1), "{id}");
    }
}

#[tokio::test]
async fn a_cancel_waits_for_a_held_request_and_then_finds_it_sent() {
    let database = common::migrated_database(6).await;
    let receiver = database.store_of("http-receiver-0");
    let checker = database.store_of("check-allowed-1");
    let sender = database.store_of("send-to-interface-0");
    let mut request = created(&receiver, "job-1", "alice").await;
    request.allow(&common::job(), now()).unwrap();
    checker.update(&request, StatusTypeCode::Received, &[]).await.unwrap();

    let held = sender.hold(request.backup_request_id()).await.unwrap().unwrap();
    assert_eq!(held.request().status(), StatusTypeCode::Allowed);
    let id = request.backup_request_id().clone();
    let cancel = tokio::spawn(async move { receiver.cancel(&id, "cancelled by ops").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!cancel.is_finished(), "the cancel must wait for the held request");
    let mut sent = held.request().clone();
    sent.mark_sent(now()).unwrap();
    held.save(&sent, &[]).await.unwrap();
    assert_eq!(cancel.await.unwrap().unwrap(), None, "a sent request is not cancelled");

    let stored = sender.find(request.backup_request_id()).await.unwrap().unwrap();
    assert_eq!(stored.status(), StatusTypeCode::Sent);
    let history = sender.history(request.backup_request_id()).await.unwrap();
    let steps: Vec<_> = history.iter().map(|c| (c.status, c.by.as_str())).collect();
    assert_eq!(
        steps,
        [
            (StatusTypeCode::Received, "http-receiver-0"),
            (StatusTypeCode::Allowed, "check-allowed-1"),
            (StatusTypeCode::Sent, "send-to-interface-0"),
        ]
    );
    assert!(history.windows(2).all(|w| w[0].at <= w[1].at));
}

#[tokio::test]
async fn a_cancel_that_lands_first_leaves_the_holder_a_cancelled_request_and_its_detail_in_the_history() {
    let database = common::migrated_database(4).await;
    let receiver = database.store_of("http-receiver-0");
    let request = created(&receiver, "job-1", "alice").await;
    let cancelled = receiver.cancel(request.backup_request_id(), "cancelled by alice").await.unwrap().unwrap();
    assert_eq!(cancelled.status(), StatusTypeCode::Cancelled);
    assert_eq!(receiver.cancel(request.backup_request_id(), "again").await.unwrap(), None);

    let held = database.store().hold(request.backup_request_id()).await.unwrap().unwrap();
    assert_eq!(held.request().status(), StatusTypeCode::Cancelled);
    drop(held);
    let history = receiver.history(request.backup_request_id()).await.unwrap();
    let last = history.last().unwrap();
    assert_eq!((last.status, last.detail.as_deref()), (StatusTypeCode::Cancelled, Some("cancelled by alice")));
    assert_eq!(history.len(), 2);
    let unknown = BackupRequestId::try_from("nope").unwrap();
    assert!(receiver.hold(&unknown).await.unwrap().is_none());
    assert_eq!(receiver.cancel(&unknown, "x").await.unwrap(), None);
}
