//! The Backup record: created once per request, on its first successful reply.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{BackupJobId, BackupProviderCode, BackupRequestId, DataDate};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
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
