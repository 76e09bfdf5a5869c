//! Cancelling a request before it goes to the backup zone interface (SPEC §2).
//!
//! The race that matters is cancel against send-to-interface: a request whose
//! cancel answered 200 must never be sent afterwards. Three ways were weighed:
//!
//! - an optimistic check alone (send, then `update` expecting `Allowed`):
//!   a cancel landing between the send and the update wins, so a request
//!   the caller was told is cancelled has already reached the interface;
//! - a `Sending` status claimed before the send: no lock is held during
//!   the send, but it adds a status SPEC §2 does not have, and a worker that
//!   dies after claiming leaves it for recovery to guess about;
//! - the row held (`BackupRequestRepository::hold`, `SELECT ... FOR UPDATE`)
//!   from checking `Allowed` through the send until `Sent` commits, with
//!   cancel a conditional write on the cancellable statuses that therefore
//!   waits for the send and then sees `Sent`.
//!
//! The third is used: it needs no new status, and the price (one database
//! connection and one row lock per send in flight, for at most the
//! interface's timeout) is bounded by the worker's prefetch. A cancel either
//! commits first, and the sender then sees `Cancelled` and skips, or waits
//! and answers 409 `NotCancellable`.

use std::sync::Arc;

use tracing::instrument;

use crate::error::DomainError;
use crate::listing::Visibility;
use crate::ports::BackupRequestRepository;
use crate::request::{BackupRequest, BackupRequestId, StatusTypeCode};

pub struct CancelBackupRequest {
    requests: Arc<dyn BackupRequestRepository>,
}

impl CancelBackupRequest {
    pub fn new(requests: Arc<dyn BackupRequestRepository>) -> Self {
        Self { requests }
    }

    /// Cancels the request on behalf of a caller who may act on the
    /// requests of `visibility`; `caller` names that caller in the history.
    /// A request the caller may not see is `NotFound`; one already
    /// `Cancelled` is returned unchanged; one past `Allowed` is
    /// `NotCancellable`.
    #[instrument(skip_all, fields(backup_request_id = %id))]
    pub async fn execute(
        &self,
        id: &BackupRequestId,
        visibility: &Visibility,
        caller: &str,
    ) -> Result<BackupRequest, DomainError> {
        let request = self.visible(id, visibility).await?;
        if !StatusTypeCode::CANCELLABLE.contains(&request.status()) {
            return settled(request);
        }
        let detail = if caller.is_empty() { "cancelled on request".to_owned() } else { format!("cancelled by {caller}") };
        if let Some(cancelled) = self.requests.cancel(id, &detail).await? {
            tracing::info!("backup request cancelled");
            return Ok(cancelled);
        }
        // It moved on (or another cancel won) while the write waited.
        settled(self.visible(id, visibility).await?)
    }

    async fn visible(&self, id: &BackupRequestId, visibility: &Visibility) -> Result<BackupRequest, DomainError> {
        match self.requests.find(id).await? {
            Some(request) if visibility.sees(&request) => Ok(request),
            _ => Err(DomainError::NotFound(id.to_string())),
        }
    }
}

/// The answer for a request that is not (or no longer) cancellable.
fn settled(request: BackupRequest) -> Result<BackupRequest, DomainError> {
    match request.status() {
        StatusTypeCode::Cancelled => Ok(request),
        status => Err(DomainError::NotCancellable { id: request.backup_request_id().to_string(), status }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use super::*;
    use crate::ports::BackupRequestQueries;
    use crate::request::{RequesterId, now};
    use crate::testing::InMemoryStore;
    use crate::testing::fixtures::{job, received};

    fn setup(request: &BackupRequest) -> (Arc<InMemoryStore>, CancelBackupRequest) {
        let store = Arc::new(InMemoryStore::default());
        store.put(request.clone(), None);
        (store.clone(), CancelBackupRequest::new(store))
    }

    #[tokio::test]
    async fn a_received_or_allowed_request_becomes_cancelled_with_the_caller_in_its_history() {
        let mut allowed = received("job-1");
        allowed.allow(&job("job-1", true), now()).unwrap();
        for request in [received("job-1"), allowed] {
            let (store, cancel) = setup(&request);
            let id = request.backup_request_id();
            let cancelled = cancel.execute(id, &Visibility::All, "ops").await.unwrap();
            assert_eq!(cancelled.status(), StatusTypeCode::Cancelled);
            assert_eq!(store.request(id).unwrap().status(), StatusTypeCode::Cancelled);
            let history = store.history(id).await.unwrap();
            let last = history.last().unwrap();
            assert_eq!((last.status, last.detail.as_deref()), (StatusTypeCode::Cancelled, Some("cancelled by ops")));
        }
    }

    #[tokio::test]
    async fn cancelling_twice_answers_the_cancelled_request_unchanged() {
        let request = received("job-1");
        let (store, cancel) = setup(&request);
        let first = cancel.execute(request.backup_request_id(), &Visibility::All, "ops").await.unwrap();
        let second = cancel.execute(request.backup_request_id(), &Visibility::All, "ops").await.unwrap();
        assert_eq!(first, second);
        let history = store.history(request.backup_request_id()).await.unwrap();
        assert_eq!(history.iter().filter(|change| change.status == StatusTypeCode::Cancelled).count(), 1);
    }

    #[tokio::test]
    async fn a_sent_or_ended_request_is_not_cancellable_and_stays_as_it_was() {
        let mut sent = received("job-1");
        sent.allow(&job("job-1", true), now()).unwrap();
        sent.mark_sent(now()).unwrap();
        let mut not_allowed = received("job-1");
        not_allowed.not_allow("backup job not found".into(), now()).unwrap();
        for request in [sent, not_allowed] {
            let (store, cancel) = setup(&request);
            let error = cancel.execute(request.backup_request_id(), &Visibility::All, "ops").await.unwrap_err();
            assert!(matches!(error, DomainError::NotCancellable { status, .. } if status == request.status()), "{error:?}");
            assert_eq!(store.request(request.backup_request_id()).unwrap(), request);
        }
    }

    #[tokio::test]
    async fn a_stranger_cannot_see_nor_cancel_another_requesters_request() {
        let request = received("job-1");
        let (store, cancel) = setup(&request);
        let stranger = Visibility::Own(RequesterId::try_from("someone-else".to_owned()).unwrap());
        let error = cancel.execute(request.backup_request_id(), &stranger, "someone-else").await.unwrap_err();
        assert!(matches!(error, DomainError::NotFound(_)), "{error:?}");
        assert_eq!(store.request(request.backup_request_id()).unwrap().status(), StatusTypeCode::Received);
    }
}
