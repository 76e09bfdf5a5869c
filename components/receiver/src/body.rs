//! The POST body of SPEC §3, parsed by hand from bytes so that every way it
//! can be wrong gets its own answer, naming the field as the caller spelled
//! it (`backupDataLocation`, not the stored `preparedDataPathName`).

use linebacker_domain::FieldError;
use linebacker_domain::request::{
    BackupJobId, DataDate, NewBackupRequest, PreparedDataPathName, RequesterId, TransportTypeCode,
};
use serde_json::{Map, Value};

use crate::error::{ApiError, ErrorCode};

/// The only API version this receiver speaks.
pub const API_VERSION: &str = "2022-05-22";

/// Turns a request body into the input of the create use case.
pub fn parse_new_request(body: &[u8], requester_id: RequesterId) -> Result<NewBackupRequest, ApiError> {
    let value: Value = crate::json::from_slice_strict(body)
        .map_err(|error| ApiError::new(ErrorCode::InvalidJson, format!("the request body is not valid JSON: {error}")))?;
    let Value::Object(fields) = value else {
        return Err(ApiError::new(ErrorCode::InvalidJson, "the request body must be a JSON object"));
    };
    if fields.get("apiVersion").and_then(Value::as_str) != Some(API_VERSION) {
        return Err(ApiError::new(
            ErrorCode::InvalidApiVersion,
            format!("apiVersion must be \"{API_VERSION}\""),
        ));
    }

    // Every bad field is reported at once, so a caller fixes them in one go.
    let mut problems = Vec::new();
    let backup_job_id = field(&fields, "backupJobId", BackupJobId::try_from, &mut problems);
    let data_date = field(&fields, "dataDate", DataDate::try_from, &mut problems);
    let prepared_data_path_name =
        field(&fields, "backupDataLocation", PreparedDataPathName::try_from, &mut problems);
    match (backup_job_id, data_date, prepared_data_path_name) {
        (Some(backup_job_id), Some(data_date), Some(prepared_data_path_name)) => Ok(NewBackupRequest {
            backup_job_id,
            data_date,
            prepared_data_path_name,
            transport_type_code: TransportTypeCode::Http,
            requester_id,
        }),
        _ => Err(ApiError::new(ErrorCode::BadData, problems.join("; "))),
    }
}

/// Validates one string field; on failure records `<name> <why>`.
fn field<T>(
    fields: &Map<String, Value>,
    name: &str,
    parse: impl FnOnce(String) -> Result<T, FieldError>,
    problems: &mut Vec<String>,
) -> Option<T> {
    let parsed = match fields.get(name) {
        None | Some(Value::Null) => Err(FieldError::Missing),
        Some(Value::String(text)) => parse(text.clone()),
        Some(_) => Err(FieldError::WrongType { expected: "a string" }),
    };
    parsed.map_err(|error| problems.push(format!("{name} {error}"))).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    fn parse(body: Value) -> Result<NewBackupRequest, ApiError> {
        parse_new_request(body.to_string().as_bytes(), RequesterId::anonymous())
    }

    fn valid() -> Value {
        json!({
            "apiVersion": "2022-05-22",
            "backupJobId": "job-17",
            "dataDate": "2022-05-30",
            "backupDataLocation": "/prepared/job-17/2022-05-30",
        })
    }

    #[test]
    fn a_valid_body_becomes_an_http_request_with_the_location_as_prepared_path() {
        let new = parse(valid()).unwrap();
        assert_eq!(new.backup_job_id.as_str(), "job-17");
        assert_eq!(new.data_date.to_string(), "2022-05-30");
        assert_eq!(new.prepared_data_path_name.as_str(), "/prepared/job-17/2022-05-30");
        assert_eq!(new.transport_type_code, TransportTypeCode::Http);
    }

    #[test]
    fn every_bad_field_is_named_as_the_caller_spelled_it() {
        let mut body = valid();
        body["backupJobId"] = json!(17);
        body["dataDate"] = json!("2022-02-30");
        body["backupDataLocation"] = json!("x".repeat(251));
        let error = parse(body).unwrap_err();
        assert_eq!(error.code, ErrorCode::BadData);
        assert_eq!(
            error.message,
            "backupJobId must be a string; dataDate must be a calendar date in the form YYYY-MM-DD; \
             backupDataLocation must be at most 250 characters"
        );
    }

    #[test]
    fn a_null_field_counts_as_missing() {
        let mut body = valid();
        body["dataDate"] = Value::Null;
        assert_eq!(parse(body).unwrap_err().message, "dataDate is required");
    }

    #[test]
    fn the_api_version_is_checked_before_the_fields() {
        let error = parse(json!({"apiVersion": "2020-01-01"})).unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidApiVersion);
        assert!(error.message.contains("apiVersion"));
    }

    #[test]
    fn a_body_that_is_not_a_json_object_is_invalid_json() {
        for body in [&b"{not json"[..], b"[1,2]", b"", b"\"text\""] {
            let error = parse_new_request(body, RequesterId::anonymous()).unwrap_err();
            assert_eq!(error.code, ErrorCode::InvalidJson, "{body:?}");
        }
    }

    mod properties {
        #![allow(clippy::unwrap_used)]
        use proptest::prelude::*;

        use super::*;

        fn text() -> impl Strategy<Value = Value> {
            prop_oneof![
                4 => ".{0,60}".prop_map(Value::from),
                1 => "[a-z]{250,260}".prop_map(Value::from),
                1 => any::<i64>().prop_map(Value::from),
                1 => Just(Value::Null),
            ]
        }

        /// Bodies that are often, but not always, acceptable.
        fn body() -> impl Strategy<Value = Vec<u8>> {
            let date = prop_oneof![
                (1900i32..2200, 1u32..13, 1u32..32).prop_map(|(y, m, d)| Value::from(format!("{y:04}-{m:02}-{d:02}"))),
                text(),
            ];
            (prop_oneof![3 => Just(Value::from(API_VERSION)), 1 => text()], text(), date, text())
                .prop_map(|(version, job, date, location)| {
                    json!({ "apiVersion": version, "backupJobId": job, "dataDate": date, "backupDataLocation": location })
                        .to_string()
                        .into_bytes()
                })
        }

        proptest! {
            #[test]
            fn any_bytes_parse_or_are_refused_without_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
                let _ = parse_new_request(&bytes, RequesterId::anonymous());
            }

            #[test]
            fn every_accepted_body_round_trips(bytes in body()) {
                if let Ok(new) = parse_new_request(&bytes, RequesterId::anonymous()) {
                    let again = json!({
                        "apiVersion": API_VERSION,
                        "backupJobId": new.backup_job_id.as_str(),
                        "dataDate": new.data_date.to_string(),
                        "backupDataLocation": new.prepared_data_path_name.as_str(),
                    });
                    prop_assert_eq!(parse(again).unwrap(), new);
                }
            }
        }
    }
}
