//! Load on the receiver's API: concurrent clients POSTing as fast as they
//! are answered, and the outbox they leave behind.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::process::MachineCpu;
use crate::stats::{Latencies, Summary, rate};

/// How long the outbox may take to drain before the bench says it did not.
const DRAIN_LIMIT: Duration = Duration::from_secs(120);

/// The body of one request; `path` marks the measurement it belongs to, so
/// that the database can be asked about those requests only.
pub fn request_body(path: &str) -> String {
    let mut body = linebacker_testkit::valid_body();
    body["backupDataLocation"] = path.into();
    body.to_string()
}

pub fn http_client(connections: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// POSTs one request; true when it was accepted (202).
pub async fn post(client: &reqwest::Client, url: &str, body: String) -> bool {
    let sent = client
        .post(format!("{url}/api/backup-requests"))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await;
    matches!(sent, Ok(response) if response.status() == reqwest::StatusCode::ACCEPTED)
}

/// Open-loop load: POSTs the body `next(n)` gives, `per_second` a second,
/// until it gives none; a slow answer does not slow the next POST. Answers
/// each POST's latency, `None` for one not accepted.
pub async fn post_at_rate(
    url: &str,
    per_second: u32,
    mut next: impl FnMut(u64) -> Option<String>,
) -> anyhow::Result<Vec<Option<Duration>>> {
    let http = http_client(64)?;
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(per_second.max(1))));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut posts = Vec::new();
    let mut n = 0;
    loop {
        ticks.tick().await;
        let Some(body) = next(n) else { break };
        let (http, url) = (http.clone(), url.to_owned());
        posts.push(tokio::spawn(async move {
            let sent = Instant::now();
            post(&http, &url, body).await.then(|| sent.elapsed())
        }));
        n += 1;
    }
    let mut answered = Vec::with_capacity(posts.len());
    for posted in posts {
        answered.push(posted.await?);
    }
    Ok(answered)
}

pub fn bar(length: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(length);
    let style = ProgressStyle::with_template("{msg:>28} [{elapsed_precise}] {wide_bar} {pos}/{len}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(what.to_owned());
    bar
}

#[derive(Serialize)]
struct IntakeRun {
    clients: usize,
    seconds: f64,
    accepted: u64,
    refused: u64,
    accepted_per_second: f64,
    latency: Summary,
    /// Events still in the outbox when the load stopped, and how long the
    /// relays then took to publish them all.
    outbox_backlog_at_end: i64,
    outbox_drain_seconds: Option<f64>,
    /// What the whole machine spent while the clients posted.
    machine: Value,
}

/// Closed-loop load from each number of `clients` in turn, for `duration`.
pub async fn intake(url: &str, database_url: &str, clients: &[usize], duration: Duration) -> anyhow::Result<Value> {
    let pool = PgPool::connect(database_url).await.context("connecting to the bench database")?;
    let mut runs = Vec::new();
    for &count in clients {
        runs.push(intake_at(url, &pool, count, duration).await?);
    }
    Ok(json!(runs))
}

async fn intake_at(url: &str, pool: &PgPool, clients: usize, duration: Duration) -> anyhow::Result<IntakeRun> {
    let http = http_client(clients)?;
    let bar = bar(duration.as_secs(), &format!("intake, {clients} clients"));
    let refused = Arc::new(AtomicU64::new(0));
    let machine_before = MachineCpu::sample()?;
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..clients)
        .map(|client| {
            let (http, url, refused) = (http.clone(), url.to_owned(), refused.clone());
            tokio::spawn(async move {
                let mut latencies = Latencies::new()?;
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let body = request_body(&format!("/bench/intake/{clients}/{client}/{n}"));
                    let sent = Instant::now();
                    if post(&http, &url, body).await {
                        latencies.record(sent.elapsed());
                    } else {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                    n += 1;
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let ticker = tokio::spawn({
        let bar = bar.clone();
        async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                bar.inc(1);
            }
        }
    });
    let mut all = Latencies::new()?;
    for worker in workers {
        all.add(&worker.await??);
    }
    let elapsed = started.elapsed();
    let latency = all.summary();
    let machine = MachineCpu::sample()?.since(&machine_before, usize::try_from(latency.count).unwrap_or(usize::MAX));
    ticker.abort();
    bar.finish_and_clear();
    let backlog = outbox_backlog(pool).await?;
    let drain = wait_for_empty_outbox(pool).await?;
    Ok(IntakeRun {
        clients,
        seconds: elapsed.as_secs_f64(),
        accepted: latency.count,
        refused: refused.load(Ordering::Relaxed),
        accepted_per_second: rate(latency.count, elapsed),
        latency,
        outbox_backlog_at_end: backlog,
        outbox_drain_seconds: drain.map(|d| d.as_secs_f64()),
        machine,
    })
}

pub async fn outbox_backlog(pool: &PgPool) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM outbox").fetch_one(pool).await?)
}

/// How long until the outbox is empty; `None` past [`DRAIN_LIMIT`].
async fn wait_for_empty_outbox(pool: &PgPool) -> anyhow::Result<Option<Duration>> {
    let started = Instant::now();
    while started.elapsed() < DRAIN_LIMIT {
        if outbox_backlog(pool).await? == 0 {
            return Ok(Some(started.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(None)
}
