//! `RequestRetention`: terminal requests past their status's clock go with
//! their history and idempotency keys, oldest first and at most `limit` a
//! call; a request whose Backup is still due stays, and no Backup goes.

use chrono::TimeDelta;

use super::{Subject, id, soon};
use crate::ports::{BackupRepository, BackupRequestQueries, BackupRequestRepository, RequestRetention};
use crate::request::{BackupRequest, IdempotencyKey, StatusTypeCode, now};
use crate::testing::fixtures::{advance, backup_for, received, stored_in};

/// What the checks of this suite need of a store.
pub trait RetentionStore: BackupRequestRepository + BackupRequestQueries + BackupRepository + RequestRetention {}
impl<T: BackupRequestRepository + BackupRequestQueries + BackupRepository + RequestRetention> RetentionStore for T {}

/// A `Succeeded` request with its Backup, due to delete on `due`.
async fn succeeded(store: &impl RetentionStore, due: chrono::NaiveDate) -> BackupRequest {
    let request = stored_in(store, StatusTypeCode::Sent).await;
    let mut backup = backup_for(&request);
    backup.due_to_delete_date = due;
    let mut done = request.clone();
    advance(&mut done, StatusTypeCode::Succeeded);
    store.record_backup(&backup, &done, StatusTypeCode::Sent, &[]).await.unwrap();
    done
}

pub async fn past_terminal_requests_go_with_their_history_and_keys_and_backups_stay(
    subject: impl Subject<Store: RetentionStore>,
) {
    let store = subject.acting_as("http-receiver-0");
    let today = now().date_naive();
    let due_today = succeeded(&store, today).await;
    let done_with = succeeded(&store, today - TimeDelta::days(1)).await;
    let keyed = received("job-1");
    let key = IdempotencyKey::try_from("key-1").unwrap();
    store.create(&keyed, Some(&key), &[]).await.unwrap();
    let mut failed = keyed.clone();
    for status in [StatusTypeCode::Allowed, StatusTypeCode::Sent, StatusTypeCode::Failed] {
        let from = failed.status();
        advance(&mut failed, status);
        store.update(&failed, from, &[]).await.unwrap();
    }
    let not_allowed = stored_in(&store, StatusTypeCode::NotAllowed).await;
    let cancelled = stored_in(&store, StatusTypeCode::Cancelled).await;
    let waiting = stored_in(&store, StatusTypeCode::Sent).await;
    // Every clock above is now; a cutoff ahead of it takes them all.
    let before = now() + TimeDelta::hours(1);

    let mut deleted = Vec::new();
    for status in [StatusTypeCode::Succeeded, StatusTypeCode::Failed, StatusTypeCode::NotAllowed, StatusTypeCode::Cancelled] {
        deleted.push(store.prune(status, before, today, 100).await.unwrap());
    }

    assert_eq!(deleted, [1, 1, 1, 1]);
    for gone in [&done_with, &failed, &not_allowed, &cancelled] {
        assert_eq!(store.find(id(gone)).await.unwrap(), None, "{:?} stayed", gone.status());
        assert!(store.history(id(gone)).await.unwrap().is_empty(), "its history stayed");
    }
    assert!(store.find(id(&due_today)).await.unwrap().is_some(), "its Backup is due today");
    assert!(store.find(id(&waiting)).await.unwrap().is_some());
    for backup_of in [&due_today, &done_with] {
        assert!(store.find_by_request(id(backup_of)).await.unwrap().is_some(), "a Backup went");
    }
    // The key went with its request: using it again makes a new one.
    let again = received("job-1");
    store.create(&again, Some(&key), &[]).await.unwrap();
    assert!(store.find(id(&again)).await.unwrap().is_some());
}

pub async fn pruning_takes_the_oldest_first_at_most_limit_and_counts_before_it_deletes(
    subject: impl Subject<Store: RetentionStore>,
) {
    let store = subject.acting_as("http-receiver-0");
    let today = now().date_naive();
    let mut cancelled = Vec::new();
    for _ in 0..3 {
        cancelled.push(stored_in(&store, StatusTypeCode::Cancelled).await);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let before = now() + TimeDelta::hours(1);
    assert_eq!(store.prunable(StatusTypeCode::Cancelled, before, today).await.unwrap(), 3);
    assert_eq!(store.prunable(StatusTypeCode::Cancelled, now() - TimeDelta::hours(1), today).await.unwrap(), 0);

    assert_eq!(store.prune(StatusTypeCode::Cancelled, before, today, 2).await.unwrap(), 2);

    assert_eq!(store.find(id(&cancelled[0])).await.unwrap(), None);
    assert_eq!(store.find(id(&cancelled[1])).await.unwrap(), None);
    assert!(store.find(id(&cancelled[2])).await.unwrap().is_some(), "the newest stays");
    assert_eq!(store.prunable(StatusTypeCode::Cancelled, before, today).await.unwrap(), 1);
}

pub async fn the_pruning_lock_is_exclusive_and_freed_by_its_holder(subject: impl Subject<Store: RetentionStore>) {
    let first = subject.acting_as("http-receiver-0");
    let second = subject.acting_as("http-receiver-1");
    let held = first.try_lock_pruning().await.unwrap().expect("the lock is free");
    assert!(second.try_lock_pruning().await.unwrap().is_none(), "two holders");
    held.release().await;
    let taken = soon("the released lock to free", || async { second.try_lock_pruning().await.unwrap() }).await;
    taken.release().await;
}
