//! The backup request (SPEC §2): its validated fields, its status and the
//! steps that change it. The only way to change a request's status is through
//! the methods here, which refuse illegal steps.

mod backup;
pub(crate) mod fields;
mod status;

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use crate::external::{API_VERSION, BackupJob, InterfaceRequest};

pub use backup::Backup;
pub use fields::{
    BackupJobId, BackupProviderCode, BackupRequestId, DataDate, IdempotencyKey,
    PreparedDataPathName, RequesterId, TransportTypeCode,
};
pub use status::{StatusTypeCode, TransitionError};

/// The current time at the precision the database keeps (microseconds), so a
/// value read back equals the value written.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// What a caller asks for, validated: the input of the create use case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBackupRequest {
    pub backup_job_id: BackupJobId,
    pub data_date: DataDate,
    pub prepared_data_path_name: PreparedDataPathName,
    pub transport_type_code: TransportTypeCode,
    pub requester_id: RequesterId,
}

/// A backup request: its fields (read through the getters below) change
/// only by the steps below, which refuse illegal ones. The rest of the
/// system sees its `snapshot`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupRequest {
    fields: RequestSnapshot,
    /// The job's retention terms, kept from the check so that the Backup can
    /// be recorded without asking the job service again. Stored, not shown.
    retention: Option<Retention>,
}

/// A request as the rest of the system hears about it: every field of
/// SPEC §2 as it stood when an event about the request was emitted. It is
/// the `data` of the request's events (its JSON is the contract's: operators
/// bind queues of their own to these events), a record, not a request that
/// could take a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestSnapshot {
    pub backup_request_id: BackupRequestId,
    pub backup_job_id: BackupJobId,
    pub data_date: DataDate,
    pub prepared_data_path_name: PreparedDataPathName,
    pub status_type_code: StatusTypeCode,
    pub transport_type_code: TransportTypeCode,
    pub requester_id: RequesterId,
    pub backup_provider_code: BackupProviderCode,
    pub storage_path_name: Option<String>,
    pub received_timestamp: DateTime<Utc>,
    pub checked_timestamp: Option<DateTime<Utc>>,
    pub sent_to_interface_timestamp: Option<DateTime<Utc>>,
    pub reply_timestamp: Option<DateTime<Utc>>,
    pub reply_message_text: Option<String>,
    pub not_allowed_reason: Option<String>,
}

/// Everything a repository stored of a request: what it restores the
/// request from (`BackupRequest::restore`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRequest {
    pub fields: RequestSnapshot,
    pub retention: Option<Retention>,
}

/// How long a job keeps its backups, as the job said when it allowed a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub days_to_keep: u32,
    pub hold_flag: bool,
}

impl BackupRequest {
    /// A request just received: status `Received`, a fresh id.
    pub fn receive(new: NewBackupRequest, at: DateTime<Utc>) -> Self {
        let fields = RequestSnapshot {
            backup_request_id: BackupRequestId::generate(),
            backup_job_id: new.backup_job_id,
            data_date: new.data_date,
            prepared_data_path_name: new.prepared_data_path_name,
            status_type_code: StatusTypeCode::Received,
            transport_type_code: new.transport_type_code,
            requester_id: new.requester_id,
            backup_provider_code: BackupProviderCode::None,
            storage_path_name: None,
            received_timestamp: at,
            checked_timestamp: None,
            sent_to_interface_timestamp: None,
            reply_timestamp: None,
            reply_message_text: None,
            not_allowed_reason: None,
        };
        Self { fields, retention: None }
    }

    /// A request as a repository stored it, id and status included. Only
    /// repositories restoring what they stored call this; use cases change
    /// a request through the steps below.
    pub fn restore(stored: StoredRequest) -> Self {
        Self { fields: stored.fields, retention: stored.retention }
    }

    /// The request as it now stands, for an event about it.
    pub fn snapshot(&self) -> RequestSnapshot {
        self.fields.clone()
    }

    pub fn backup_request_id(&self) -> &BackupRequestId {
        &self.fields.backup_request_id
    }

    pub fn backup_job_id(&self) -> &BackupJobId {
        &self.fields.backup_job_id
    }

    pub fn data_date(&self) -> DataDate {
        self.fields.data_date
    }

    pub fn prepared_data_path_name(&self) -> &PreparedDataPathName {
        &self.fields.prepared_data_path_name
    }

    pub fn status(&self) -> StatusTypeCode {
        self.fields.status_type_code
    }

    pub fn transport_type_code(&self) -> TransportTypeCode {
        self.fields.transport_type_code
    }

    pub fn requester_id(&self) -> &RequesterId {
        &self.fields.requester_id
    }

    /// `BackupProviderCode::None` until the job allowed the request.
    pub fn backup_provider_code(&self) -> BackupProviderCode {
        self.fields.backup_provider_code
    }

    /// The job's storage path, once the job allowed the request.
    pub fn storage_path_name(&self) -> Option<&str> {
        self.fields.storage_path_name.as_deref()
    }

    pub fn received_timestamp(&self) -> DateTime<Utc> {
        self.fields.received_timestamp
    }

    pub fn checked_timestamp(&self) -> Option<DateTime<Utc>> {
        self.fields.checked_timestamp
    }

