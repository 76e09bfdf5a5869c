//! The JSON the routes answer with (SPEC §3): the receiver's own shapes of
//! the domain's values, so that nothing changed inside the domain changes
//! the API. `openapi.rs` documents the same shapes, and a test holds the two
//! together.

use chrono::{DateTime, NaiveDate, Utc};
use linebacker_domain::request::{Backup, BackupRequest};
use linebacker_domain::usecase::{BackupRequestView, RecoverySummary};
use serde::Serialize;

/// A backup request: every field of SPEC §2.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RequestBody<'a> {
    backup_request_id: &'a str,
    backup_job_id: &'a str,
    data_date: String,
    prepared_data_path_name: &'a str,
    status_type_code: &'static str,
    transport_type_code: &'static str,
    requester_id: &'a str,
    backup_provider_code: &'static str,
    storage_path_name: Option<&'a str>,
    received_timestamp: DateTime<Utc>,
    checked_timestamp: Option<DateTime<Utc>>,
    sent_to_interface_timestamp: Option<DateTime<Utc>>,
    reply_timestamp: Option<DateTime<Utc>>,
    reply_message_text: Option<&'a str>,
    not_allowed_reason: Option<&'a str>,
}

impl<'a> From<&'a BackupRequest> for RequestBody<'a> {
    fn from(request: &'a BackupRequest) -> Self {
        Self {
            backup_request_id: request.backup_request_id().as_str(),
            backup_job_id: request.backup_job_id().as_str(),
            data_date: request.data_date().to_string(),
            prepared_data_path_name: request.prepared_data_path_name().as_str(),
            status_type_code: request.status().as_str(),
            transport_type_code: request.transport_type_code().as_str(),
            requester_id: request.requester_id().as_str(),
            backup_provider_code: request.backup_provider_code().as_str(),
            storage_path_name: request.storage_path_name(),
            received_timestamp: request.received_timestamp(),
            checked_timestamp: request.checked_timestamp(),
            sent_to_interface_timestamp: request.sent_to_interface_timestamp(),
            reply_timestamp: request.reply_timestamp(),
            reply_message_text: request.reply_message_text(),
            not_allowed_reason: request.not_allowed_reason(),
        }
    }
}

/// The Backup record of SPEC §2.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BackupBody<'a> {
    backup_id: &'a str,
    backup_request_id: &'a str,
    backup_job_id: &'a str,
    data_date: String,
    backup_provider_code: &'static str,
    days_to_keep_count: i32,
    hold_flag: bool,
    storage_path_name: &'a str,
    backup_byte_count: i64,
    copy_start_timestamp: DateTime<Utc>,
    copy_end_timestamp: DateTime<Utc>,
    verify_start_timestamp: Option<DateTime<Utc>>,
    verify_end_timestamp: Option<DateTime<Utc>>,
    verify_hash_text: Option<&'a str>,
    due_to_delete_date: NaiveDate,
}

impl<'a> From<&'a Backup> for BackupBody<'a> {
    fn from(backup: &'a Backup) -> Self {
        Self {
            backup_id: &backup.backup_id,
            backup_request_id: backup.backup_request_id.as_str(),
            backup_job_id: backup.backup_job_id.as_str(),
            data_date: backup.data_date.to_string(),
            backup_provider_code: backup.backup_provider_code.as_str(),
            days_to_keep_count: backup.days_to_keep_count,
            hold_flag: backup.hold_flag,
            storage_path_name: &backup.storage_path_name,
            backup_byte_count: backup.backup_byte_count,
            copy_start_timestamp: backup.copy_start_timestamp,
            copy_end_timestamp: backup.copy_end_timestamp,
            verify_start_timestamp: backup.verify_start_timestamp,
            verify_end_timestamp: backup.verify_end_timestamp,
            verify_hash_text: backup.verify_hash_text.as_deref(),
            due_to_delete_date: backup.due_to_delete_date,
        }
    }
}

/// `GET /api/backup-requests/{id}`: the request, and its Backup under
/// `backup` once it exists.
#[derive(Serialize)]
pub(crate) struct RequestViewBody<'a> {
    #[serde(flatten)]
    request: RequestBody<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    backup: Option<BackupBody<'a>>,
}

impl<'a> From<&'a BackupRequestView> for RequestViewBody<'a> {
    fn from(view: &'a BackupRequestView) -> Self {
        Self { request: RequestBody::from(&view.request), backup: view.backup.as_ref().map(BackupBody::from) }
    }
}

/// What a recovery pass did.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RecoveryBody {
    cutoff: DateTime<Utc>,
    reemitted: u64,
    received: u64,
    allowed: u64,
    sent: u64,
    skipped: u64,
    batches: u64,
}

impl From<&RecoverySummary> for RecoveryBody {
    fn from(summary: &RecoverySummary) -> Self {
        Self {
            cutoff: summary.cutoff,
            reemitted: summary.reemitted,
            received: summary.received,
            allowed: summary.allowed,
            sent: summary.sent,
            skipped: summary.skipped,
            batches: summary.batches,
        }
    }
}

#[cfg(test)]
mod tests;
