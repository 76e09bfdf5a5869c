//! Ports wrapped in a circuit breaker: every call is passed on unchanged and
//! its outcome recorded, so the breaker sees whether the dependency answers.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use linebacker_domain::external::{BackupJob, InterfaceRequest};
use linebacker_domain::ports::{
    BackupInterface, BackupJobService, BackupRepository, BackupRequestRepository, HeldRequest, InboxMessage,
    StatusInbox, Stored,
};
use linebacker_domain::request::{Backup, IdempotencyKey};
use linebacker_domain::{
    BackupJobId, BackupRequest, BackupRequestId, DomainError, DomainEvent, StatusTypeCode,
};

use linebacker_runtime::metrics::metrics;

use crate::breaker::Breaker;

pub struct Guarded<T> {
    inner: T,
    breaker: Arc<Breaker>,
}

impl<T> Guarded<T> {
    pub fn new(inner: T, breaker: Arc<Breaker>) -> Self {
        Self { inner, breaker }
    }

    fn seen<R>(&self, outcome: Result<R, DomainError>) -> Result<R, DomainError> {
        self.breaker.record(&outcome);
        outcome
    }
}

/// Counts a committed status change for `GET /metrics`. The repository
/// ports are where every change is committed, so counting here misses none.
fn count_transition<R>(outcome: &Result<R, DomainError>, from: StatusTypeCode, request: &BackupRequest) {
    if outcome.is_ok() && request.status() != from {
        metrics().count_transition(from.as_str(), request.status().as_str());
    }
}

#[async_trait]
impl<T: BackupRequestRepository> BackupRequestRepository for Guarded<T> {
    async fn create(
        &self,
        request: &BackupRequest,
        key: Option<&IdempotencyKey>,
        events: &[DomainEvent],
    ) -> Result<Stored, DomainError> {
        self.seen(self.inner.create(request, key, events).await)
    }

    async fn find(&self, id: &BackupRequestId) -> Result<Option<BackupRequest>, DomainError> {
        self.seen(self.inner.find(id).await)
    }

    async fn update(&self, request: &BackupRequest, expected: StatusTypeCode, events: &[DomainEvent]) -> Result<(), DomainError> {
        let outcome = self.seen(self.inner.update(request, expected, events).await);
        count_transition(&outcome, expected, request);
        outcome
    }

    async fn hold(&self, id: &BackupRequestId) -> Result<Option<Box<dyn HeldRequest>>, DomainError> {
        let held = self.seen(self.inner.hold(id).await)?;
        Ok(held.map(|inner| Box::new(GuardedHold { inner, breaker: self.breaker.clone() }) as Box<dyn HeldRequest>))
    }

    async fn cancel(&self, id: &BackupRequestId, detail: &str) -> Result<Option<BackupRequest>, DomainError> {
        self.seen(self.inner.cancel(id, detail).await)
    }
}

/// A held request whose save the breaker sees and the metrics count.
struct GuardedHold {
    inner: Box<dyn HeldRequest>,
    breaker: Arc<Breaker>,
}

#[async_trait]
impl HeldRequest for GuardedHold {
    fn request(&self) -> &BackupRequest {
        self.inner.request()
    }

    async fn save(self: Box<Self>, request: &BackupRequest, events: &[DomainEvent]) -> Result<(), DomainError> {
        let from = self.inner.request().status();
        let outcome = self.inner.save(request, events).await;
        self.breaker.record(&outcome);
        count_transition(&outcome, from, request);
        outcome
    }
}

#[async_trait]
impl<T: BackupRepository> BackupRepository for Guarded<T> {
    async fn find_by_request(&self, id: &BackupRequestId) -> Result<Option<Backup>, DomainError> {
        self.seen(self.inner.find_by_request(id).await)
    }

    async fn record_backup(
        &self,
        backup: &Backup,
        request: &BackupRequest,
        expected: StatusTypeCode,
        events: &[DomainEvent],
    ) -> Result<(), DomainError> {
        let outcome = self.seen(self.inner.record_backup(backup, request, expected, events).await);
        count_transition(&outcome, expected, request);
        outcome
    }
}

#[async_trait]
impl<T: BackupJobService + ?Sized> BackupJobService for Guarded<Arc<T>> {
    async fn find_job(&self, id: &BackupJobId) -> Result<Option<BackupJob>, DomainError> {
        self.seen(self.inner.find_job(id).await)
    }
}

#[async_trait]
impl<T: BackupInterface + ?Sized> BackupInterface for Guarded<Arc<T>> {
    async fn send(&self, request: &InterfaceRequest) -> Result<(), DomainError> {
        self.seen(self.inner.send(request).await)
    }
}

#[async_trait]
impl<T: StatusInbox + ?Sized> StatusInbox for Guarded<Arc<T>> {
    async fn receive(&self, max: u32, visibility_timeout: Duration) -> Result<Vec<InboxMessage>, DomainError> {
        self.seen(self.inner.receive(max, visibility_timeout).await)
    }

    async fn delete(&self, message: &InboxMessage) -> Result<(), DomainError> {
        self.seen(self.inner.delete(message).await)
    }

    async fn park(&self, message: &InboxMessage, reason: &str) -> Result<(), DomainError> {
        self.seen(self.inner.park(message, reason).await)
    }
}
