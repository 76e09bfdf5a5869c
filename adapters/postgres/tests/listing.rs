//! The list of SPEC §3 against the real PostgreSQL: the plans of every list
//! query shape on a million requests. What every store's list must return
//! is the `backup_request_queries` contract suite (`contract.rs`).

mod common;

use linebacker_domain::listing::{PageCursor, PageLimit, RequestFilter};
use linebacker_domain::ports::BackupRequestQueries;
use linebacker_domain::request::now;
use linebacker_domain::{BackupJobId, BackupRequestId, RequesterId, StatusTypeCode};
use serde_json::Value;

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
