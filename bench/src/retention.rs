//! Retention under load (SPEC §10): terminal requests long past their
//! retention (`terminal`), then a pruning pass (`linebacker-admin prune`,
//! the receiver's own pass run on demand) while live requests arrive, with
//! their latency beside that of the same load before the pass (`prune`).
//! Afterwards every Backup is still there, and so is every request whose
//! Backup is still due; the run fails otherwise.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::load::{post_at_rate, request_body};
use crate::stats::{Latencies, rate};

/// Stores `requests` terminal requests under `mark`, their clocks 400 days
/// back (past every default retention), with their history and Backups.
/// Of every ten: eight succeeded, seven of them with a Backup past due and
/// one (`n % 10 = 0`) with a Backup still due, which must stay; one failed;
/// one not allowed. Each has four history rows, as a real one has.
pub async fn terminal(database_url: &str, mark: &str, requests: u32) -> anyhow::Result<Value> {
    let pool = PgPool::connect(database_url).await.context("connecting to the bench database")?;
    let started = Instant::now();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO backup_requests (backup_request_id, backup_job_id, data_date, prepared_data_path_name, \
         status_type_code, transport_type_code, received_timestamp, checked_timestamp, reply_timestamp, updated_at) \
         SELECT $1 || n, 'job-1', DATE '2025-10-30', $1 || n, \
                CASE n % 10 WHEN 8 THEN 'Failed' WHEN 9 THEN 'NotAllowed' ELSE 'Succeeded' END, 'HTTP', \
                now() - interval '401 days', now() - interval '400 days', now() - interval '400 days', \
                now() - interval '400 days' \
         FROM generate_series(1, $2) AS n",
    )
    .bind(mark)
    .bind(i64::from(requests))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO backup_request_history (backup_request_id, status_type_code, changed_at, changed_by) \
         SELECT r.backup_request_id, s.status, r.received_timestamp, 'bench' \
         FROM backup_requests r, unnest(ARRAY['Received', 'Allowed', 'Sent', 'Succeeded']) AS s(status) \
         WHERE r.prepared_data_path_name LIKE $1 || '%'",
    )
    .bind(mark)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO backups (backup_id, backup_request_id, backup_job_id, data_date, backup_provider_code, \
         days_to_keep_count, hold_flag, storage_path_name, backup_byte_count, copy_start_timestamp, \
         copy_end_timestamp, due_to_delete_date) \
         SELECT $1 || n || '-backup', $1 || n, 'job-1', DATE '2025-10-30', 'Local', 30, false, '/store/' || n, 1, \
                now() - interval '400 days', now() - interval '400 days', \
                CASE WHEN n % 10 = 0 THEN current_date + 30 ELSE DATE '2025-11-29' END \
         FROM generate_series(1, $2) AS n WHERE n % 10 NOT IN (8, 9)",
    )
    .bind(mark)
    .bind(i64::from(requests))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    sqlx::query("ANALYZE backup_requests").execute(&pool).await?;
    Ok(json!({ "stored": requests, "mark": mark, "seconds": started.elapsed().as_secs_f64() }))
}

/// Requests of `mark` left.
async fn left(pool: &PgPool, mark: &str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM backup_requests WHERE prepared_data_path_name LIKE $1 || '%'")
        .bind(mark)
        .fetch_one(pool)
        .await?)
}

/// Live requests at `live_rate` a second for `baseline`, then while
/// `prune_command` (a pass, run once) deletes `mark`'s requests; each
/// phase's latency, the pass's rate, and what it kept.
pub async fn prune(
    url: &str,
    database_url: &str,
    mark: &str,
    requests: u32,
    live_rate: u32,
    baseline: Duration,
    prune_command: &[String],
) -> anyhow::Result<Value> {
    let pool = PgPool::connect(database_url).await.context("connecting to the bench database")?;
    let backups_before: i64 = sqlx::query_scalar("SELECT count(*) FROM backups").fetch_one(&pool).await?;
    let quiet = live_for(url, live_rate, Some(baseline), None).await?;
    ensure!(left(&pool, mark).await? == i64::from(requests), "requests went before the pass started");

    let (program, arguments) = prune_command.split_first().context("no prune command")?;
    let done = Arc::new(AtomicBool::new(false));
    let live = tokio::spawn({
        let (url, done) = (url.to_owned(), done.clone());
        async move { live_for(&url, live_rate, None, Some(done)).await }
    });
    let started = Instant::now();
    let pass = tokio::process::Command::new(program).args(arguments).output().await;
    let elapsed = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let during = live.await??;
    let pass = pass.with_context(|| format!("running {program}"))?;
    ensure!(pass.status.success(), "the prune command failed: {}", String::from_utf8_lossy(&pass.stderr));

    let kept = left(&pool, mark).await?;
    let still_due: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM backups b JOIN backup_requests r USING (backup_request_id) \
         WHERE r.prepared_data_path_name LIKE $1 || '%' AND b.due_to_delete_date >= current_date",
    )
    .bind(mark)
    .fetch_one(&pool)
    .await?;
    let backups_after: i64 = sqlx::query_scalar("SELECT count(*) FROM backups").fetch_one(&pool).await?;
    let due = i64::from(requests / 10);
    ensure!(backups_after == backups_before, "Backups went: {backups_before} before, {backups_after} after");
    ensure!(kept == due && still_due == due, "{kept} requests kept, {still_due} with a Backup still due, of {due}");
    let pruned = u64::from(requests) - u64::try_from(kept).unwrap_or(0);
    let (quiet_p99, during_p99) = (quiet.0.summary().p99_ms, during.0.summary().p99_ms);
    Ok(json!({
        "requests": requests,
        "pruned": pruned,
        "kept": kept,
        "seconds": elapsed.as_secs_f64(),
        "perSecond": rate(pruned, elapsed),
        "livePerSecond": live_rate,
        "liveBefore": quiet.0.summary(),
        "liveDuring": during.0.summary(),
        "liveRefused": quiet.1 + during.1,
        "p99Ratio": if quiet_p99 > 0.0 { during_p99 / quiet_p99 } else { 0.0 },
        "output": String::from_utf8_lossy(&pass.stdout),
    }))
}

/// Posts at `per_second` for `seconds`, or until `done`; the latencies of
/// the answered and the count of the refused.
async fn live_for(
    url: &str,
    per_second: u32,
    seconds: Option<Duration>,
    done: Option<Arc<AtomicBool>>,
) -> anyhow::Result<(Latencies, u64)> {
    let until = seconds.map(|seconds| Instant::now() + seconds);
    let answered = post_at_rate(url, per_second, |n| {
        let over = until.is_some_and(|until| Instant::now() >= until)
            || done.as_ref().is_some_and(|done| done.load(Ordering::Relaxed));
        (!over).then(|| request_body(&format!("/bench/retention-live/{n}")))
    })
    .await?;
    let mut latencies = Latencies::new()?;
    for latency in answered.iter().flatten() {
        latencies.record(*latency);
    }
    Ok((latencies, answered.iter().filter(|latency| latency.is_none()).count() as u64))
}
