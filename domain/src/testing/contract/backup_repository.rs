//! `BackupRepository`: a Backup is stored together with its request's step
//! to `Succeeded`, at most once per request; a stale expected status is a
//! `Conflict` and an unknown request `NotFound`, both storing nothing.

use super::{Subject, id};
use crate::error::DomainError;
use crate::event::EventType;
use crate::ports::{BackupRepository, BackupRequestQueries, BackupRequestRepository};
use crate::request::{BackupRequest, BackupRequestId, StatusTypeCode};
use crate::testing::fixtures::{advance, backup_for, event, request_in, stored_in};

/// What the checks of this suite need of a store.
pub trait BackupStore: BackupRequestRepository + BackupRequestQueries + BackupRepository {}
impl<T: BackupRequestRepository + BackupRequestQueries + BackupRepository> BackupStore for T {}

fn succeeded(request: &BackupRequest) -> BackupRequest {
    let mut succeeded = request.clone();
    advance(&mut succeeded, StatusTypeCode::Succeeded);
    succeeded
}

pub async fn a_backup_is_recorded_with_its_step_once_and_reads_back_equal(subject: impl Subject<Store: BackupStore>) {
    let store = subject.acting_as("receive-status-0");
    let request = stored_in(&store, StatusTypeCode::Sent).await;
    let backup = backup_for(&request);
    let done = succeeded(&request);
    let step = event(EventType::BackupRequestSucceeded, &done);

    store.record_backup(&backup, &done, StatusTypeCode::Sent, std::slice::from_ref(&step)).await.unwrap();

    assert_eq!(store.find_by_request(id(&request)).await.unwrap(), Some(backup.clone()));
    assert_eq!(store.find(id(&request)).await.unwrap(), Some(done.clone()));
    let last = store.history(id(&request)).await.unwrap().pop().unwrap();
    assert_eq!((last.status, last.by.as_str(), last.detail.as_deref()), (StatusTypeCode::Succeeded, "receive-status-0", Some("Succeeded")));
    assert_eq!(subject.outbox().await, [step.message_id]);

    // A second Backup for the same request cannot land, whatever status it expects.
    let second = backup_for(&request);
    for expected in [StatusTypeCode::Sent, StatusTypeCode::Succeeded] {
        let late = event(EventType::BackupRequestSucceeded, &done);
        let error = store.record_backup(&second, &done, expected, &[late]).await.unwrap_err();
        assert!(matches!(error, DomainError::Conflict { .. }), "{error:?}");
    }
    assert_eq!(store.find_by_request(id(&request)).await.unwrap(), Some(backup));
    assert_eq!(subject.outbox().await, [step.message_id]);
}

pub async fn a_backup_from_a_stale_status_is_a_conflict_and_stores_nothing(subject: impl Subject<Store: BackupStore>) {
    let store = subject.acting_as("receive-status-0");
    let request = stored_in(&store, StatusTypeCode::Sent).await;
    let done = succeeded(&request);

    let error = store
        .record_backup(&backup_for(&request), &done, StatusTypeCode::Allowed, &[event(EventType::BackupRequestSucceeded, &done)])
        .await
        .unwrap_err();

    assert!(matches!(error, DomainError::Conflict { expected: StatusTypeCode::Allowed, .. }), "{error:?}");
    assert_eq!(store.find_by_request(id(&request)).await.unwrap(), None);
    assert_eq!(store.find(id(&request)).await.unwrap(), Some(request));
    assert!(subject.outbox().await.is_empty());
}

pub async fn a_backup_for_an_unknown_request_is_not_found(subject: impl Subject<Store: BackupStore>) {
    let store = subject.acting_as("receive-status-0");
    let unknown = request_in(StatusTypeCode::Sent);
    let done = succeeded(&unknown);

    let error = store
        .record_backup(&backup_for(&unknown), &done, StatusTypeCode::Sent, &[event(EventType::BackupRequestSucceeded, &done)])
        .await
        .unwrap_err();

    assert!(matches!(error, DomainError::NotFound(_)), "{error:?}");
    assert_eq!(store.find_by_request(id(&unknown)).await.unwrap(), None);
    assert_eq!(store.find_by_request(&BackupRequestId::try_from("not-stored").unwrap()).await.unwrap(), None);
    assert!(subject.outbox().await.is_empty());
}
