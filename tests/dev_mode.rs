//! Dev mode (SPEC §7): `linebacker-dev` alone, with the broker's URL on a
//! closed port and no Azurite account of its own, takes requests over
//! active, inactive and unknown jobs (and the BZI's failures) to their
//! terminal states; SIGKILLed in the middle and started again, it still
//! takes every accepted request there, with one Backup per success.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a failed step is the failure

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use linebacker_testkit::{eventually, fresh_database, unique_name};
use linebacker_tests::{Process, config_dir, free_port_run, target_dir};
use sqlx::PgPool;

const JOBS: &[&str] = &["job-1", "job-2", "job-inactive", "job-unknown"];
const PER_RUN: usize = 150;
const SETTLE: Duration = Duration::from_secs(120);

/// Posts `count` requests, a few at a time, and returns request id → job.
async fn post_requests(http: &reqwest::Client, url: &str, first: usize, count: usize) -> HashMap<String, String> {
    futures::stream::iter(first..first + count)
        .map(|i| async move {
            let job = JOBS[i % JOBS.len()];
            let body = serde_json::json!({
                "apiVersion": "2022-05-22",
                "backupJobId": job,
                "dataDate": format!("2022-{:02}-{:02}", i / 28 % 12 + 1, i % 28 + 1),
                "backupDataLocation": format!("/prepared/{job}/{i}"),
            });
            let response = http.post(format!("{url}/api/backup-requests")).json(&body).send().await.unwrap();
            assert_eq!(response.status(), 202, "POST {i}");
            let body: serde_json::Value = response.json().await.unwrap();
            (body["backupRequestId"].as_str().unwrap().to_owned(), job.to_owned())
        })
        .buffer_unordered(8)
        .collect()
        .await
}

async fn wait_ready(http: &reqwest::Client, url: &str) {
    eventually(Duration::from_secs(60), "linebacker-dev to be ready", || async {
        let response = http.get(format!("{url}/api/zpages/readyz")).send().await.ok()?;
        response.status().is_success().then_some(())
    })
    .await
    .unwrap();
}

/// (status, notAllowedReason, Backups) of every stored request.
async fn outcomes(pool: &PgPool) -> HashMap<String, (String, Option<String>, i64)> {
    let rows: Vec<(String, String, Option<String>, i64)> = sqlx::query_as(
        "SELECT r.backup_request_id, r.status_type_code, r.not_allowed_reason, count(b.backup_id) \
         FROM backup_requests r LEFT JOIN backups b USING (backup_request_id) \
         GROUP BY r.backup_request_id, r.status_type_code, r.not_allowed_reason",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter().map(|(id, status, reason, backups)| (id, (status, reason, backups))).collect()
}

fn is_right_terminal(job: &str, (status, reason, backups): &(String, Option<String>, i64)) -> bool {
    match job {
        "job-inactive" => status == "NotAllowed" && reason.as_deref() == Some("backup job is not active"),
        "job-unknown" => status == "NotAllowed" && reason.as_deref() == Some("backup job not found"),
        _ => (status == "Succeeded" && *backups == 1) || (status == "Failed" && *backups == 0),
    }
}

#[tokio::test]
async fn linebacker_dev_alone_takes_every_request_to_its_terminal_state_through_a_sigkill() {
    let database = fresh_database().await.unwrap();
    let pool = PgPool::connect(&database.url).await.unwrap();
    let port = free_port_run(0).unwrap();
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log_dir = target_dir().unwrap().join("e2e-logs").join(unique_name("dev"));
    std::fs::create_dir_all(&log_dir).unwrap();
    let env: Vec<(String, String)> = [
        ("APP_ENV", "test".to_owned()),
        ("RUST_LOG", "info".to_owned()),
        ("LINEBACKER_CONFIG_DIR", config_dir().display().to_string()),
        ("LINEBACKER__DATABASE__URL", database.url.clone()),
        ("LINEBACKER__HTTP__PORT", port.to_string()),
        // Were it to use RabbitMQ anyway, it would find nothing here.
        ("LINEBACKER__RABBITMQ__URL", format!("amqp://guest:guest@127.0.0.1:{closed_port}/%2f")),
        ("SIMULATOR__FAILURE_SHARE", "0.25".to_owned()),
        ("SIMULATOR__REPLY_DELAY_MS", "100".to_owned()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect();
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();

    let mut dev = Process::spawn("linebacker-dev", 0, &env, &log_dir).unwrap();
    wait_ready(&http, &url).await;
    let readyz: serde_json::Value = http.get(format!("{url}/api/zpages/readyz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(readyz["dependencies"]["broker"], "in-memory", "{readyz}");

    let mut accepted = post_requests(&http, &url, 0, PER_RUN).await;
    // Killed while the first run's requests are still on their way.
    let unsettled = outcomes(&pool).await.values().filter(|(status, ..)| !["NotAllowed", "Succeeded", "Failed"].contains(&status.as_str())).count();
    dev.kill().await.unwrap();
    assert!(unsettled > 0, "every request settled before the kill: the test proves nothing");

    dev.restart().unwrap();
    wait_ready(&http, &url).await;
    accepted.extend(post_requests(&http, &url, PER_RUN, PER_RUN).await);
    assert_eq!(accepted.len(), 2 * PER_RUN);

    let settled = eventually(SETTLE, "every accepted request to reach its terminal state", || async {
        let outcomes = outcomes(&pool).await;
        accepted
            .iter()
            .all(|(id, job)| outcomes.get(id).is_some_and(|outcome| is_right_terminal(job, outcome)))
            .then_some(outcomes)
    })
    .await;
    let outcomes = settled.unwrap_or_else(|error| panic!("{error:#}; logs are in {}", log_dir.display()));
    let count = |status: &str| outcomes.values().filter(|(s, ..)| s == status).count();
    assert_eq!(outcomes.len(), 2 * PER_RUN, "a request was stored that was not accepted, or one was lost");
    assert!(count("Succeeded") > 0 && count("Failed") > 0, "succeeded {}, failed {}", count("Succeeded"), count("Failed"));
    let backups: i64 = sqlx::query_scalar("SELECT count(*) FROM backups").fetch_one(&pool).await.unwrap();
    assert_eq!(backups, count("Succeeded") as i64, "one Backup per success");

    dev.interrupt_and_wait(Duration::from_secs(15)).await.unwrap();
}
