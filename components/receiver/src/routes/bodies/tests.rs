//! The bodies answer the JSON the API always answered.

#![allow(clippy::unwrap_used)]

use chrono::{TimeZone, Utc};
use linebacker_domain::external::{API_VERSION, BackupJob, ResultTypeCode, StoreStatus};
use linebacker_domain::request::{NewBackupRequest, Retention};
use linebacker_domain::{
    BackupJobId, BackupProviderCode, BackupRequest, DataDate, PreparedDataPathName, RequesterId, StatusTypeCode,
    TransportTypeCode,
};
use serde_json::{Value, json};

use super::*;

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2022, 5, 31, 1, minute, 0).single().unwrap()
}

/// A request that went through every step up to a successful reply.
fn replied() -> BackupRequest {
    let mut request = BackupRequest::receive(
        NewBackupRequest {
            backup_job_id: BackupJobId::try_from("job-17").unwrap(),
            data_date: DataDate::try_from("2022-05-30").unwrap(),
            prepared_data_path_name: PreparedDataPathName::try_from("/prepared/job-17").unwrap(),
            transport_type_code: TransportTypeCode::Http,
            requester_id: RequesterId::try_from("client-1".to_owned()).unwrap(),
        },
        at(0),
    );
    let job = BackupJob {
        backup_job_id: BackupJobId::try_from("job-17").unwrap(),
        storage_path_name: "/store/job-17".into(),
        backup_provider_code: BackupProviderCode::CloudA,
        days_to_keep: 30,
        is_active: true,
        hold_flag: false,
    };
    request.allow(&job, at(1)).unwrap();
    request.mark_sent(at(2)).unwrap();
    request.record_reply(StatusTypeCode::Succeeded, Some("stored".into()), at(9)).unwrap();
    request
}

fn status(request: &BackupRequest) -> StoreStatus {
    StoreStatus {
        api_version: API_VERSION.into(),
        backup_request_id: request.backup_request_id().clone(),
        result_type_code: ResultTypeCode::Succeeded,
        storage_path_name: Some("/store/job-17/copy".into()),
        backup_byte_count: Some(4096),
        copy_start_timestamp: Some(at(3)),
        copy_end_timestamp: Some(at(5)),
        verify_start_timestamp: Some(at(6)),
        verify_end_timestamp: None,
        verified_hash: Some("sha256:abc".into()),
        message_text: Some("stored".into()),
    }
}

#[test]
fn a_request_is_answered_with_every_field_of_the_spec() {
    let request = replied();
    let body = serde_json::to_value(RequestBody::from(&request)).unwrap();
    assert_eq!(
        body,
        json!({
            "backupRequestId": request.backup_request_id().as_str(),
            "backupJobId": "job-17",
            "dataDate": "2022-05-30",
            "preparedDataPathName": "/prepared/job-17",
            "statusTypeCode": "Succeeded",
            "transportTypeCode": "HTTP",
            "requesterId": "client-1",
            "backupProviderCode": "CloudA",
            "storagePathName": "/store/job-17",
            "receivedTimestamp": "2022-05-31T01:00:00Z",
            "checkedTimestamp": "2022-05-31T01:01:00Z",
            "sentToInterfaceTimestamp": "2022-05-31T01:02:00Z",
            "replyTimestamp": "2022-05-31T01:09:00Z",
            "replyMessageText": "stored",
            "notAllowedReason": null,
        })
    );
    // The same JSON as the request's events carry, field for field.
    let body = serde_json::to_string(&RequestBody::from(&request)).unwrap();
    assert_eq!(body, serde_json::to_string(&request.snapshot()).unwrap());
}

#[test]
fn a_request_without_a_backup_is_answered_without_a_backup_field() {
    let request = replied();
    let view = BackupRequestView { request: request.clone(), backup: None };
    let json = serde_json::to_value(RequestViewBody::from(&view)).unwrap();
    assert!(json.get("backup").is_none());
    assert_eq!(json["backupRequestId"], request.backup_request_id().as_str());
}

#[test]
fn a_request_with_its_backup_is_answered_with_the_backup_under_backup() {
    let request = replied();
    let backup = Backup::from_reply(&request, Retention { days_to_keep: 30, hold_flag: true }, &status(&request)).unwrap();
    let view = BackupRequestView { request: request.clone(), backup: Some(backup.clone()) };
    let json = serde_json::to_value(RequestViewBody::from(&view)).unwrap();
    assert_eq!(json["statusTypeCode"], "Succeeded");
    assert_eq!(
        json["backup"],
        json!({
            "backupId": backup.backup_id,
            "backupRequestId": request.backup_request_id().as_str(),
            "backupJobId": "job-17",
            "dataDate": "2022-05-30",
            "backupProviderCode": "CloudA",
            "daysToKeepCount": 30,
            "holdFlag": true,
            "storagePathName": "/store/job-17/copy",
            "backupByteCount": 4096,
            "copyStartTimestamp": "2022-05-31T01:03:00Z",
            "copyEndTimestamp": "2022-05-31T01:05:00Z",
            "verifyStartTimestamp": "2022-05-31T01:06:00Z",
            "verifyEndTimestamp": null,
            "verifyHashText": "sha256:abc",
            "dueToDeleteDate": "2022-06-29",
        })
    );
}

#[test]
fn a_recovery_is_answered_with_its_summary() {
    let summary =
        RecoverySummary { cutoff: at(0), reemitted: 3, received: 1, allowed: 1, sent: 1, skipped: 2, batches: 1 };
    let json: Value = serde_json::to_value(RecoveryBody::from(&summary)).unwrap();
    assert_eq!(
        json,
        json!({ "cutoff": "2022-05-31T01:00:00Z", "reemitted": 3, "received": 1, "allowed": 1, "sent": 1, "skipped": 2, "batches": 1 })
    );
}
