#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a failed step is the failure

use std::sync::Arc;

use chrono::TimeDelta;

use super::*;
use crate::ports::{BackupRequestQueries, RequestRetention};
use crate::request::{BackupRequest, now};
use crate::testing::fixtures::{backup_for, job, received};
use crate::testing::{InMemoryStore, RecordingTimer};

fn policy(days: u32, batch_size: u32) -> RetentionPolicy {
    RetentionPolicy {
        days: [StatusTypeCode::Succeeded, StatusTypeCode::Failed, StatusTypeCode::NotAllowed, StatusTypeCode::Cancelled]
            .into_iter()
            .map(|status| (status, days))
            .collect(),
        batch_size,
        batch_pause: Duration::from_millis(50),
    }
}

fn pruner(store: &Arc<InMemoryStore>, timer: &Arc<RecordingTimer>, policy: RetentionPolicy) -> PruneRequests {
    PruneRequests::new(store.clone(), timer.clone(), policy)
}

/// A request that reached `status` `days_ago` days ago (by its status's
/// clock), with its Backup when it succeeded.
fn terminal(store: &InMemoryStore, status: StatusTypeCode, days_ago: i64) -> BackupRequest {
    let at = now() - TimeDelta::days(days_ago);
    let mut request = received("job-1");
    let mut backup = None;
    match status {
        StatusTypeCode::NotAllowed => request.not_allow("backup job not found".into(), at).unwrap(),
        StatusTypeCode::Cancelled => request.cancel().unwrap(),
        StatusTypeCode::Received => {}
        reply => {
            request.allow(&job("job-1", true), at).unwrap();
            request.mark_sent(at).unwrap();
            request.record_reply(reply, None, at).unwrap();
            if reply == StatusTypeCode::Succeeded {
                backup = Some(backup_for(&request));
            }
        }
    }
    store.put_touched(request.clone(), backup, at);
    request
}

fn completed(outcome: Pruning) -> PrunedCounts {
    match outcome {
        Pruning::Completed(counts) => counts,
        Pruning::Busy => panic!("expected the pass to run"),
    }
}

#[tokio::test]
async fn each_terminal_status_is_pruned_by_its_own_days_and_clock_and_waiting_requests_stay() {
    let store = Arc::new(InMemoryStore::default());
    let mut policy = policy(30, 100);
    policy.days[1].1 = 0; // Failed: at the next pass.
    let mut kept = Vec::new();
    let mut gone = Vec::new();
    for status in [StatusTypeCode::Succeeded, StatusTypeCode::NotAllowed, StatusTypeCode::Cancelled] {
        gone.push(terminal(&store, status, 31));
        kept.push(terminal(&store, status, 29));
    }
    gone.push(terminal(&store, StatusTypeCode::Failed, 0));
    kept.push(terminal(&store, StatusTypeCode::Received, 400));

    let counts = completed(pruner(&store, &Arc::default(), policy).execute(now()).await.unwrap());

    let expected: PrunedCounts = vec![
        (StatusTypeCode::Succeeded, 1),
        (StatusTypeCode::Failed, 1),
        (StatusTypeCode::NotAllowed, 1),
        (StatusTypeCode::Cancelled, 1),
    ];
    assert_eq!(counts, expected);
    for request in &gone {
        assert_eq!(store.request(request.backup_request_id()), None, "{:?} stayed", request.status());
        assert!(store.history(request.backup_request_id()).await.unwrap().is_empty(), "its history went with it");
    }
    for request in &kept {
        assert!(store.request(request.backup_request_id()).is_some(), "{:?} went", request.status());
    }
    assert_eq!(store.backups().len(), 2, "a Backup is never deleted");
}

#[tokio::test]
async fn a_request_stays_while_its_backup_is_due_and_the_backup_outlives_it() {
    let store = Arc::new(InMemoryStore::default());
    let request = terminal(&store, StatusTypeCode::Succeeded, 200);
    let mut backup = backup_for(&request);
    backup.due_to_delete_date = now().date_naive();
    store.put_touched(request.clone(), Some(backup.clone()), now() - TimeDelta::days(200));
    let prune = pruner(&store, &Arc::default(), policy(90, 100));

    assert_eq!(completed(prune.execute(now()).await.unwrap())[0], (StatusTypeCode::Succeeded, 0));
    assert!(store.request(request.backup_request_id()).is_some(), "kept on its Backup's due date");

    let the_day_after = now() + TimeDelta::days(1);
    assert_eq!(completed(prune.execute(the_day_after).await.unwrap())[0], (StatusTypeCode::Succeeded, 1));
    assert_eq!(store.request(request.backup_request_id()), None);
    assert_eq!(store.backups(), [backup]);
}

#[tokio::test(start_paused = true)]
async fn a_pass_deletes_in_batches_with_a_pause_between_them() {
    let store = Arc::new(InMemoryStore::default());
    let timer = Arc::new(RecordingTimer::default());
    for _ in 0..5 {
        terminal(&store, StatusTypeCode::Failed, 100);
    }

    let counts = completed(pruner(&store, &timer, policy(90, 2)).execute(now()).await.unwrap());

    assert_eq!(counts[1], (StatusTypeCode::Failed, 5));
    // Succeeded: one empty batch; Failed: 2, 2, 1; the others: one empty each.
    let pauses = timer.pauses.lock().unwrap().clone();
    assert_eq!(pauses, vec![Duration::from_millis(50); 5]);
    assert_eq!(store.request_count(), 0);
}

#[tokio::test]
async fn a_preview_counts_what_a_pass_would_delete_and_deletes_nothing() {
    let store = Arc::new(InMemoryStore::default());
    terminal(&store, StatusTypeCode::NotAllowed, 40);
    terminal(&store, StatusTypeCode::NotAllowed, 50);
    terminal(&store, StatusTypeCode::Cancelled, 10);

    let counts = pruner(&store, &Arc::default(), policy(30, 1)).preview(now()).await.unwrap();

    assert_eq!(counts[2], (StatusTypeCode::NotAllowed, 2));
    assert_eq!(counts[3], (StatusTypeCode::Cancelled, 0));
    assert_eq!(store.request_count(), 3);
}

#[tokio::test]
async fn of_two_pruners_only_the_lock_holder_prunes() {
    let store = Arc::new(InMemoryStore::default());
    terminal(&store, StatusTypeCode::Failed, 100);
    let held = store.try_lock_pruning().await.unwrap().expect("the lock is free");

    let outcome = pruner(&store, &Arc::default(), policy(90, 10)).execute(now()).await.unwrap();

    assert_eq!(outcome, Pruning::Busy);
    assert_eq!(store.request_count(), 1);
    held.release().await;
}
