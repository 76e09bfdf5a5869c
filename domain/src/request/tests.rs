use super::*;
use crate::field_error::FieldError;
use crate::testing::fixtures::{self, new_request};

fn job(provider: BackupProviderCode, path: &str) -> BackupJob {
    BackupJob {
        storage_path_name: path.into(),
        backup_provider_code: provider,
        hold_flag: true,
        ..fixtures::job("job-17", true)
    }
}

#[test]
fn backup_job_id_takes_1_to_50_characters() {
    assert!(BackupJobId::try_from("j").is_ok());
    assert!(BackupJobId::try_from("é".repeat(50)).is_ok());
    assert_eq!(BackupJobId::try_from("x".repeat(51)), Err(FieldError::TooLong { max: 50 }));
    assert_eq!(BackupJobId::try_from(""), Err(FieldError::Empty));
    assert_eq!(BackupJobId::try_from("   "), Err(FieldError::Empty));
    assert_eq!(BackupJobId::try_from("job\n1"), Err(FieldError::ControlCharacter));
}

#[test]
fn prepared_data_path_name_takes_1_to_250_characters() {
    assert!(PreparedDataPathName::try_from("/".repeat(250)).is_ok());
    assert_eq!(
        PreparedDataPathName::try_from("/".repeat(251)),
        Err(FieldError::TooLong { max: 250 })
    );
    assert_eq!(PreparedDataPathName::try_from(""), Err(FieldError::Empty));
}

#[test]
fn data_date_takes_only_real_calendar_dates_as_yyyy_mm_dd() {
    assert_eq!(DataDate::try_from("2024-02-29").map(|d| d.to_string()), Ok("2024-02-29".into()));
    for bad in ["2023-02-29", "2022-13-01", "2022-5-30", "30-05-2022", "2022/05/30", "", "2022-05-30T00:00:00Z", " 2022-05-30"] {
        assert_eq!(DataDate::try_from(bad), Err(FieldError::InvalidDate), "{bad:?}");
    }
}

#[test]
fn requester_id_may_be_empty_but_not_blank_or_too_long() {
    assert_eq!(RequesterId::try_from(String::new()), Ok(RequesterId::anonymous()));
    assert_eq!(RequesterId::try_from("  ".to_owned()), Err(FieldError::Empty));
    assert!(RequesterId::try_from("x".repeat(256)).is_err());
}

#[test]
fn idempotency_key_takes_1_to_100_characters() {
    assert!(IdempotencyKey::try_from("k".repeat(100)).is_ok());
    assert_eq!(IdempotencyKey::try_from("k".repeat(101)), Err(FieldError::TooLong { max: 100 }));
    assert_eq!(IdempotencyKey::try_from(""), Err(FieldError::Empty));
}

#[test]
fn codes_use_their_wire_spelling() {
    assert_eq!(TransportTypeCode::try_from("HTTP"), Ok(TransportTypeCode::Http));
    assert_eq!(TransportTypeCode::try_from("Queue"), Ok(TransportTypeCode::Queue));
    assert!(TransportTypeCode::try_from("http").is_err());
    assert_eq!(BackupProviderCode::try_from(""), Ok(BackupProviderCode::None));
    assert_eq!(BackupProviderCode::try_from("CloudB"), Ok(BackupProviderCode::CloudB));
    assert!(BackupProviderCode::try_from("CloudC").is_err());
}

#[test]
fn a_received_request_has_a_fresh_id_and_only_its_received_timestamp() {
    let at = now();
    let a = BackupRequest::receive(new_request("job-17"), at);
    let b = BackupRequest::receive(new_request("job-17"), at);
    assert_ne!(a.backup_request_id(), b.backup_request_id());
    assert_eq!(a.status(), StatusTypeCode::Received);
    assert_eq!(a.received_timestamp(), at);
    assert_eq!(a.checked_timestamp(), None);
    assert_eq!(a.backup_provider_code(), BackupProviderCode::None);
}

#[test]
fn allowing_copies_the_job_settings_and_stamps_the_check() {
    let mut request = BackupRequest::receive(new_request("job-17"), now());
    let at = now();
    request.allow(&job(BackupProviderCode::CloudA, "/store/a"), at).unwrap();
    assert_eq!(request.status(), StatusTypeCode::Allowed);
    assert_eq!(request.backup_provider_code(), BackupProviderCode::CloudA);
    assert_eq!(request.storage_path_name().as_deref(), Some("/store/a"));
    assert_eq!(request.checked_timestamp(), Some(at));
    assert_eq!(request.retention, Some(Retention { days_to_keep: 30, hold_flag: true }));
}

#[test]
fn a_refused_step_changes_nothing() {
    let mut request = BackupRequest::receive(new_request("job-17"), now());
    request.not_allow("backup job not found".into(), now()).unwrap();
    let before = request.clone();
    assert!(matches!(request.mark_sent(now()), Err(TransitionError::Illegal { .. })));
    assert!(matches!(
        request.allow(&job(BackupProviderCode::Local, "/x"), now()),
        Err(TransitionError::AlreadyDone { .. })
    ));
    assert_eq!(request, before);
}

#[test]
fn a_reply_records_its_time_and_text_and_only_succeeded_or_failed_are_replies() {
    let mut request = BackupRequest::receive(new_request("job-17"), now());
    assert!(request.record_reply(StatusTypeCode::Sent, None, now()).is_err());
    let at = now();
    request.record_reply(StatusTypeCode::Failed, Some("disk full".into()), at).unwrap();
    assert_eq!(request.status(), StatusTypeCode::Failed);
    assert_eq!(request.reply_timestamp(), Some(at));
    assert_eq!(request.reply_message_text().as_deref(), Some("disk full"));
    request.record_reply(StatusTypeCode::Succeeded, None, now()).unwrap();
    assert_eq!(request.status(), StatusTypeCode::Succeeded);
}

#[test]
fn the_json_form_uses_the_contract_field_names() {
    let request = BackupRequest::receive(new_request("job-17"), now());
    let json = serde_json::to_value(request.snapshot()).unwrap();
    for field in [
        "backupRequestId", "backupJobId", "dataDate", "preparedDataPathName", "statusTypeCode",
        "transportTypeCode", "requesterId", "backupProviderCode", "storagePathName",
        "receivedTimestamp", "checkedTimestamp", "sentToInterfaceTimestamp", "replyTimestamp",
        "replyMessageText", "notAllowedReason",
    ] {
        assert!(json.get(field).is_some(), "missing {field} in {json}");
    }
    assert_eq!(json["dataDate"], "2022-05-30");
    assert_eq!(json["statusTypeCode"], "Received");
    assert_eq!(json["transportTypeCode"], "HTTP");
    let back: RequestSnapshot = serde_json::from_value(json).unwrap();
    assert_eq!(back, request.snapshot());
}
