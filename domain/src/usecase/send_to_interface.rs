//! send-to-interface: puts an allowed request on the backup zone interface's
//! queue, then records `Sent` with its event.
//!
//! The send happens before the commit, so a crash between the two sends the
//! request again on redelivery: the interface sees a request at least once,
//! and identifies it by its `backupRequestId`.
//!
//! The request is held (`BackupRequestRepository::hold`) from the status
//! check through the send until `Sent` is saved, so a cancel either lands
//! before the check (and nothing is sent) or waits and finds it `Sent`; see
//! `cancel_request` for why this and not an optimistic check.

use std::sync::Arc;

use async_trait::async_trait;
use tracing::instrument;

use super::{Handled, MessageHandler, refused};
use crate::error::DomainError;
use crate::event::{DomainEvent, EventType};
use crate::external::InterfaceRequest;
use crate::ports::{BackupInterface, BackupRequestRepository};
use crate::request::{StatusTypeCode, now};

pub struct SendToInterface {
    requests: Arc<dyn BackupRequestRepository>,
    interface: Arc<dyn BackupInterface>,
    /// A `Sent` request whose reply has not come for this long is sent again
    /// when its `BackupRequestAllowed` comes back (recovery re-emits it).
    resend_after: Option<std::time::Duration>,
    /// A `Sent` request sent before this moment is sent again too: the
    /// interface it went to did not outlive it (dev mode's in-process BZI
    /// starts empty with the process).
    resend_sent_before: Option<chrono::DateTime<chrono::Utc>>,
}

impl SendToInterface {
    pub fn new(requests: Arc<dyn BackupRequestRepository>, interface: Arc<dyn BackupInterface>) -> Self {
        Self { requests, interface, resend_after: None, resend_sent_before: None }
    }

    pub fn resending_after(mut self, after: std::time::Duration) -> Self {
        self.resend_after = Some(after);
        self
    }

    pub fn resending_sent_before(mut self, cutoff: chrono::DateTime<chrono::Utc>) -> Self {
        self.resend_sent_before = Some(cutoff);
        self
    }

    fn overdue(&self, request: &crate::request::BackupRequest) -> bool {
        let after = self.resend_after.and_then(|after| chrono::Duration::from_std(after).ok());
        let overdue_by_age = after.is_some_and(|after| request.reply_overdue(now() - after));
        overdue_by_age || self.resend_sent_before.is_some_and(|cutoff| request.reply_overdue(cutoff))
    }
}

#[async_trait]
impl MessageHandler for SendToInterface {
    #[instrument(skip_all, fields(backup_request_id = %event.backup_request_id))]
    async fn handle(&self, event: &DomainEvent) -> Result<Handled, DomainError> {
        let id = &event.backup_request_id;
        let held = self.requests.hold(id).await?.ok_or_else(|| DomainError::NotFound(id.to_string()))?;
        let mut request = held.request().clone();
        let resend = self.overdue(&request);
        if !resend && let Err(stale) = request.status().check_transition(StatusTypeCode::Sent) {
            return refused(stale);
        }
        self.interface.send(&InterfaceRequest::for_request(&request)).await?;
        let marked = if resend { request.mark_resent(now()) } else { request.mark_sent(now()) };
        if let Err(stale) = marked {
            return refused(stale);
        }
        let next = DomainEvent::about(EventType::BackupRequestSent, &request, event.traceparent.as_ref());
        held.save(&request, &[next]).await?;
        tracing::info!(resend, "backup request sent to the interface");
        Ok(Handled::Applied(StatusTypeCode::Sent))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::request::now;
    use crate::testing::fixtures::{event, job, received};
    use crate::testing::{FakeInterface, InMemoryStore};

    fn allowed() -> crate::request::BackupRequest {
        let mut request = received("active");
        request.allow(&job("active", true), now()).unwrap();
        request
    }

    fn setup() -> (Arc<InMemoryStore>, Arc<FakeInterface>, SendToInterface) {
        let store = Arc::new(InMemoryStore::default());
        let interface = Arc::new(FakeInterface::default());
        (store.clone(), interface.clone(), SendToInterface::new(store, interface))
    }

    #[tokio::test]
    async fn an_allowed_request_is_sent_once_and_marked_sent() {
        let (store, interface, send) = setup();
        let request = allowed();
        store.put(request.clone(), None);
        let message = event(EventType::BackupRequestAllowed, &request);
        assert_eq!(send.handle(&message).await.unwrap(), Handled::Applied(StatusTypeCode::Sent));
        assert!(matches!(send.handle(&message).await.unwrap(), Handled::Skipped(_)));

        let sent = interface.sent.lock().unwrap().clone();
        assert_eq!(sent, vec![InterfaceRequest::for_request(&request)]);
        assert_eq!(sent[0].storage_path_name, "/store/active");
        let stored = store.request(request.backup_request_id()).unwrap();
        assert_eq!(stored.status(), StatusTypeCode::Sent);
        assert!(stored.sent_to_interface_timestamp().is_some());
        assert_eq!(store.outbox().iter().map(|e| e.event_type).collect::<Vec<_>>(), [EventType::BackupRequestSent]);
    }

    #[tokio::test]
    async fn an_interface_outage_is_transient_and_records_nothing() {
        let (store, interface, send) = setup();
        interface.down.store(true, Ordering::SeqCst);
        let request = allowed();
        store.put(request.clone(), None);
        let error = send.handle(&event(EventType::BackupRequestAllowed, &request)).await.unwrap_err();
        assert!(error.is_transient());
        assert_eq!(store.request(request.backup_request_id()).unwrap().status(), StatusTypeCode::Allowed);
    }

    #[tokio::test]
    async fn a_cancelled_request_is_acknowledged_and_never_sent() {
        let (store, interface, send) = setup();
        let mut request = allowed();
        request.cancel().unwrap();
        store.put(request.clone(), None);
        let outcome = send.handle(&event(EventType::BackupRequestAllowed, &request)).await.unwrap();
        assert!(matches!(outcome, Handled::Skipped(_)), "{outcome:?}");
        assert!(interface.sent.lock().unwrap().is_empty());
        assert_eq!(store.request(request.backup_request_id()).unwrap().status(), StatusTypeCode::Cancelled);
    }

    #[tokio::test]
    async fn a_request_that_was_never_allowed_is_a_contract_violation_and_is_not_sent() {
        let (store, interface, send) = setup();
        let mut request = received("x");
        request.not_allow("backup job not found".into(), now()).unwrap();
        store.put(request.clone(), None);
        let error = send.handle(&event(EventType::BackupRequestAllowed, &request)).await.unwrap_err();
        assert!(matches!(error, DomainError::Invalid(_)), "{error:?}");
        assert!(interface.sent.lock().unwrap().is_empty());
    }
}

#[cfg(test)]
mod resend_tests {
    use std::sync::Arc;
    use std::time::Duration;

