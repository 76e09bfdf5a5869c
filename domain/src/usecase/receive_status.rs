//! receive-status: records the interface's reply by the rules of SPEC §5,
//! in this order:
//!
//! 1. A Backup exists: the request becomes `Succeeded` if it is not already;
//!    nothing else changes (a later `Failed` never undoes a backup).
//! 2. No Backup, `Succeeded` reply: the Backup is created and the request
//!    becomes `Succeeded`, in one transaction.
//! 3. No Backup, `Failed` reply: the request becomes `Failed` unless it is.

use std::sync::Arc;

use async_trait::async_trait;
use tracing::instrument;

use super::{Handled, MessageHandler, load, refused};
use crate::error::DomainError;
use crate::event::{DomainEvent, EventPayload, EventType};
use crate::external::{ResultTypeCode, StoreStatus};
use crate::ports::{BackupJobService, BackupRepository, BackupRequestRepository};
use crate::request::{Backup, BackupRequest, Retention, StatusTypeCode, now};

pub struct ReceiveStatus {
    requests: Arc<dyn BackupRequestRepository>,
    backups: Arc<dyn BackupRepository>,
    /// Only asked when a reply arrives before the job's terms were recorded
    /// (the interface answered before `Allowed` was stored).
    jobs: Arc<dyn BackupJobService>,
}

impl ReceiveStatus {
    pub fn new(
        requests: Arc<dyn BackupRequestRepository>,
        backups: Arc<dyn BackupRepository>,
        jobs: Arc<dyn BackupJobService>,
    ) -> Self {
        Self { requests, backups, jobs }
    }

    async fn retention(&self, request: &BackupRequest) -> Result<Retention, DomainError> {
        if let Some(retention) = request.retention() {
            return Ok(retention);
        }
        match self.jobs.find_job(request.backup_job_id()).await? {
            Some(job) => Ok(Retention { days_to_keep: job.days_to_keep, hold_flag: job.hold_flag }),
            None => Err(DomainError::Invalid(format!(
                "a Succeeded reply for job {} that the backup job service does not know",
                request.backup_job_id()
            ))),
        }
    }

    /// Records the reply's result on the request, with its event.
    async fn step(
        &self,
        mut request: BackupRequest,
        result: StatusTypeCode,
        reply: &StoreStatus,
        cause: &DomainEvent,
        backup: Option<&Backup>,
    ) -> Result<Handled, DomainError> {
        let expected = request.status();
        if let Err(stale) = request.record_reply(result, reply.message_text.clone(), now()) {
            return refused(stale);
        }
        let event_type = match result {
            StatusTypeCode::Succeeded => EventType::BackupRequestSucceeded,
            _ => EventType::BackupRequestFailed,
        };
        let next = DomainEvent::about(event_type, &request, cause.traceparent.as_ref());
        match backup {
            Some(backup) => self.backups.record_backup(backup, &request, expected, &[next]).await?,
            None => self.requests.update(&request, expected, &[next]).await?,
        }
        tracing::info!(status = %result, "backup request reply recorded");
        Ok(Handled::Applied(result))
    }
}

