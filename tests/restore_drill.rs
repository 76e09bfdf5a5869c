//! The restore drill (SPEC §6): take a snapshot of the database while the
//! system works, keep working, then restore the snapshot and restart.
//! Recovery and the idempotent consumers must bring every request the
//! restored database has to the state its job and the interface dictate;
//! messages about requests it no longer has must be dead-lettered with a
//! reason, and every process must keep running.
//!
//! To make the snapshot hold requests at each step, workers are stopped
//! before it is taken: requests posted while `check-allowed` is down are
//! `Received` in it, while `send-to-interface` is down `Allowed`, and while
//! `interface-listener` is down `Sent` with the interface's reply not yet
//! forwarded.
//!
//! A request that is `Sent` in the snapshot and whose reply was consumed
//! before the restore waits for a reply the interface already gave. Recovery
//! sends such requests to the interface again once their reply is overdue
//! (`recovery.resend_sent_after_secs`, 3 s in tests), and the interface
//! answers the repeated request id.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a failed step is the failure

use std::collections::HashMap;
use std::time::Duration;

use linebacker_testkit::{BrokerProbe, eventually};
use linebacker_tests::{Snapshot, System, SystemOptions};

const ACTIVE_JOBS: &[&str] = &["job-1", "job-2"];
const JOBS: &[&str] = &["job-1", "job-2", "job-inactive", "job-unknown"];
const PER_BATCH: usize = 8;
const SETTLE: Duration = Duration::from_secs(120);

/// Request id → job.
type Batch = HashMap<String, String>;

async fn post_batch(system: &System, jobs: &[&str]) -> Batch {
    let mut batch = Batch::new();
    for i in 0..PER_BATCH {
        let job = jobs[i % jobs.len()];
        let body = system.post(job, &format!("2022-06-{:02}", i + 1)).await.unwrap();
        batch.insert(body["backupRequestId"].as_str().unwrap().to_owned(), job.to_owned());
    }
    batch
}

/// (status, notAllowedReason, has a Backup) of every stored request.
async fn state(system: &System) -> HashMap<String, (String, Option<String>, bool)> {
    let rows: Vec<(String, String, Option<String>, bool)> = sqlx::query_as(
        "SELECT r.backup_request_id, r.status_type_code, r.not_allowed_reason, b.backup_id IS NOT NULL \
         FROM backup_requests r LEFT JOIN backups b USING (backup_request_id)",
    )
    .fetch_all(&system.pool)
    .await
    .unwrap();
    rows.into_iter().map(|(id, status, reason, backup)| (id, (status, reason, backup))).collect()
}

/// Waits until every request of `batch` is in one of `statuses`.
async fn wait_for(system: &System, batch: &Batch, statuses: &[&str]) {
    eventually(SETTLE, &format!("{} requests to be {statuses:?}", batch.len()), || async {
        let state = state(system).await;
        batch
            .keys()
            .all(|id| state.get(id).is_some_and(|(status, ..)| statuses.contains(&status.as_str())))
            .then_some(())
    })
    .await
    .unwrap();
}

const TERMINAL: &[&str] = &["NotAllowed", "Succeeded", "Failed"];

/// Whether `outcome` is what the job and the interface dictate.
fn is_right_terminal(job: &str, (status, reason, has_backup): &(String, Option<String>, bool)) -> bool {
    match job {
        "job-inactive" => status == "NotAllowed" && reason.as_deref() == Some("backup job is not active"),
        "job-unknown" => status == "NotAllowed" && reason.as_deref() == Some("backup job not found"),
        _ => (status == "Succeeded" && *has_backup) || (status == "Failed" && !*has_backup),
    }
}