    use chrono::TimeDelta;

    use super::*;
    use crate::request::{BackupRequest, now};
    use crate::testing::fixtures::{event, job, received};
    use crate::testing::{FakeInterface, InMemoryStore};

    fn sent_at(at: chrono::DateTime<chrono::Utc>) -> BackupRequest {
        let mut request = received("active");
        request.allow(&job("active", true), now()).unwrap();
        request.mark_sent(at).unwrap();
        request
    }

    fn setup(request: &BackupRequest) -> (Arc<InMemoryStore>, Arc<FakeInterface>, SendToInterface) {
        let store = Arc::new(InMemoryStore::default());
        store.put(request.clone(), None);
        let interface = Arc::new(FakeInterface::default());
        let send = SendToInterface::new(store.clone(), interface.clone()).resending_after(Duration::from_secs(3600));
        (store, interface, send)
    }

    #[tokio::test]
    async fn a_sent_request_whose_reply_is_overdue_is_sent_again_and_stays_sent() {
        let request = sent_at(now() - TimeDelta::hours(2));
        let (store, interface, send) = setup(&request);
        let message = event(EventType::BackupRequestAllowed, &request);

        assert_eq!(send.handle(&message).await.unwrap(), Handled::Applied(StatusTypeCode::Sent));
        let stored = store.request(request.backup_request_id()).unwrap();
        assert_eq!(stored.status(), StatusTypeCode::Sent);
        assert!(stored.sent_to_interface_timestamp() > request.sent_to_interface_timestamp());
        // Just sent again: no longer overdue, so a duplicate is skipped.
        assert!(matches!(send.handle(&message).await.unwrap(), Handled::Skipped(_)));
        assert_eq!(interface.sent.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_sent_request_is_not_sent_again_while_its_reply_may_still_come_or_once_replied() {
        let recent = sent_at(now() - TimeDelta::minutes(5));
        let (_, interface, send) = setup(&recent);
        assert!(matches!(send.handle(&event(EventType::BackupRequestAllowed, &recent)).await.unwrap(), Handled::Skipped(_)));

        let mut replied = sent_at(now() - TimeDelta::hours(2));
        replied.record_reply(StatusTypeCode::Failed, None, now()).unwrap();
        let (_, replied_interface, send_replied) = setup(&replied);
        let outcome = send_replied.handle(&event(EventType::BackupRequestAllowed, &replied)).await.unwrap();
        assert!(matches!(outcome, Handled::Skipped(_)), "{outcome:?}");
        assert!(interface.sent.lock().unwrap().is_empty());
        assert!(replied_interface.sent.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_request_sent_before_the_interface_started_is_sent_again_once_only() {
        let started = now() - TimeDelta::seconds(1);
        let before = sent_at(started - TimeDelta::seconds(1));
        let (_, interface, send) = setup(&before);
        let send = send.resending_sent_before(started);
        let message = event(EventType::BackupRequestAllowed, &before);
        assert_eq!(send.handle(&message).await.unwrap(), Handled::Applied(StatusTypeCode::Sent));
        // Sent again after the start: a duplicate is skipped.
        assert!(matches!(send.handle(&message).await.unwrap(), Handled::Skipped(_)));
        assert_eq!(interface.sent.lock().unwrap().len(), 1);
    }
}
