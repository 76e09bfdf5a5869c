//! Rows as stored, and their conversion to domain values. A row that does not
//! convert was corrupted outside linebacker: an `Unexpected` error, not a panic.

use chrono::{DateTime, NaiveDate, Utc};
use linebacker_domain::request::{Backup, Retention, StoredRequest};
use linebacker_domain::{
    BackupJobId, BackupProviderCode, BackupRequest, BackupRequestId, DataDate, DomainError,
    FieldError, PreparedDataPathName, RequestSnapshot, RequesterId, StatusTypeCode, TransportTypeCode,
};

fn corrupt(column: &str, error: FieldError) -> DomainError {
    DomainError::Unexpected(anyhow::anyhow!("stored {column} is invalid: {error}"))
}

/// A row of `backup_requests`.
#[derive(sqlx::FromRow)]
pub struct RequestRow {
    pub backup_request_id: String,
    pub backup_job_id: String,
    pub data_date: NaiveDate,
    pub prepared_data_path_name: String,
    pub status_type_code: String,
    pub transport_type_code: String,
    pub requester_id: String,
    pub backup_provider_code: String,
    pub storage_path_name: Option<String>,
    pub received_timestamp: DateTime<Utc>,
    pub checked_timestamp: Option<DateTime<Utc>>,
    pub sent_to_interface_timestamp: Option<DateTime<Utc>>,
    pub reply_timestamp: Option<DateTime<Utc>>,
    pub reply_message_text: Option<String>,
    pub not_allowed_reason: Option<String>,
    pub days_to_keep_count: Option<i32>,
    pub hold_flag: Option<bool>,
}

impl TryFrom<RequestRow> for BackupRequest {
    type Error = DomainError;

    fn try_from(row: RequestRow) -> Result<Self, Self::Error> {
        let fields = RequestSnapshot {
            backup_request_id: BackupRequestId::try_from(row.backup_request_id)
                .map_err(|e| corrupt("backup_request_id", e))?,
            backup_job_id: BackupJobId::try_from(row.backup_job_id).map_err(|e| corrupt("backup_job_id", e))?,
            data_date: DataDate::from(row.data_date),
            prepared_data_path_name: PreparedDataPathName::try_from(row.prepared_data_path_name)
                .map_err(|e| corrupt("prepared_data_path_name", e))?,
            status_type_code: StatusTypeCode::try_from(row.status_type_code.as_str())
                .map_err(|e| corrupt("status_type_code", e))?,
            transport_type_code: TransportTypeCode::try_from(row.transport_type_code.as_str())
                .map_err(|e| corrupt("transport_type_code", e))?,
            requester_id: RequesterId::try_from(row.requester_id).map_err(|e| corrupt("requester_id", e))?,
            backup_provider_code: BackupProviderCode::try_from(row.backup_provider_code.as_str())
                .map_err(|e| corrupt("backup_provider_code", e))?,
            storage_path_name: row.storage_path_name,
            received_timestamp: row.received_timestamp,
            checked_timestamp: row.checked_timestamp,
            sent_to_interface_timestamp: row.sent_to_interface_timestamp,
            reply_timestamp: row.reply_timestamp,
            reply_message_text: row.reply_message_text,
            not_allowed_reason: row.not_allowed_reason,
        };
        let retention = match (row.days_to_keep_count, row.hold_flag) {
            (Some(days), Some(hold_flag)) => Some(Retention {
                days_to_keep: u32::try_from(days)
                    .map_err(|_| DomainError::Unexpected(anyhow::anyhow!("stored days_to_keep_count {days} is negative")))?,
                hold_flag,
            }),
            _ => None,
        };
        Ok(BackupRequest::restore(StoredRequest { fields, retention }))
    }
}

/// The columns of `RequestRow`, for `concat!` into static SQL.
macro_rules! request_columns {
    () => {
        "backup_request_id, backup_job_id, data_date, prepared_data_path_name, \
         status_type_code, transport_type_code, requester_id, backup_provider_code, storage_path_name, \
         received_timestamp, checked_timestamp, sent_to_interface_timestamp, reply_timestamp, \
         reply_message_text, not_allowed_reason, days_to_keep_count, hold_flag"
    };
}
pub(crate) use request_columns;

#[derive(sqlx::FromRow)]
pub struct BackupRow {
    pub backup_id: String,
    pub backup_request_id: String,
    pub backup_job_id: String,
    pub data_date: NaiveDate,
    pub backup_provider_code: String,
    pub days_to_keep_count: i32,
    pub hold_flag: bool,
    pub storage_path_name: String,
    pub backup_byte_count: i64,
    pub copy_start_timestamp: DateTime<Utc>,
    pub copy_end_timestamp: DateTime<Utc>,
    pub verify_start_timestamp: Option<DateTime<Utc>>,
    pub verify_end_timestamp: Option<DateTime<Utc>>,
    pub verify_hash_text: Option<String>,
    pub due_to_delete_date: NaiveDate,
}

impl TryFrom<BackupRow> for Backup {
    type Error = DomainError;

    fn try_from(row: BackupRow) -> Result<Self, Self::Error> {
        Ok(Backup {
            backup_id: row.backup_id,
            backup_request_id: BackupRequestId::try_from(row.backup_request_id)
                .map_err(|e| corrupt("backups.backup_request_id", e))?,
            backup_job_id: BackupJobId::try_from(row.backup_job_id).map_err(|e| corrupt("backups.backup_job_id", e))?,
            data_date: DataDate::from(row.data_date),
            backup_provider_code: BackupProviderCode::try_from(row.backup_provider_code.as_str())
                .map_err(|e| corrupt("backups.backup_provider_code", e))?,
            days_to_keep_count: row.days_to_keep_count,
            hold_flag: row.hold_flag,
            storage_path_name: row.storage_path_name,
            backup_byte_count: row.backup_byte_count,
            copy_start_timestamp: row.copy_start_timestamp,
            copy_end_timestamp: row.copy_end_timestamp,
            verify_start_timestamp: row.verify_start_timestamp,
            verify_end_timestamp: row.verify_end_timestamp,
            verify_hash_text: row.verify_hash_text,
            due_to_delete_date: row.due_to_delete_date,
        })
    }
}
