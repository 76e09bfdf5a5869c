//! Receiving a backup request: store it as `Received` together with its
//! `BackupRequestReceived` event, or find the original of a repeated request.

use std::sync::Arc;

use tracing::instrument;

use crate::error::DomainError;
use crate::event::{DomainEvent, EventType};
use crate::ports::{BackupRequestRepository, Stored};
use crate::request::{BackupRequest, IdempotencyKey, NewBackupRequest, now};
use crate::trace::TraceParent;

/// What the create use case did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// A new request was stored.
    New(BackupRequest),
    /// The idempotency key named an earlier, identical request: this one.
    Replayed(BackupRequest),
}

pub struct CreateBackupRequest {
    requests: Arc<dyn BackupRequestRepository>,
}

impl CreateBackupRequest {
    pub fn new(requests: Arc<dyn BackupRequestRepository>) -> Self {
        Self { requests }
    }

    /// Stores the request and its event in one transaction; only then has
    /// the request been accepted. A repeat under the same idempotency key
    /// returns the original, unless it asked for something else.
    #[instrument(skip_all, fields(backup_job_id = %new.backup_job_id))]
    pub async fn execute(
        &self,
        new: NewBackupRequest,
        idempotency_key: Option<IdempotencyKey>,
        trace: Option<TraceParent>,
    ) -> Result<Created, DomainError> {
        let request = BackupRequest::receive(new.clone(), now());
        let trace = trace.unwrap_or_else(TraceParent::new_root);
        let event = DomainEvent::about(EventType::BackupRequestReceived, &request, Some(&trace));

        match self
            .requests
            .create(&request, idempotency_key.as_ref(), std::slice::from_ref(&event))
            .await?
        {
            Stored::Created => {
                tracing::info!(backup_request_id = %request.backup_request_id(), "backup request received");
                Ok(Created::New(request))
            }
            Stored::Existing(original) if original.as_new() == new => {
                Ok(Created::Replayed(original))
            }
            Stored::Existing(_) => Err(DomainError::IdempotencyConflict),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::event::EventPayload;
    use crate::request::StatusTypeCode;
    use crate::testing::InMemoryStore;
    use crate::testing::fixtures::new_request;

    fn setup() -> (Arc<InMemoryStore>, CreateBackupRequest) {
        let store = Arc::new(InMemoryStore::default());
        (store.clone(), CreateBackupRequest::new(store))
    }

    fn key(k: &str) -> Option<IdempotencyKey> {
        Some(IdempotencyKey::try_from(k).unwrap())
    }

    #[tokio::test]
    async fn a_new_request_is_stored_received_with_one_received_event() {
        let (store, create) = setup();
        let Created::New(request) = create.execute(new_request("job-1"), None, None).await.unwrap() else {
            panic!("expected a new request");
        };
        assert_eq!(request.status(), StatusTypeCode::Received);
        let outbox = store.outbox();
        assert_eq!(outbox.len(), 1);
        assert_eq!(outbox[0].event_type, EventType::BackupRequestReceived);
        assert_eq!(outbox[0].backup_request_id, request.backup_request_id().clone());
        assert!(
            matches!(&outbox[0].payload, EventPayload::Request(data) if data.backup_job_id.as_str() == "job-1"),
            "{:?}",
            outbox[0].payload
        );
        assert!(outbox[0].traceparent.is_some());
    }

    #[tokio::test]
    async fn the_event_continues_the_callers_trace() {
        let (store, create) = setup();
        let trace = TraceParent::new_root();
        create.execute(new_request("job-1"), None, Some(trace.clone())).await.unwrap();
        let event_trace = store.outbox()[0].traceparent.clone().unwrap();
        assert_eq!(event_trace.trace_id(), trace.trace_id());
    }

    #[tokio::test]
    async fn a_repeat_with_the_same_key_and_body_returns_the_original() {
        let (store, create) = setup();
        let Created::New(first) = create.execute(new_request("job-1"), key("k1"), None).await.unwrap() else {
            panic!("expected a new request");
        };
        let again = create.execute(new_request("job-1"), key("k1"), None).await.unwrap();
        assert_eq!(again, Created::Replayed(first));
        assert_eq!(store.request_count(), 1);
        assert_eq!(store.outbox().len(), 1);
    }

    #[tokio::test]
    async fn the_same_key_with_another_body_is_a_conflict_and_stores_nothing() {
        let (store, create) = setup();
        create.execute(new_request("job-1"), key("k1"), None).await.unwrap();
        let error = create.execute(new_request("job-2"), key("k1"), None).await.unwrap_err();
        assert!(matches!(error, DomainError::IdempotencyConflict), "{error:?}");
        assert_eq!(store.request_count(), 1);
        assert_eq!(store.outbox().len(), 1);
    }

    #[tokio::test]
    async fn different_keys_make_different_requests() {
        let (store, create) = setup();
        create.execute(new_request("job-1"), key("k1"), None).await.unwrap();
        create.execute(new_request("job-1"), key("k2"), None).await.unwrap();
        assert_eq!(store.request_count(), 2);
    }

    #[tokio::test]
    async fn a_database_outage_is_reported_as_unavailable() {
        let (store, create) = setup();
        store.down.store(true, Ordering::SeqCst);
        let error = create.execute(new_request("job-1"), None, None).await.unwrap_err();
        assert!(matches!(error, DomainError::Unavailable(_)), "{error:?}");
        assert!(error.is_transient());
    }
}
