//! The external systems' messages (SPEC §5), as validated domain values: the
//! backup job, the request sent to the backup zone interface (BZI), and the
//! status the BZI sends back.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::request::fields::code_enum;
use crate::request::{
    BackupJobId, BackupProviderCode, BackupRequest, BackupRequestId, DataDate, PreparedDataPathName,
};

/// The API version linebacker speaks on the BZI queues and its HTTP API.
pub const API_VERSION: &str = "2022-05-22";

/// A backup job as the backup job service describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupJob {
    pub backup_job_id: BackupJobId,
    pub storage_path_name: String,
    pub backup_provider_code: BackupProviderCode,
    pub days_to_keep: u32,
    pub is_active: bool,
    pub hold_flag: bool,
}

/// The message linebacker puts on the BZI's `allowed-backup-requests` queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InterfaceRequest {
    pub api_version: String,
    pub backup_request_id: BackupRequestId,
    pub backup_job_id: BackupJobId,
    pub data_date: DataDate,
    pub prepared_data_path_name: PreparedDataPathName,
    pub backup_provider_code: BackupProviderCode,
    pub storage_path_name: String,
}

impl InterfaceRequest {
    pub fn for_request(request: &BackupRequest) -> Self {
        Self {
            api_version: API_VERSION.to_owned(),
            backup_request_id: request.backup_request_id().clone(),
            backup_job_id: request.backup_job_id().clone(),
            data_date: request.data_date(),
            prepared_data_path_name: request.prepared_data_path_name().clone(),
            backup_provider_code: request.backup_provider_code(),
            storage_path_name: request.storage_path_name().unwrap_or_default().to_owned(),
        }
    }
}

code_enum!(
    /// The BZI's verdict on one request.
    ResultTypeCode {
        Succeeded => "Succeeded",
        Failed => "Failed",
    }
);

/// A status message from the BZI's `store-statuses` queue. Only the fields
/// every reply needs are required here; a `Succeeded` reply needs more, which
/// the reply rules check (SPEC §5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreStatus {
    pub api_version: String,
    pub backup_request_id: BackupRequestId,
    pub result_type_code: ResultTypeCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_path_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_byte_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_start_timestamp: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_end_timestamp: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_start_timestamp: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_end_timestamp: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_text: Option<String>,
}

impl StoreStatus {
    /// Parses a status message's text (the JSON itself), refusing anything
    /// that is not a well-formed status of this API version.
    pub fn parse(text: &str) -> Result<Self, String> {
        let status: StoreStatus = serde_json::from_str(text).map_err(|e| format!("not a store status: {e}"))?;
        if status.api_version != API_VERSION {
            return Err(format!("apiVersion must be {API_VERSION}, not {:?}", status.api_version));
        }
        status.check_values()?;
        Ok(status)
    }

