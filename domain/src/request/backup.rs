//! The Backup record: created once per request, on its first successful reply.

use chrono::{DateTime, Days, NaiveDate, Utc};
use uuid::Uuid;

use super::{BackupJobId, BackupProviderCode, BackupRequest, BackupRequestId, DataDate, Retention};
use crate::external::StoreStatus;

/// The Backup record of SPEC §2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    pub backup_id: String,
    pub backup_request_id: BackupRequestId,
    pub backup_job_id: BackupJobId,
    pub data_date: DataDate,
    pub backup_provider_code: BackupProviderCode,
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

impl Backup {
    /// The Backup a successful reply describes. A `Succeeded` reply MUST
    /// carry `storagePathName`, `backupByteCount`, `copyStartTimestamp` and
    /// `copyEndTimestamp`; the error names what is missing.
    pub fn from_reply(request: &BackupRequest, retention: Retention, reply: &StoreStatus) -> Result<Self, String> {
        let missing = |field: &str| format!("a Succeeded reply needs {field}");
        let storage_path_name = reply
            .storage_path_name
            .clone()
            .filter(|path| !path.trim().is_empty())
            .ok_or_else(|| missing("storagePathName"))?;
        let backup_byte_count = reply.backup_byte_count.ok_or_else(|| missing("backupByteCount"))?;
        let copy_start_timestamp = reply.copy_start_timestamp.ok_or_else(|| missing("copyStartTimestamp"))?;
        let copy_end_timestamp = reply.copy_end_timestamp.ok_or_else(|| missing("copyEndTimestamp"))?;
        let due_to_delete_date = request
            .data_date()
            .date()
            .checked_add_days(Days::new(u64::from(retention.days_to_keep)))
            .ok_or_else(|| format!("daysToKeep {} runs past the calendar", retention.days_to_keep))?;
        Ok(Self {
            backup_id: Uuid::now_v7().to_string(),
            backup_request_id: request.backup_request_id().clone(),
            backup_job_id: request.backup_job_id().clone(),
            data_date: request.data_date(),
            backup_provider_code: request.backup_provider_code(),
            days_to_keep_count: i32::try_from(retention.days_to_keep)
                .map_err(|_| format!("daysToKeep {} is too large", retention.days_to_keep))?,
            hold_flag: retention.hold_flag,
            storage_path_name,
            backup_byte_count,
            copy_start_timestamp,
            copy_end_timestamp,
            verify_start_timestamp: reply.verify_start_timestamp,
            verify_end_timestamp: reply.verify_end_timestamp,
            verify_hash_text: reply.verified_hash.clone(),
            due_to_delete_date,
        })
    }
}
