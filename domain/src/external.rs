//! The external systems' messages (SPEC §5), as validated domain values: the
//! backup job, the request sent to the backup zone interface (BZI), and the
//! status the BZI sends back.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::field_error::FieldError;
use crate::request::fields::code_enum;
use crate::request::fields::{BackupJobId, BackupProviderCode, BackupRequestId, DataDate, PreparedDataPathName};

/// The API version linebacker speaks on the BZI queues and its HTTP API.
pub const API_VERSION: &str = "2022-05-22";

/// The longest `storagePathName` a status may carry: a storage location
/// with room for the provider's prefixes beside the 250 characters of a
/// prepared path (SPEC §2).
pub const MAX_STORAGE_PATH_NAME_CHARS: usize = 1024;
/// The longest `verifiedHash`: a SHA-512 in hex is 128 characters; room is
/// left for an algorithm prefix or another encoding.
pub const MAX_VERIFIED_HASH_CHARS: usize = 256;
/// The longest `messageText`: a human-readable note, shown in the request's
/// history and its `replyMessageText`.
pub const MAX_MESSAGE_TEXT_CHARS: usize = 4096;

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
        let texts = [
            ("storagePathName", &self.storage_path_name, MAX_STORAGE_PATH_NAME_CHARS, TextKind::Line),
            ("verifiedHash", &self.verified_hash, MAX_VERIFIED_HASH_CHARS, TextKind::Line),
            ("messageText", &self.message_text, MAX_MESSAGE_TEXT_CHARS, TextKind::Prose),
        ];
        for (field, value, max, kind) in texts {
            if let Some(value) = value {
                check_text(value, max, kind).map_err(|error| format!("{field} {error}"))?;
            }
        }
        Ok(())
    }
}

/// What a text field of a status may hold besides printable characters.
#[derive(Clone, Copy)]
enum TextKind {
    /// A name or a value: no control character at all.
    Line,
    /// A note written for people: line breaks and tabs too, which the
    /// database and the JSON logs keep as they are; any other control
    /// character (NUL first, which PostgreSQL refuses in text) is refused.
    Prose,
}

/// A status's text is stored and shown as it came: bounded, and free of
/// characters that cannot be stored or that would garble a log or a page.
fn check_text(value: &str, max: usize, kind: TextKind) -> Result<(), FieldError> {
    if value.chars().count() > max {
        return Err(FieldError::TooLong { max });
    }
    let allowed = |c: char| matches!(kind, TextKind::Prose) && matches!(c, '\n' | '\r' | '\t');
    if value.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(FieldError::ControlCharacter);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

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

    /// `SUCCEEDED` with `field` set to `value`.
    fn with(field: &str, value: &str) -> String {
        let mut status: serde_json::Value = serde_json::from_str(SUCCEEDED).unwrap();
        status[field] = serde_json::Value::from(value);
        status.to_string()
    }

    #[test]
    fn a_control_character_in_a_text_field_is_refused_naming_the_field() {
        for field in ["storagePathName", "verifiedHash", "messageText"] {
            for bad in ["a\u{0}b", "\u{1b}[31mred", "x\u{7f}", "\u{85}next"] {
                let error = StoreStatus::parse(&with(field, bad)).unwrap_err();
                assert!(error.starts_with(field) && error.contains("control characters"), "{field} {bad:?}: {error}");
            }
        }
    }

    #[test]
    fn a_message_text_may_span_lines_but_a_path_or_hash_may_not() {
        let status = StoreStatus::parse(&with("messageText", "copied\r\n\tverified")).unwrap();
        assert_eq!(status.message_text.as_deref(), Some("copied\r\n\tverified"));
        for field in ["storagePathName", "verifiedHash"] {
            assert!(StoreStatus::parse(&with(field, "a\nb")).is_err(), "{field}");
        }
    }

    #[test]
    fn text_fields_are_bounded_in_characters_not_bytes() {
        for (field, max) in [
            ("storagePathName", MAX_STORAGE_PATH_NAME_CHARS),
            ("verifiedHash", MAX_VERIFIED_HASH_CHARS),
            ("messageText", MAX_MESSAGE_TEXT_CHARS),
        ] {
            assert!(StoreStatus::parse(&with(field, &"é".repeat(max))).is_ok(), "{field} at its bound");
            let error = StoreStatus::parse(&with(field, &"e".repeat(max + 1))).unwrap_err();
            assert_eq!(error, format!("{field} must be at most {max} characters"));
        }
    }

    #[test]
    fn the_interface_request_has_the_spec_fields() {
        let json = serde_json::to_value(crate::testing::fixtures::interface_request()).unwrap();
        let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            ["apiVersion", "backupJobId", "backupProviderCode", "backupRequestId", "dataDate", "preparedDataPathName", "storagePathName"]
        );
    }

    mod properties {
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
            // Printable text, or any characters at all, control ones included.
            let text = prop_oneof![
                ".{0,30}".prop_map(serde_json::Value::from),
                "[\\x00-\\x{9f}]{0,30}".prop_map(serde_json::Value::from),
                Just(serde_json::Value::Null),
            ];
            let fields = (prop_oneof![Just(API_VERSION.to_owned()), ".{0,10}"], ".{0,20}", result, text.clone(), count);
            (fields, timestamp.clone(), timestamp, text.clone(), text)
                .prop_map(|((version, id, result, path, count), start, end, hash, note)| {
                    serde_json::json!({
                        "apiVersion": version, "backupRequestId": id, "resultTypeCode": result,
                        "storagePathName": path, "backupByteCount": count,
                        "copyStartTimestamp": start, "copyEndTimestamp": end, "verifiedHash": hash,
                        "messageText": note,
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
            fn an_accepted_status_holds_no_text_postgresql_or_a_log_would_choke_on(text in status_text()) {
                if let Ok(status) = StoreStatus::parse(&text) {
                    for value in [&status.storage_path_name, &status.verified_hash, &status.message_text].into_iter().flatten() {
                        prop_assert!(!value.contains('\0'));
                        prop_assert!(value.chars().all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t')));
                    }
                }
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