    /// The checks serde cannot make: every reader of a status (the listener
    /// parsing the BZI's text, `receive-status` decoding the event) refuses
    /// the same values, so a bad one is a contract violation at the edge,
    /// never a database constraint failing later.
    pub fn check_values(&self) -> Result<(), String> {
        if self.backup_byte_count.is_some_and(|count| count < 0) {
            return Err(format!("backupByteCount {}", FieldError::WrongType { expected: "a count of bytes (0 or more)" }));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUCCEEDED: &str = r#"{"apiVersion":"2022-05-22","backupRequestId":"r1","resultTypeCode":"Succeeded",
        "storagePathName":"/store/r1","backupByteCount":42,"copyStartTimestamp":"2022-05-30T01:00:00Z",
        "copyEndTimestamp":"2022-05-30T01:05:00Z","verifiedHash":"abc"}"#;

    #[test]
    fn a_well_formed_status_parses_with_its_optional_fields() {
        let status = StoreStatus::parse(SUCCEEDED).unwrap();
        assert_eq!(status.result_type_code, ResultTypeCode::Succeeded);
        assert_eq!(status.backup_byte_count, Some(42));
        assert_eq!(status.verified_hash.as_deref(), Some("abc"));
        assert_eq!(status.verify_start_timestamp, None);
    }

    #[test]
    fn malformed_statuses_are_refused_with_a_reason() {
        for bad in [
            "",
            "not json",
            "[]",
            r#"{"apiVersion":"2022-05-22","backupRequestId":"r1"}"#,
            r#"{"apiVersion":"2022-05-22","backupRequestId":"r1","resultTypeCode":"Maybe"}"#,
            r#"{"apiVersion":"1999-01-01","backupRequestId":"r1","resultTypeCode":"Failed"}"#,
            r#"{"apiVersion":"2022-05-22","backupRequestId":"","resultTypeCode":"Failed"}"#,
            r#"{"apiVersion":"2022-05-22","backupRequestId":"r1","resultTypeCode":"Failed","backupByteCount":-1}"#,
            r#"{"apiVersion":"2022-05-22","backupRequestId":"r1","resultTypeCode":"Failed","copyStartTimestamp":"yesterday"}"#,
        ] {
            assert!(StoreStatus::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_interface_request_has_the_spec_fields() {
        let json = serde_json::to_value(InterfaceRequest {
            api_version: API_VERSION.into(),
            backup_request_id: BackupRequestId::try_from("r1").unwrap(),
            backup_job_id: BackupJobId::try_from("job-1").unwrap(),
            data_date: DataDate::try_from("2022-05-30").unwrap(),
            prepared_data_path_name: PreparedDataPathName::try_from("/p").unwrap(),
            backup_provider_code: BackupProviderCode::Local,
            storage_path_name: "/s".into(),
        })
        .unwrap();
        let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            ["apiVersion", "backupJobId", "backupProviderCode", "backupRequestId", "dataDate", "preparedDataPathName", "storagePathName"]
        );
    }

    mod properties {
        #![allow(clippy::unwrap_used)]
        use proptest::prelude::*;

        use super::*;

        /// Status texts that are often, but not always, well formed.
        fn status_text() -> impl Strategy<Value = String> {
            let result = prop_oneof![Just("Succeeded".to_owned()), Just("Failed".to_owned()), ".{0,10}"];
            let timestamp = prop_oneof![
                (0i64..4_000_000_000).prop_map(|secs| serde_json::json!(DateTime::from_timestamp(secs, 0).map(|t| t.to_rfc3339()))),
                ".{0,12}".prop_map(serde_json::Value::from),
                Just(serde_json::Value::Null),
            ];
            let count = prop_oneof![any::<i64>().prop_map(serde_json::Value::from), Just(serde_json::Value::Null), ".{0,4}".prop_map(serde_json::Value::from)];
            let text = prop_oneof![".{0,30}".prop_map(serde_json::Value::from), Just(serde_json::Value::Null)];
            (prop_oneof![Just(API_VERSION.to_owned()), ".{0,10}"], ".{0,20}", result, text.clone(), count, timestamp.clone(), timestamp, text)
                .prop_map(|(version, id, result, path, count, start, end, hash)| {
                    serde_json::json!({
                        "apiVersion": version, "backupRequestId": id, "resultTypeCode": result,
                        "storagePathName": path, "backupByteCount": count,
                        "copyStartTimestamp": start, "copyEndTimestamp": end, "verifiedHash": hash,
                    })
                    .to_string()
                })
        }

        proptest! {
            #[test]
            fn any_text_parses_or_is_refused_without_a_panic(text in ".{0,300}") {
                let _ = StoreStatus::parse(&text);
            }

            #[test]
            fn every_accepted_status_round_trips(text in status_text()) {
                if let Ok(status) = StoreStatus::parse(&text) {
                    let again = StoreStatus::parse(&serde_json::to_string(&status).unwrap()).unwrap();
                    prop_assert_eq!(again, status);
                }
            }
        }
    }
}
