//! Startup recovery under load: requests left `Received` long ago
//! (`stall`), then, once the receiver restarted, how fast its recovery pass
//! re-emits them and what live requests meanwhile wait for their 202
//! (`watch`). A re-emitted request is marked changed (`updated_at` moves
//! past the time it was received), so the database dates every step.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::load::{bar, post_at_rate, request_body};
use crate::stats::{Latencies, rate};

/// How long the pass may take before the bench gives up.
const RECOVERY_LIMIT: Duration = Duration::from_secs(600);

/// Stores `requests` requests under `mark`, `Received` and last changed an
/// hour ago, as a crash would have left them.
pub async fn stall(database_url: &str, mark: &str, requests: u32) -> anyhow::Result<Value> {
    let pool = PgPool::connect(database_url).await.context("connecting to the bench database")?;
    let started = Instant::now();
    sqlx::query(
        "INSERT INTO backup_requests (backup_request_id, backup_job_id, data_date, prepared_data_path_name, \
         status_type_code, transport_type_code, received_timestamp, updated_at) \
         SELECT gen_random_uuid()::text, 'job-1', DATE '2026-11-30', $1 || n, 'Received', 'HTTP', \
                now() - interval '1 hour', now() - interval '1 hour' \
         FROM generate_series(1, $2) AS n",
    )
    .bind(mark)
    .bind(i64::from(requests))
    .execute(&pool)
    .await?;
    Ok(json!({ "stalled": requests, "mark": mark, "seconds": started.elapsed().as_secs_f64() }))
}

/// How many of `mark`'s requests recovery re-emitted so far.
async fn reemitted(pool: &PgPool, mark: &str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM backup_requests \
         WHERE prepared_data_path_name LIKE $1 || '%' AND updated_at > received_timestamp",
    )
    .bind(mark)
    .fetch_one(pool)
    .await?)
}

/// Waits until recovery re-emitted all `requests` of `mark` while live
/// requests arrive at `live_rate` a second (open loop: a slow answer does not
/// slow the next); the rate comes from the database's own times of the
/// first and the last re-emission.
pub async fn watch(url: &str, database_url: &str, mark: &str, requests: u32, live_rate: u32) -> anyhow::Result<Value> {
    let pool = PgPool::connect(database_url).await.context("connecting to the bench database")?;
    let done = Arc::new(AtomicBool::new(false));
    let live = tokio::spawn({
        let (url, done) = (url.to_owned(), done.clone());
        async move {
            let answered = post_at_rate(&url, live_rate, |n| {
                (!done.load(Ordering::Relaxed)).then(|| request_body(&format!("/bench/recovery-live/{n}")))
            })
            .await?;
            let mut latencies = Latencies::new()?;
            for latency in answered.iter().flatten() {
                latencies.record(*latency);
            }
            let refused = answered.iter().filter(|latency| latency.is_none()).count() as u64;
            anyhow::Ok((latencies, refused))
        }
    });
    let bar = bar(u64::from(requests), "recovery re-emitting");
    let started = Instant::now();
    let outcome = loop {
        let count = reemitted(&pool, mark).await?;
        bar.set_position(u64::try_from(count).unwrap_or(0));
        if count >= i64::from(requests) {
            break Ok(());
        }
        if started.elapsed() > RECOVERY_LIMIT {
            break Err(count);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    done.store(true, Ordering::Relaxed);
    bar.finish_and_clear();
    let (live, refused) = live.await??;
    if let Err(count) = outcome {
        bail!("recovery re-emitted {count} of {requests} requests within {RECOVERY_LIMIT:?}");
    }
    let seconds: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM max(updated_at) - min(updated_at))::float8 FROM backup_requests \
         WHERE prepared_data_path_name LIKE $1 || '%'",
    )
    .bind(mark)
    .fetch_one(&pool)
    .await?;
    Ok(json!({
        "requests": requests,
        "seconds": seconds,
        "perSecond": rate(u64::from(requests), Duration::from_secs_f64(seconds.max(0.0))),
        "livePerSecond": live_rate,
        "liveRefused": refused,
        "liveLatency": live.summary(),
    }))
}
