//! check-allowed: asks the backup job service whether the request's job
//! allows it, and records `Allowed` or `NotAllowed` with its event.

use std::sync::Arc;

use async_trait::async_trait;
use tracing::instrument;

use super::{Handled, MessageHandler, load, refused};
use crate::error::DomainError;
use crate::event::{DomainEvent, EventType};
use crate::ports::{BackupJobService, BackupRequestRepository};
use crate::request::{StatusTypeCode, now};

pub const JOB_NOT_FOUND: &str = "backup job not found";
pub const JOB_NOT_ACTIVE: &str = "backup job is not active";

pub struct CheckAllowed {
    requests: Arc<dyn BackupRequestRepository>,
    jobs: Arc<dyn BackupJobService>,
}

impl CheckAllowed {
    pub fn new(requests: Arc<dyn BackupRequestRepository>, jobs: Arc<dyn BackupJobService>) -> Self {
        Self { requests, jobs }
    }
}

#[async_trait]
impl MessageHandler for CheckAllowed {
    #[instrument(skip_all, fields(backup_request_id = %event.backup_request_id))]
    async fn handle(&self, event: &DomainEvent) -> Result<Handled, DomainError> {
        let mut request = load(self.requests.as_ref(), &event.backup_request_id).await?;
        if let Err(stale) = request.status().check_transition(StatusTypeCode::Allowed) {
            return refused(stale);
        }
        let outcome = match self.jobs.find_job(request.backup_job_id()).await? {
            Some(job) if job.is_active => request.allow(&job, now()).map(|()| EventType::BackupRequestAllowed),
            Some(_) => request.not_allow(JOB_NOT_ACTIVE.into(), now()).map(|()| EventType::BackupRequestNotAllowed),
            None => request.not_allow(JOB_NOT_FOUND.into(), now()).map(|()| EventType::BackupRequestNotAllowed),
        };
        let event_type = match outcome {
            Ok(event_type) => event_type,
            Err(stale) => return refused(stale),
        };
        let next = DomainEvent::about(event_type, &request, event.traceparent.as_ref());
        self.requests.update(&request, StatusTypeCode::Received, &[next]).await?;
        tracing::info!(status = %request.status(), "backup request checked");
        Ok(Handled::Applied(request.status()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::request::BackupProviderCode;
    use crate::testing::fixtures::{event, job, received};
    use crate::testing::{FakeJobs, InMemoryStore};

    fn setup() -> (Arc<InMemoryStore>, Arc<FakeJobs>, CheckAllowed) {
        let store = Arc::new(InMemoryStore::default());
        let jobs = Arc::new(FakeJobs::with([job("active", true), job("inactive", false)]));
        (store.clone(), jobs.clone(), CheckAllowed::new(store, jobs))
    }

    async fn check(job_id: &str) -> (Arc<InMemoryStore>, crate::request::BackupRequest, Result<Handled, DomainError>) {
        let (store, _, check) = setup();
        let request = received(job_id);
        store.put(request.clone(), None);
        let outcome = check.handle(&event(EventType::BackupRequestReceived, &request)).await;
        let stored = store.request(request.backup_request_id()).unwrap();
        (store, stored, outcome)
    }

    #[tokio::test]
    async fn an_active_job_allows_the_request_and_lends_it_its_settings() {
        let (store, request, outcome) = check("active").await;
        assert_eq!(outcome.unwrap(), Handled::Applied(StatusTypeCode::Allowed));
        assert_eq!(request.status(), StatusTypeCode::Allowed);
        assert_eq!(request.backup_provider_code(), BackupProviderCode::CloudA);
        assert_eq!(request.storage_path_name(), Some("/store/active"));
        assert!(request.checked_timestamp().is_some());
        let outbox = store.outbox();
        assert_eq!(outbox.len(), 1);
        assert_eq!(outbox[0].event_type, EventType::BackupRequestAllowed);
    }

    #[tokio::test]
    async fn an_inactive_job_does_not_allow_the_request() {
        let (store, request, outcome) = check("inactive").await;
        assert_eq!(outcome.unwrap(), Handled::Applied(StatusTypeCode::NotAllowed));
        assert_eq!(request.not_allowed_reason(), Some(JOB_NOT_ACTIVE));
        assert_eq!(store.outbox()[0].event_type, EventType::BackupRequestNotAllowed);
    }

    #[tokio::test]
    async fn an_unknown_job_is_not_allowed_with_the_spec_reason() {
        let (_, request, outcome) = check("unknown").await;
        assert_eq!(outcome.unwrap(), Handled::Applied(StatusTypeCode::NotAllowed));
        assert_eq!(request.not_allowed_reason(), Some("backup job not found"));
    }

    #[tokio::test]
    async fn a_job_service_outage_is_transient_and_changes_nothing() {
        let (store, jobs, check) = setup();
        jobs.down.store(true, Ordering::SeqCst);
        let request = received("active");
        store.put(request.clone(), None);
        let error = check.handle(&event(EventType::BackupRequestReceived, &request)).await.unwrap_err();
        assert!(error.is_transient(), "{error:?}");
        assert_eq!(store.request(request.backup_request_id()).unwrap().status(), StatusTypeCode::Received);
        assert!(store.outbox().is_empty());
    }

    #[tokio::test]
    async fn a_duplicate_message_is_skipped_without_asking_the_job_service() {
        let (store, jobs, check) = setup();
        let request = received("active");
        store.put(request.clone(), None);
        let message = event(EventType::BackupRequestReceived, &request);
        check.handle(&message).await.unwrap();
        let again = check.handle(&message).await.unwrap();
        assert!(matches!(again, Handled::Skipped(_)), "{again:?}");
        assert_eq!(jobs.calls.load(Ordering::SeqCst), 1);
        assert_eq!(store.outbox().len(), 1);
    }

    #[tokio::test]
    async fn an_unknown_request_is_not_found() {
        let (_, _, check) = setup();
        let error = check.handle(&event(EventType::BackupRequestReceived, &received("active"))).await.unwrap_err();
        assert!(matches!(error, DomainError::NotFound(_)), "{error:?}");
    }
}