    pub fn sent_to_interface_timestamp(&self) -> Option<DateTime<Utc>> {
        self.fields.sent_to_interface_timestamp
    }

    pub fn reply_timestamp(&self) -> Option<DateTime<Utc>> {
        self.fields.reply_timestamp
    }

    pub fn reply_message_text(&self) -> Option<&str> {
        self.fields.reply_message_text.as_deref()
    }

    pub fn not_allowed_reason(&self) -> Option<&str> {
        self.fields.not_allowed_reason.as_deref()
    }

    /// The job's retention terms, once the job allowed the request.
    pub fn retention(&self) -> Option<Retention> {
        self.retention
    }

    /// The fields a caller chose, for comparing a repeated request with the
    /// original one (idempotency keys).
    pub fn as_new(&self) -> NewBackupRequest {
        NewBackupRequest {
            backup_job_id: self.fields.backup_job_id.clone(),
            data_date: self.fields.data_date,
            prepared_data_path_name: self.fields.prepared_data_path_name.clone(),
            transport_type_code: self.fields.transport_type_code,
            requester_id: self.fields.requester_id.clone(),
        }
    }

    fn step(&mut self, next: StatusTypeCode) -> Result<(), TransitionError> {
        self.fields.status_type_code.check_transition(next)?;
        self.fields.status_type_code = next;
        Ok(())
    }

    /// The backup job allows the request: it takes the job's provider, path
    /// and retention terms.
    pub fn allow(&mut self, job: &BackupJob, at: DateTime<Utc>) -> Result<(), TransitionError> {
        self.step(StatusTypeCode::Allowed)?;
        self.fields.backup_provider_code = job.backup_provider_code;
        self.fields.storage_path_name = Some(job.storage_path_name.clone());
        self.retention = Some(Retention { days_to_keep: job.days_to_keep, hold_flag: job.hold_flag });
        self.fields.checked_timestamp = Some(at);
        Ok(())
    }

    /// The backup job does not allow the request (terminal).
    pub fn not_allow(&mut self, reason: String, at: DateTime<Utc>) -> Result<(), TransitionError> {
        self.step(StatusTypeCode::NotAllowed)?;
        self.fields.not_allowed_reason = Some(reason);
        self.fields.checked_timestamp = Some(at);
        Ok(())
    }

    /// The request went to the backup zone interface.
    pub fn mark_sent(&mut self, at: DateTime<Utc>) -> Result<(), TransitionError> {
        self.step(StatusTypeCode::Sent)?;
        self.fields.sent_to_interface_timestamp = Some(at);
        Ok(())
    }

    /// A caller cancelled the request before it went to the interface
    /// (from `StatusTypeCode::CANCELLABLE` only).
    pub fn cancel(&mut self) -> Result<(), TransitionError> {
        self.step(StatusTypeCode::Cancelled)
    }

    /// What the history says about the request's current status: the reason
    /// it was not allowed, or the interface's reply text.
    pub fn status_detail(&self) -> Option<&str> {
        match self.fields.status_type_code {
            StatusTypeCode::NotAllowed => self.fields.not_allowed_reason.as_deref(),
            StatusTypeCode::Succeeded | StatusTypeCode::Failed => self.fields.reply_message_text.as_deref(),
            _ => None,
        }
    }

    /// Whether the interface's reply is overdue: sent before `before`, no
    /// reply since.
    pub fn reply_overdue(&self, before: DateTime<Utc>) -> bool {
        self.fields.status_type_code == StatusTypeCode::Sent
            && self.fields.reply_timestamp.is_none()
            && self.fields.sent_to_interface_timestamp.is_some_and(|sent| sent < before)
    }

    /// The request went to the interface again because its reply is
    /// overdue; it stays `Sent`.
    pub fn mark_resent(&mut self, at: DateTime<Utc>) -> Result<(), TransitionError> {
        if self.fields.status_type_code != StatusTypeCode::Sent || self.fields.reply_timestamp.is_some() {
            return Err(TransitionError::AlreadyDone { current: self.fields.status_type_code, requested: StatusTypeCode::Sent });
        }
        self.fields.sent_to_interface_timestamp = Some(at);
        Ok(())
    }

    /// The interface replied: `Succeeded` or `Failed`.
    pub fn record_reply(
        &mut self,
        result: StatusTypeCode,
        message_text: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<(), TransitionError> {
        if !matches!(result, StatusTypeCode::Succeeded | StatusTypeCode::Failed) {
            return Err(TransitionError::Illegal {
                current: self.fields.status_type_code,
                requested: result,
            });
        }
        self.step(result)?;
        self.fields.reply_timestamp = Some(at);
        self.fields.reply_message_text = message_text;
        Ok(())
    }
}

#[cfg(test)]
mod tests;

impl InterfaceRequest {
    /// What the BZI is asked to back up for `request`.
    pub fn for_request(request: &BackupRequest) -> Self {
        Self {
            api_version: API_VERSION.to_owned(),
            backup_request_id: request.fields.backup_request_id.clone(),
            backup_job_id: request.fields.backup_job_id.clone(),
            data_date: request.fields.data_date,
            prepared_data_path_name: request.fields.prepared_data_path_name.clone(),
            backup_provider_code: request.fields.backup_provider_code,
            storage_path_name: request.fields.storage_path_name.clone().unwrap_or_default(),
        }
    }
}
