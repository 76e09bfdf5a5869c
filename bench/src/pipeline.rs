//! Requests followed through the pipeline: how fast they get from POST to
//! `Sent` and to their reply, read back from the timestamps the processes
//! store (`receivedTimestamp`, `sentToInterfaceTimestamp`, `replyTimestamp`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use sqlx::PgPool;

use linebacker_azure_queue::QueueClient;
use linebacker_azure_queue::testing::azurite_config;

use crate::load::{bar, http_client, post, post_at_rate, request_body};
use crate::process::{self, MachineCpu, cpu_seconds};
use crate::stats::rate;

/// How long requests may take to reach a stage before the bench gives up.
const SETTLE_LIMIT: Duration = Duration::from_secs(900);

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Stage {
    Sent,
    Succeeded,
}

impl Stage {
    /// The statuses at or past the stage, and the column that dates it.
    fn reached(self) -> (&'static [&'static str], &'static str) {
        match self {
            Self::Sent => (&["Sent", "Succeeded", "Failed"], "sent_to_interface_timestamp"),
            Self::Succeeded => (&["Succeeded", "Failed"], "reply_timestamp"),
        }
    }
}

/// A mark in `preparedDataPathName` that names one measurement's requests.
fn marker(name: &str) -> String {
    format!("/bench/{name}/{}/", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// Posts `requests` with `clients` concurrent clients; a refused POST (a 503
/// while the database is busy) is tried again, so every request is accepted.
async fn post_all(url: &str, mark: &str, requests: usize, clients: usize) -> anyhow::Result<Duration> {
    let http = http_client(clients)?;
    let next = Arc::new(AtomicUsize::new(0));
    let bar = bar(requests as u64, "posting");
    let started = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (http, url, next, bar, mark) = (http.clone(), url.to_owned(), next.clone(), bar.clone(), mark.to_owned());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= requests {
                        return;
                    }
                    while !post(&http, &url, request_body(&format!("{mark}{n}"))).await {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    bar.inc(1);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await?;
    }
    bar.finish_and_clear();
    Ok(started.elapsed())
}

/// Waits until `expected` requests of `mark` reached `stage`.
async fn wait_for(pool: &PgPool, mark: &str, expected: usize, stage: Stage) -> anyhow::Result<Duration> {
    let (statuses, _) = stage.reached();
    let bar = bar(expected as u64, &format!("reaching {stage:?}"));
    let started = Instant::now();
    loop {
        let count: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM backup_requests \
             WHERE prepared_data_path_name LIKE $1 || '%' AND status_type_code = ANY($2)",
        )
        .bind(mark)
        .bind(statuses)
        .fetch_one(pool)
        .await?;
        bar.set_position(u64::try_from(count).unwrap_or(0));
        if usize::try_from(count).unwrap_or(0) >= expected {
            bar.finish_and_clear();
            return Ok(started.elapsed());
        }
        if started.elapsed() > SETTLE_LIMIT {
            bail!("only {count} of {expected} requests reached {stage:?} within {SETTLE_LIMIT:?}");
        }
        // The count scans every request of the run: asked five times a
        // second, it took 5 to 9 s of the database's statement time in a
        // run of 20,000. The figures come from the stored timestamps, so
        // how often this looks changes none of them.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The first and last time a column of `mark`'s requests was set, and how
/// many have it: a stage's throughput.
async fn span(pool: &PgPool, mark: &str, column: &str) -> anyhow::Result<Value> {
    let (count, seconds): (i64, Option<f64>) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT count({column}), extract(epoch FROM max({column}) - min(received_timestamp))::float8 \
         FROM backup_requests WHERE prepared_data_path_name LIKE $1 || '%'"
    )))
    .bind(mark)
    .fetch_one(pool)
    .await?;
    let seconds = seconds.unwrap_or(0.0);
    Ok(json!({
        "requests": count,
        "secondsFromFirstPost": seconds,
        "perSecond": rate(u64::try_from(count).unwrap_or(0), Duration::from_secs_f64(seconds.max(0.0))),
    }))
}

/// p50, p99 and max, in milliseconds, of a column less `received_timestamp`.
async fn latency(pool: &PgPool, mark: &str, column: &str) -> anyhow::Result<Value> {
    let (p50, p99, max): (Option<f64>, Option<f64>, Option<f64>) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH l AS (SELECT extract(epoch FROM {column} - received_timestamp) * 1000 AS ms \
                    FROM backup_requests WHERE prepared_data_path_name LIKE $1 || '%' AND {column} IS NOT NULL) \
         SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::float8, \
                percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::float8, max(ms)::float8 FROM l"
    )))
    .bind(mark)
    .fetch_one(pool)
    .await?;
    Ok(json!({ "p50_ms": p50, "p99_ms": p99, "max_ms": max }))
}

/// Transactions committed and rolled back in the bench database so far.
async fn transactions(pool: &PgPool) -> anyhow::Result<(i64, i64)> {
    Ok(sqlx::query_as("SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = current_database()")
        .fetch_one(pool)
        .await?)
}

