//! Sample values for tests: requests, jobs, events and replies, valid by
//! construction, and requests taken (and stored) through the legal steps to
//! any status. Every test that needs "a request" builds it here, so that a
//! change of the request's shape is one edit.

use chrono::{DateTime, TimeZone, Utc};

use crate::event::{DomainEvent, EventType};
use crate::external::{API_VERSION, BackupJob, InterfaceRequest, ResultTypeCode, StoreStatus};
use crate::ports::BackupRequestRepository;
use crate::request::{
    Backup, BackupJobId, BackupProviderCode, BackupRequest, BackupRequestId, DataDate, NewBackupRequest, PreparedDataPathName,
    RequesterId, StatusTypeCode, TransportTypeCode, now,
};

/// A job storing on `CloudA` under `/store/{id}`, keeping backups 30 days.
pub fn job(id: &str, is_active: bool) -> BackupJob {
    BackupJob {
        backup_job_id: BackupJobId::try_from(id).unwrap(),
        storage_path_name: format!("/store/{id}"),
        backup_provider_code: BackupProviderCode::CloudA,
        days_to_keep: 30,
        is_active,
        hold_flag: false,
    }
}

/// What an anonymous caller asks for over HTTP: job `job_id`'s data of
/// 2022-05-30, prepared under `/prepared/x`.
pub fn new_request(job_id: &str) -> NewBackupRequest {
    NewBackupRequest {
        backup_job_id: BackupJobId::try_from(job_id).unwrap(),
        data_date: DataDate::try_from("2022-05-30").unwrap(),
        prepared_data_path_name: PreparedDataPathName::try_from("/prepared/x").unwrap(),
        transport_type_code: TransportTypeCode::Http,
        requester_id: RequesterId::anonymous(),
    }
}

pub fn requester(id: &str) -> RequesterId {
    RequesterId::try_from(id.to_owned()).unwrap()
}

/// `new_request(job_id)`, received just now.
pub fn received(job_id: &str) -> BackupRequest {
    BackupRequest::receive(new_request(job_id), now())
}

/// `new_request(job_id)` from `requester`, received at `at`.
pub fn received_by(job_id: &str, requester_id: &str, at: DateTime<Utc>) -> BackupRequest {
    BackupRequest::receive(NewBackupRequest { requester_id: requester(requester_id), ..new_request(job_id) }, at)
}

/// The statuses a received request passes on its way to `status`.
fn way_to(status: StatusTypeCode) -> &'static [StatusTypeCode] {
    use StatusTypeCode::*;
    match status {
        Received => &[],
        Allowed => &[Allowed],
        NotAllowed => &[NotAllowed],
        Sent => &[Allowed, Sent],
        Succeeded => &[Allowed, Sent, Succeeded],
        Failed => &[Allowed, Sent, Failed],
        Cancelled => &[Cancelled],
    }
}

/// Takes `request` one legal step on to `next`, as the use case of that
/// step would: allowed by an active `job`, not allowed because the job is
/// unknown, replied to with the status's name as the reply text.
pub fn advance(request: &mut BackupRequest, next: StatusTypeCode) {
    let at = now();
    let stepped = match next {
        StatusTypeCode::Received => panic!("no step leads to Received"),
        StatusTypeCode::Allowed => request.allow(&job(request.backup_job_id().as_str(), true), at),
        StatusTypeCode::NotAllowed => request.not_allow("backup job not found".into(), at),
        StatusTypeCode::Sent => request.mark_sent(at),
        StatusTypeCode::Succeeded | StatusTypeCode::Failed => request.record_reply(next, Some(next.to_string()), at),
        StatusTypeCode::Cancelled => request.cancel(),
    };
    stepped.unwrap();
}

/// A request of job `job-1` taken through the legal steps to `status`.
pub fn request_in(status: StatusTypeCode) -> BackupRequest {
    let mut request = received("job-1");
    for next in way_to(status) {
        advance(&mut request, *next);
    }
    request
}

/// A request of job `job-1` created in `store` and taken there, one stored
/// step at a time (without events), to `status`: as it reads back.
pub async fn stored_in(store: &(impl BackupRequestRepository + ?Sized), status: StatusTypeCode) -> BackupRequest {
    let mut request = received("job-1");
    store.create(&request, None, &[]).await.unwrap();
    for next in way_to(status) {
        let from = request.status();
        advance(&mut request, *next);
        store.update(&request, from, &[]).await.unwrap();
    }
    request
}

/// What send-to-interface puts on the BZI's queue for an allowed request.
pub fn interface_request() -> InterfaceRequest {
    InterfaceRequest::for_request(&request_in(StatusTypeCode::Allowed))
}

/// `interface_request`, for the request `id`.
pub fn interface_request_for(id: &str) -> InterfaceRequest {
    let mut request = interface_request();
    request.backup_request_id = BackupRequestId::try_from(id).unwrap();
    request
}

pub fn event(event_type: EventType, request: &BackupRequest) -> DomainEvent {
    DomainEvent::about(event_type, request, None)
}

/// A reply; a `Succeeded` one carries every field the rules need.
pub fn reply(request: &BackupRequest, result: ResultTypeCode) -> StoreStatus {
    let at = |minute| Utc.with_ymd_and_hms(2022, 5, 31, 1, minute, 0).single().unwrap();
    StoreStatus {
        api_version: API_VERSION.into(),
        backup_request_id: request.backup_request_id().clone(),
        result_type_code: result,
        storage_path_name: Some("/store/copied".into()),
        backup_byte_count: Some(4096),
        copy_start_timestamp: Some(at(0)),
        copy_end_timestamp: Some(at(5)),
        verify_start_timestamp: Some(at(6)),
        verify_end_timestamp: Some(at(7)),
        verified_hash: Some("sha256:abc".into()),
        message_text: Some(format!("{result}")),
    }
}

pub fn status_event(request: &BackupRequest, reply: &StoreStatus) -> DomainEvent {
    let mut event = DomainEvent::status_received(reply.clone(), None);
    event.backup_request_id = request.backup_request_id().clone();
    event
}

/// The Backup a `Succeeded` reply makes for an allowed request.
pub fn backup_for(request: &BackupRequest) -> Backup {
    let retention = request.retention().expect("an allowed request keeps its job's retention");
    Backup::from_reply(request, retention, &reply(request, ResultTypeCode::Succeeded)).unwrap()
}
