//! SIGINT (PM2's stop signal) in the middle of a burst, against the real
//! binary: the process exits 0 within its deadline and no request that was
//! answered 202 is lost: each is stored, and its event is either published
//! or still waiting in the outbox.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a failed step is the failure

use std::collections::HashSet;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use linebacker_domain::ports::WorkQueue;
use linebacker_rabbitmq::{RabbitBus, RabbitSettings};
use linebacker_testkit::{
    WAIT, WatchQueue, config_dir, delete_broker_objects, eventually, free_port_run, fresh_database, request_ids,
    test_env, unique_name, valid_body, wait_until_ready,
};
use serde_json::Value;

const TASKS: usize = 8;
const PER_TASK: usize = 25;
/// config/test.toml's shutdown.deadline_ms, plus room for process exit.
const EXIT_WITHIN: Duration = Duration::from_secs(8);

/// Every queue the receiver's bus declares under `queue_prefix`.
fn queue_names(queue_prefix: &str) -> Vec<String> {
    let bus = RabbitBus::new(RabbitSettings { queue_prefix: queue_prefix.to_owned(), ..RabbitSettings::default() });
    WorkQueue::ALL.iter().flat_map(|queue| bus.queue_names(*queue)).collect()
}

#[tokio::test]
async fn sigint_during_a_burst_exits_0_and_loses_no_accepted_request() {
    let database = fresh_database().await.unwrap();
    let exchange = unique_name("tx");
    let queue_prefix = format!("{}.", unique_name("tq"));
    let port = free_port_run(0).unwrap();
    let watch = WatchQueue::bind(&exchange, &["backup-request.received"]).await.unwrap();
    let logs = if std::env::var_os("TEST_LOG").is_some() { Stdio::inherit() } else { Stdio::null() };
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_http-receiver"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(test_env(&database.url, &exchange, &queue_prefix))
        .env("LINEBACKER__HTTP__PORT", port.to_string())
        .env("LINEBACKER_CONFIG_DIR", config_dir())
        .stdout(logs)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    wait_until_ready(&client, &format!("{base}/api/zpages/readyz"), WAIT).await.unwrap();

    let answered = Arc::new(AtomicUsize::new(0));
    let burst: Vec<_> = (0..TASKS)
        .map(|_| {
            let (client, base, answered) = (client.clone(), base.clone(), answered.clone());
            tokio::spawn(async move {
                let mut accepted = Vec::new();
                for _ in 0..PER_TASK {
                    let Ok(response) =
                        client.post(format!("{base}/api/backup-requests")).json(&valid_body()).send().await
                    else {
                        continue; // refused: the receiver has stopped listening
                    };
                    answered.fetch_add(1, Ordering::SeqCst);
                    if response.status() == 202
                        && let Ok(body) = response.json::<Value>().await
                    {
                        accepted.push(body["backupRequestId"].as_str().unwrap_or_default().to_owned());
                    }
                }
                accepted
            })
        })
        .collect();
    eventually(WAIT, "the burst to be under way", || async {
        (answered.load(Ordering::SeqCst) >= TASKS * PER_TASK / 4).then_some(())
    })
    .await
    .unwrap();

    let interrupted = Instant::now();
    let kill = std::process::Command::new("kill").args(["-INT", &pid.to_string()]).status().unwrap();
    assert!(kill.success());
    let status = tokio::time::timeout(EXIT_WITHIN, child.wait())
        .await
        .expect("the receiver did not exit within its deadline")
        .unwrap();
    assert!(status.success(), "exit status {status:?}");
    let stopped_after = interrupted.elapsed();

    let mut accepted = Vec::new();
    for task in burst {
        accepted.extend(tokio::time::timeout(WAIT, task).await.unwrap().unwrap());
    }
    assert!(!accepted.is_empty(), "some requests were accepted before the signal");
    assert!(accepted.len() < TASKS * PER_TASK, "the signal came in the middle of the burst");

    let pool = sqlx::PgPool::connect(&database.url).await.unwrap();
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT backup_request_id FROM backup_requests WHERE backup_request_id = ANY($1)")
            .bind(&accepted)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(stored.len(), accepted.len(), "every 202 is stored");
    let waiting: HashSet<String> = sqlx::query_scalar("SELECT backup_request_id FROM outbox")
        .fetch_all(&pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let messages = watch.collect(accepted.len() - waiting.len().min(accepted.len()), WAIT, Duration::from_secs(1)).await.unwrap();
    let published = request_ids(&messages);
    let published_set: HashSet<&String> = published.iter().collect();
    assert_eq!(published_set.len(), published.len(), "no event published twice");
    eprintln!(
        "{} accepted, {} published, {} still in the outbox, stopped {:?} after SIGINT",
        accepted.len(),
        published.len(),
        waiting.len(),
        stopped_after
    );
    let lost: Vec<&String> =
        accepted.iter().filter(|id| !published_set.contains(id) && !waiting.contains(*id)).collect();
    assert!(lost.is_empty(), "accepted but neither published nor in the outbox: {lost:?}");

    pool.close().await;
    watch.delete().await.unwrap();
    delete_broker_objects(&exchange, queue_names(&queue_prefix)).await;
}
