//! `linebacker-admin prune [--dry-run]` against the real PostgreSQL, with
//! no receiver running.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a failed step is the failure

mod support;

use linebacker_testkit::fresh_database;
use sqlx::{Connection, PgConnection};
use support::admin;

/// A request in a terminal `status` whose clock (reply, check or cancel)
/// is `days_ago` days ago.
async fn terminal(connection: &mut PgConnection, id: &str, status: &str, days_ago: i32) {
    sqlx::query(
        "INSERT INTO backup_requests (backup_request_id, backup_job_id, data_date, prepared_data_path_name, \
         status_type_code, transport_type_code, received_timestamp, checked_timestamp, reply_timestamp, updated_at) \
         VALUES ($1, 'job-1', '2022-05-30', '/prepared/job-1', $2, 'HTTP', now() - make_interval(days => $3 + 1), \
         now() - make_interval(days => $3), now() - make_interval(days => $3), now() - make_interval(days => $3))",
    )
    .bind(id)
    .bind(status)
    .bind(days_ago)
    .execute(&mut *connection)
    .await
    .unwrap();
}

async fn backup_due_in(connection: &mut PgConnection, request_id: &str, days: i32) {
    sqlx::query(
        "INSERT INTO backups (backup_id, backup_request_id, backup_job_id, data_date, backup_provider_code, \
         days_to_keep_count, hold_flag, storage_path_name, backup_byte_count, copy_start_timestamp, \
         copy_end_timestamp, due_to_delete_date) \
         VALUES ($1 || '-backup', $1, 'job-1', '2022-05-30', 'Local', 30, false, '/store/job-1', 1, now(), now(), \
         current_date + $2)",
    )
    .bind(request_id)
    .bind(days)
    .execute(&mut *connection)
    .await
    .unwrap();
}

async fn ids(connection: &mut PgConnection) -> Vec<String> {
    sqlx::query_scalar("SELECT backup_request_id FROM backup_requests ORDER BY 1").fetch_all(connection).await.unwrap()
}

#[tokio::test]
async fn a_dry_run_counts_per_status_and_a_pass_deletes_what_it_counted_keeping_backups() {
    let database = fresh_database().await.unwrap();
    assert!(admin(&["migrate"], &database.url).await.status.success());
    let mut connection = PgConnection::connect(&database.url).await.unwrap();
    // Defaults: Succeeded and Failed 90 days, NotAllowed and Cancelled 30.
    terminal(&mut connection, "failed-old", "Failed", 100).await;
    terminal(&mut connection, "failed-older", "Failed", 200).await;
    terminal(&mut connection, "failed-new", "Failed", 10).await;
    terminal(&mut connection, "not-allowed-old", "NotAllowed", 31).await;
    terminal(&mut connection, "cancelled-new", "Cancelled", 29).await;
    terminal(&mut connection, "succeeded-still-due", "Succeeded", 365).await;
    backup_due_in(&mut connection, "succeeded-still-due", 10).await;
    terminal(&mut connection, "succeeded-done", "Succeeded", 365).await;
    backup_due_in(&mut connection, "succeeded-done", -1).await;
    let expected = "Succeeded: 1\nFailed: 2\nNotAllowed: 1\nCancelled: 0\n";

    let dry = admin(&["prune", "--dry-run"], &database.url).await;
    assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
    assert_eq!(String::from_utf8_lossy(&dry.stdout), expected);
    assert_eq!(ids(&mut connection).await.len(), 7, "a dry run deletes nothing");

    let pass = admin(&["prune"], &database.url).await;
    assert!(pass.status.success(), "{}", String::from_utf8_lossy(&pass.stderr));
    assert_eq!(String::from_utf8_lossy(&pass.stdout), expected);
    assert_eq!(ids(&mut connection).await, ["cancelled-new", "failed-new", "succeeded-still-due"]);
    let backups: i64 = sqlx::query_scalar("SELECT count(*) FROM backups").fetch_one(&mut connection).await.unwrap();
    assert_eq!(backups, 2, "Backups are never deleted");
}
