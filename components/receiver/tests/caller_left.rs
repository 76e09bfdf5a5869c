//! `POST /api/backup-requests` while the database cannot keep up: a caller
//! who hangs up before its request is taken by a writer leaves nothing
//! stored, as no 202 was sent for it; a caller who waits is answered 202
//! once its request is stored. The database is held back by a lock on
//! `backup_requests` that every insert waits for.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a failed step is the failure

mod support;

use std::time::Duration;

use linebacker_testkit::request_body;
use sqlx::{PgPool, Postgres, Transaction};
use support::{TestApp, spawn_app};
use tokio::task::JoinHandle;

/// A transaction holding a lock every insert into `backup_requests` waits
/// for, until it ends.
async fn hold_inserts(pool: &PgPool) -> Transaction<'static, Postgres> {
    let mut lock = pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE backup_requests IN SHARE MODE").execute(&mut *lock).await.unwrap();
    lock
}

/// Backends of the test's database waiting for a lock: the writers held
/// back.
async fn writers_waiting(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn stored_for_job(pool: &PgPool, backup_job_id: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM backup_requests WHERE backup_job_id = $1")
        .bind(backup_job_id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// A POST of a request for `backup_job_id` whose caller waits for the answer,
/// returning its status.
fn post_and_wait(app: &TestApp, backup_job_id: &str) -> JoinHandle<u16> {
    let request = app.client.post(app.url("/api/backup-requests")).json(&request_body(backup_job_id, "2022-05-30"));
    tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
}

/// Posts one request at a time while each is taken by a writer of its own,
/// until one is left waiting: then every writer is busy. Returns the posts,
/// still waiting for their answers.
async fn occupy_every_writer(app: &TestApp) -> Vec<JoinHandle<u16>> {
    let mut posts = Vec::new();
    loop {
        let before = writers_waiting(&app.pool).await;
        posts.push(post_and_wait(app, "job-blocker"));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while writers_waiting(&app.pool).await == before {
            if tokio::time::Instant::now() > deadline {
                return posts;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn a_post_whose_caller_hung_up_while_it_waited_for_a_writer_is_not_stored_and_one_whose_caller_waited_is() {
    let app = spawn_app().await;
    let lock = hold_inserts(&app.pool).await;
    let blockers = occupy_every_writer(&app).await;

    // A client of its own, so that giving up closes its connection.
    let impatient = reqwest::Client::builder().timeout(Duration::from_secs(1)).build().unwrap();
    let gave_up = impatient
        .post(app.url("/api/backup-requests"))
        .json(&request_body("job-left", "2022-05-30"))
        .send()
        .await;
    assert!(gave_up.as_ref().is_err_and(reqwest::Error::is_timeout), "the post waited for the held database: {gave_up:?}");
    let kept = post_and_wait(&app, "job-stayed");
    // Queued behind the abandoned request, so that a writer reaches that
    // one first, or in the same batch.
    tokio::time::sleep(Duration::from_millis(300)).await;

    lock.rollback().await.unwrap();
    for blocker in blockers {
        assert_eq!(blocker.await.unwrap(), 202);
    }
    assert_eq!(kept.await.unwrap(), 202, "a caller who waited is answered 202");
    assert_eq!(stored_for_job(&app.pool, "job-stayed").await, 1, "a caller who waited has its request stored");
    // Every writer is free again: anything still queued would be written now.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(stored_for_job(&app.pool, "job-left").await, 0, "the request whose caller hung up was stored");

    app.stop().await;
}