/// Takes `count` dead letters off `queue`, as (request id, reason).
async fn dead_letters(system: &System, queue: &str, count: usize) -> Vec<(String, String)> {
    let probe = BrokerProbe::connect().await.unwrap();
    let name = format!("{}{queue}", system.queue_prefix);
    let mut letters = Vec::new();
    for _ in 0..count {
        let message = probe.get(&name, Duration::from_secs(90)).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&message.delivery.data).unwrap();
        let headers = message.delivery.properties.headers().clone().unwrap_or_default();
        let reason = match headers.inner().get("x-linebacker-reason") {
            Some(lapin::types::AMQPValue::LongString(text)) => String::from_utf8_lossy(text.as_bytes()).into_owned(),
            other => format!("{other:?}"),
        };
        letters.push((body["backupRequestId"].as_str().unwrap_or_default().to_owned(), reason));
    }
    probe.close().await;
    letters
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_a_restore_every_request_the_database_has_settles_and_messages_about_the_rest_are_dead_lettered() {
    let mut system = System::start(SystemOptions { failure_share: 0.25, ..SystemOptions::default() }).await.unwrap();
    let snapshot_path = system.log_dir.join("snapshot.dump");
    let database_url = system.database_url().unwrap();

    // Before the snapshot: some settle, some wait at each step.
    let settled = post_batch(&system, JOBS).await;
    wait_for(&system, &settled, TERMINAL).await;
    system.stop_process("interface-listener-0").await.unwrap();
    let sent = post_batch(&system, JOBS).await;
    wait_for(&system, &sent, &["Sent", "NotAllowed"]).await;
    system.stop_process("send-to-interface-0").await.unwrap();
    let allowed = post_batch(&system, JOBS).await;
    wait_for(&system, &allowed, &["Allowed", "NotAllowed"]).await;
    system.stop_process("check-allowed-0").await.unwrap();
    let received = post_batch(&system, JOBS).await;
    let snapshot = Snapshot::take(&database_url, &snapshot_path).await.unwrap();
    let in_snapshot = state(&system).await;

    // Keep working: everything settles, more requests come and settle.
    for worker in ["check-allowed-0", "send-to-interface-0", "interface-listener-0"] {
        system.restart_process(worker).await.unwrap();
    }
    let after = post_batch(&system, JOBS).await;
    for batch in [&sent, &allowed, &received, &after] {
        wait_for(&system, batch, TERMINAL).await;
    }
    // Messages in flight at the restore: replies the interface sent for
    // requests the snapshot lacks, and events waiting for check-allowed.
    system.stop_process("interface-listener-0").await.unwrap();
    let replied = post_batch(&system, ACTIVE_JOBS).await;
    wait_for(&system, &replied, &["Sent"]).await;
    eventually(SETTLE, "the interface to answer", || async {
        let stats = system.simulator_stats().await.ok()?;
        replied.keys().all(|id| stats["replied"][id] == 1).then_some(())
    })
    .await
    .unwrap();
    system.stop_process("check-allowed-0").await.unwrap();
    let queued = post_batch(&system, JOBS).await;
    eventually(SETTLE, "events waiting for check-allowed", || async {
        (system.queue_depth("check-allowed").await.ok()? >= PER_BATCH as u32).then_some(())
    })
    .await
    .unwrap();

    // Restore: linebacker stops (the simulator, an outside system, does not),
    // the database goes back to the snapshot, linebacker starts again.
    for process in ["http-receiver-0", "send-to-interface-0", "receive-status-0"] {
        system.stop_process(process).await.unwrap();
    }
    snapshot.restore(&database_url).await.unwrap();
    assert_eq!(state(&system).await, in_snapshot, "the restore brought back the snapshot");
    // The snapshot's `Sent` requests must be overdue (`resend_sent_after_secs`
    // is 3 s in tests) when the receiver starts, however fast this ran.
    tokio::time::sleep(Duration::from_secs(4)).await;
    for process in ["http-receiver-0", "check-allowed-0", "send-to-interface-0", "interface-listener-0", "receive-status-0"] {
        system.restart_process(process).await.unwrap();
    }

    // Requests that waited for linebacker in the snapshot settle as their
    // job and the interface dictate; settled ones stay as they were.
    wait_for(&system, &received, TERMINAL).await;
    wait_for(&system, &allowed, TERMINAL).await;
    let restored = state(&system).await;
    for batch in [&received, &allowed] {
        for (id, job) in batch {
            assert!(is_right_terminal(job, &restored[id]), "{id} of {job} ended {:?}", restored[id]);
        }
    }
    for id in settled.keys() {
        assert_eq!(restored[id], in_snapshot[id], "{id} settled before the snapshot and changed");
    }

    // Messages about requests the restored database lacks are dead-lettered
    // once the not-found grace (5 s in tests) is over.
    let lacking: Vec<&String> = after.keys().chain(replied.keys()).chain(queued.keys()).collect();
    for id in &lacking {
        assert!(!restored.contains_key(*id), "{id} was posted after the snapshot");
    }
    let letters = [dead_letters(&system, "check-allowed.dead", queued.len()).await, dead_letters(&system, "receive-status.dead", replied.len()).await];
    for (id, reason) in letters.iter().flatten() {
        assert!(queued.contains_key(id) || replied.contains_key(id), "dead letter about {id}");
        assert!(reason.contains("not found"), "{id} dead-lettered without a not-found reason: {reason}");
    }

    // `Sent` in the snapshot, reply consumed before the restore: sent to the
    // interface again, answered again, settled.
    wait_for(&system, &sent, TERMINAL).await;
    let end = state(&system).await;
    let stats = system.simulator_stats().await.unwrap();
    for (id, job) in &sent {
        assert!(is_right_terminal(job, &end[id]), "{id} of {job} ended {:?}", end[id]);
        if ACTIVE_JOBS.contains(&job.as_str()) {
            assert_eq!(stats["received"][id], 2, "{id} was sent to the interface again");
        }
    }

    assert_eq!(system.all_running(), Vec::<String>::new(), "a process died");
    system.stop().await.unwrap();
}