/// The transactions between two `transactions` samples, per request. The
/// server publishes a backend's counts when its transaction ends, at most
/// once a second, so the figures of a short run are a little low.
fn transactions_since(before: (i64, i64), after: (i64, i64), requests: usize) -> Value {
    let (commits, rollbacks) = (after.0 - before.0, after.1 - before.1);
    let per_request = |n: i64| n as f64 / requests.max(1) as f64;
    json!({
        "commits": commits,
        "rollbacks": rollbacks,
        "commitsPerRequest": per_request(commits),
        "rollbacksPerRequest": per_request(rollbacks),
    })
}

/// The depth of Azure queues, sampled every second until `stop`: the
/// deepest each got, and its mean. Azurite slows as a queue grows, so the
/// pipeline's figures on Azurite hold only at the depths they ran at.
async fn sample_depths(queues: Vec<String>, stop: Arc<std::sync::atomic::AtomicBool>) -> anyhow::Result<Value> {
    let clients = queues
        .iter()
        .map(|name| Ok((name.clone(), QueueClient::new(&azurite_config(), name)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut depths: Vec<Vec<u64>> = vec![Vec::new(); clients.len()];
    while !stop.load(Ordering::Relaxed) {
        for ((_, queue), seen) in clients.iter().zip(&mut depths) {
            // A sample the service does not answer is left out, not zero.
            if let Ok(depth) = queue.approximate_count().await {
                seen.push(depth);
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let figures: serde_json::Map<String, Value> = clients
        .iter()
        .zip(&depths)
        .map(|((name, _), seen)| {
            let mean = if seen.is_empty() { 0.0 } else { seen.iter().sum::<u64>() as f64 / seen.len() as f64 };
            (name.clone(), json!({ "max": seen.iter().max(), "mean": mean, "samples": seen.len() }))
        })
        .collect();
    Ok(Value::Object(figures))
}

/// `requests` POSTed as fast as `clients` can, followed to `Sent` and to
/// their reply, with the CPU each process spent meanwhile.
pub async fn run(
    url: &str,
    database_url: &str,
    requests: usize,
    clients: usize,
    pids: &[(String, u32)],
    azure_queues: Vec<String>,
) -> anyhow::Result<Value> {
    let pool = PgPool::connect(database_url).await.context("connecting to the bench database")?;
    let mark = marker("pipeline");
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let depths = tokio::spawn(sample_depths(azure_queues, sampling.clone()));
    let cpu_before = cpu_seconds(pids)?;
    let (machine_before, transactions_before) = (MachineCpu::sample()?, transactions(&pool).await?);
    let posting = post_all(url, &mark, requests, clients).await?;
    wait_for(&pool, &mark, requests, Stage::Sent).await?;
    wait_for(&pool, &mark, requests, Stage::Succeeded).await?;
    let cpu_after = cpu_seconds(pids)?;
    let machine = MachineCpu::sample()?.since(&machine_before, requests);
    sampling.store(true, Ordering::Relaxed);
    let depths = depths.await??;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let database = transactions_since(transactions_before, transactions(&pool).await?, requests);
    let per_thousand: serde_json::Map<String, Value> = cpu_after
        .iter()
        .map(|(name, after)| {
            let before = cpu_before.get(name).copied().unwrap_or(0.0);
            (name.clone(), json!((after - before) * 1000.0 / requests as f64))
        })
        .collect();
    Ok(json!({
        "requests": requests,
        "clients": clients,
        "posted": { "seconds": posting.as_secs_f64(), "perSecond": rate(requests as u64, posting) },
        "checked": span(&pool, &mark, "checked_timestamp").await?,
        "sent": span(&pool, &mark, "sent_to_interface_timestamp").await?,
        "replied": span(&pool, &mark, "reply_timestamp").await?,
        "cpuSecondsPer1000Requests": per_thousand,
        "machine": machine,
        "database": database,
        "azureQueueDepths": depths,
        "processesAfter": process::sample_all(pids)?,
    }))
}

/// POSTs at `per_second` for `duration` (open loop: a slow answer does not
/// slow the next POST), then waits for every request to reach `until`.
pub async fn steady(
    url: &str,
    database_url: &str,
    per_second: u32,
    duration: Duration,
    until: Stage,
    name: &str,
) -> anyhow::Result<Value> {
    let pool = PgPool::connect(database_url).await.context("connecting to the bench database")?;
    let mark = marker(name);
    let total = (f64::from(per_second) * duration.as_secs_f64()).round() as usize;
    let bar = bar(total as u64, &format!("{per_second}/s for {}s", duration.as_secs()));
    let answered = post_at_rate(url, per_second, |n| {
        (n < total as u64).then(|| {
            bar.inc(1);
            request_body(&format!("{mark}{n}"))
        })
    })
    .await?;
    let accepted = answered.iter().filter(|latency| latency.is_some()).count();
    bar.finish_and_clear();
    wait_for(&pool, &mark, accepted, until).await?;
    let (_, column) = until.reached();
    Ok(json!({
        "perSecond": per_second,
        "seconds": duration.as_secs(),
        "posted": total,
        "accepted": accepted,
        "until": format!("{until:?}"),
        "latency": latency(&pool, &mark, column).await?,
    }))
}