#[async_trait]
impl MessageHandler for ReceiveStatus {
    #[instrument(skip_all, fields(backup_request_id = %event.backup_request_id))]
    async fn handle(&self, event: &DomainEvent) -> Result<Handled, DomainError> {
        let EventPayload::Status(reply) = &event.payload else {
            return Err(DomainError::Invalid(format!("a {} event carries no store status", event.event_type)));
        };
        reply.check_values().map_err(|why| DomainError::Invalid(format!("not a valid store status: {why}")))?;
        if reply.backup_request_id != event.backup_request_id {
            return Err(DomainError::Invalid("the status names another request than its envelope".into()));
        }
        let request = load(self.requests.as_ref(), &reply.backup_request_id).await?;
        let existing = self.backups.find_by_request(request.backup_request_id()).await?;

        match (existing, reply.result_type_code) {
            // Rule 1.
            (Some(_), _) if request.status() == StatusTypeCode::Succeeded => {
                Ok(Handled::Skipped("a Backup is already recorded".into()))
            }
            (Some(_), _) => self.step(request, StatusTypeCode::Succeeded, reply, event, None).await,
            // Rule 2.
            (None, ResultTypeCode::Succeeded) => {
                if let Err(refusal) = request.status().check_transition(StatusTypeCode::Succeeded) {
                    return refused(refusal);
                }
                let retention = self.retention(&request).await?;
                let backup = Backup::from_reply(&request, retention, reply).map_err(DomainError::Invalid)?;
                self.step(request, StatusTypeCode::Succeeded, reply, event, Some(&backup)).await
            }
            // Rule 3.
            (None, ResultTypeCode::Failed) => self.step(request, StatusTypeCode::Failed, reply, event, None).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::NaiveDate;

    use super::*;
    use crate::request::now;
    use crate::testing::fixtures::{job, received, reply, status_event};
    use crate::testing::{FakeJobs, InMemoryStore};
    use StatusTypeCode::*;

    /// A request in `status`, reached by legal steps.
    fn request_in(status: StatusTypeCode) -> BackupRequest {
        let mut request = received("job-1");
        let job = job("job-1", true);
        match status {
            Received => {}
            NotAllowed => request.not_allow("backup job not found".into(), now()).unwrap(),
            _ => request.allow(&job, now()).unwrap(),
        }
        match status {
            Sent => request.mark_sent(now()).unwrap(),
            Succeeded | Failed => request.record_reply(status, None, now()).unwrap(),
            // Cancelled after the check: the interface may still have got it.
            Cancelled => request.cancel().unwrap(),
            _ => {}
        }
        assert_eq!(request.status(), status);
        request
    }

    fn setup() -> (Arc<InMemoryStore>, ReceiveStatus) {
        let store = Arc::new(InMemoryStore::default());
        let jobs = Arc::new(FakeJobs::with([job("job-1", true)]));
        (store.clone(), ReceiveStatus::new(store.clone(), store, jobs))
    }

    #[derive(Debug, PartialEq)]
    enum Expect {
        Applied(StatusTypeCode),
        Skipped,
        Invalid,
    }

    /// The rules of SPEC §5 for every (Backup exists?, reply, status).
    fn expected(backup_exists: bool, result: ResultTypeCode, status: StatusTypeCode) -> Expect {
        match (backup_exists, result, status) {
            (_, _, NotAllowed) => Expect::Invalid,
            (true, _, Succeeded) => Expect::Skipped,
            (true, _, _) => Expect::Applied(Succeeded),
            (false, ResultTypeCode::Succeeded, Succeeded) => Expect::Skipped,
            (false, ResultTypeCode::Succeeded, _) => Expect::Applied(Succeeded),
            (false, ResultTypeCode::Failed, Failed | Succeeded) => Expect::Skipped,
            (false, ResultTypeCode::Failed, _) => Expect::Applied(Failed),
        }
    }

    #[tokio::test]
    async fn every_reply_rule_for_every_status() {
        for backup_exists in [false, true] {
            for result in [ResultTypeCode::Succeeded, ResultTypeCode::Failed] {
                for &status in StatusTypeCode::ALL {
                    let case = format!("backup={backup_exists} reply={result} status={status}");
                    let (store, receive) = setup();
                    let request = request_in(status);
                    let earlier = backup_exists.then(|| {
                        let terms = Retention { days_to_keep: 7, hold_flag: true };
                        Backup::from_reply(&request, terms, &reply(&request, ResultTypeCode::Succeeded)).unwrap()
                    });
                    store.put(request.clone(), earlier.clone());
                    let the_reply = reply(&request, result);

                    let outcome = receive.handle(&status_event(&request, &the_reply)).await;
                    let stored = store.request(request.backup_request_id()).unwrap();
                    let backups = store.backups();
                    match expected(backup_exists, result, status) {
                        Expect::Applied(next) => {
                            assert_eq!(outcome.unwrap(), Handled::Applied(next), "{case}");
                            assert_eq!(stored.status(), next, "{case}");
                            assert!(stored.reply_timestamp().is_some(), "{case}");
                            assert_eq!(stored.reply_message_text(), the_reply.message_text.as_deref(), "{case}");
                            assert_eq!(store.outbox().len(), 1, "{case}");
                        }
                        Expect::Skipped => {
                            assert!(matches!(outcome, Ok(Handled::Skipped(_))), "{case}: {outcome:?}");
                            assert_eq!(stored, request, "{case}");
                            assert!(store.outbox().is_empty(), "{case}");
                        }
                        Expect::Invalid => {
                            assert!(matches!(outcome, Err(DomainError::Invalid(_))), "{case}: {outcome:?}");
                            assert_eq!(stored, request, "{case}");
                        }
                    }
                    // A Backup is made once, and only by a successful reply.
                    match (&earlier, result, stored.status()) {
                        (Some(backup), _, _) => assert_eq!(backups, vec![backup.clone()], "{case}"),
                        (None, ResultTypeCode::Succeeded, Succeeded) if status != Succeeded => {
                            assert_eq!(backups.len(), 1, "{case}")
                        }
                        _ => assert!(backups.is_empty(), "{case}"),
                    }
                }
            }
        }
    }

    #[tokio::test]
    async fn the_backup_takes_the_replys_fields_and_the_jobs_retention() {
        let (store, receive) = setup();
        let request = request_in(Sent);
        store.put(request.clone(), None);
        let the_reply = reply(&request, ResultTypeCode::Succeeded);
        receive.handle(&status_event(&request, &the_reply)).await.unwrap();

        let backup = store.backups().pop().unwrap();
        assert_eq!(backup.backup_request_id, request.backup_request_id().clone());
        assert_eq!(backup.backup_job_id, request.backup_job_id().clone());
        assert_eq!(backup.storage_path_name, "/store/copied");
        assert_eq!(backup.backup_byte_count, 4096);
        assert_eq!(Some(backup.copy_start_timestamp), the_reply.copy_start_timestamp);
        assert_eq!(Some(backup.copy_end_timestamp), the_reply.copy_end_timestamp);
        assert_eq!(backup.verify_start_timestamp, the_reply.verify_start_timestamp);
        assert_eq!(backup.verify_end_timestamp, the_reply.verify_end_timestamp);
        assert_eq!(backup.verify_hash_text.as_deref(), Some("sha256:abc"));
        assert_eq!(backup.days_to_keep_count, 30);
        assert!(!backup.hold_flag);
        assert_eq!(backup.due_to_delete_date, NaiveDate::from_ymd_opt(2022, 6, 29).unwrap());
    }

    #[tokio::test]
    async fn a_succeeded_reply_without_its_required_fields_is_a_contract_violation() {
        for strip in ["storagePathName", "backupByteCount", "copyStartTimestamp", "copyEndTimestamp"] {
            let (store, receive) = setup();
            let request = request_in(Sent);
            store.put(request.clone(), None);
            let mut the_reply = reply(&request, ResultTypeCode::Succeeded);
            match strip {
                "storagePathName" => the_reply.storage_path_name = None,
                "backupByteCount" => the_reply.backup_byte_count = None,
                "copyStartTimestamp" => the_reply.copy_start_timestamp = None,
                _ => the_reply.copy_end_timestamp = None,
            }
            let error = receive.handle(&status_event(&request, &the_reply)).await.unwrap_err();
            assert!(matches!(&error, DomainError::Invalid(reason) if reason.contains(strip)), "{strip}: {error:?}");
            assert!(store.backups().is_empty());
            assert_eq!(store.request(request.backup_request_id()).unwrap().status(), Sent);
        }
    }

    #[tokio::test]
    async fn a_reply_with_a_negative_byte_count_is_a_contract_violation_before_anything_is_stored() {
        for result in [ResultTypeCode::Succeeded, ResultTypeCode::Failed] {
            let (store, receive) = setup();
            let request = request_in(Sent);
            store.put(request.clone(), None);
            let mut the_reply = reply(&request, result);
            the_reply.backup_byte_count = Some(-1);
            let error = receive.handle(&status_event(&request, &the_reply)).await.unwrap_err();
            // Invalid is dead-lettered at once by the consumer edge, not retried.
            assert!(matches!(&error, DomainError::Invalid(reason) if reason.contains("backupByteCount")), "{error:?}");
            assert!(store.backups().is_empty());
            assert_eq!(store.request(request.backup_request_id()).unwrap().status(), Sent);
        }
    }

    #[tokio::test]
    async fn a_reply_for_an_unknown_request_is_not_found() {
        let (_, receive) = setup();
        let request = request_in(Sent);
        let error = receive.handle(&status_event(&request, &reply(&request, ResultTypeCode::Failed))).await.unwrap_err();
        assert!(matches!(error, DomainError::NotFound(_)), "{error:?}");
    }
}
