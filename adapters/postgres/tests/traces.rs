//! The trace a request is received under, kept with it for the steps that
//! arrive without one (the BZI's status reply).

mod common;

use linebacker_domain::ports::{BackupRequestRepository, RequestTraces};
use linebacker_domain::request::{NewBackupRequest, now};
use linebacker_domain::{
    BackupRequest, BackupRequestId, DataDate, DomainEvent, EventType, RequesterId, TraceParent, TransportTypeCode,
};
use linebacker_postgres::Database;

async fn database() -> Database {
    common::migrated_database(4).await
}

fn request() -> BackupRequest {
    BackupRequest::receive(
        NewBackupRequest {
            backup_job_id: "job-1".try_into().unwrap(),
            data_date: DataDate::try_from("2022-05-30").unwrap(),
            prepared_data_path_name: "/prepared/x".try_into().unwrap(),
            transport_type_code: TransportTypeCode::Http,
            requester_id: RequesterId::anonymous(),
        },
        now(),
    )
}

#[tokio::test]
async fn a_request_keeps_the_trace_its_received_event_carries() {
    let store = database().await.store();
    let request = request();
    let trace = TraceParent::new_root();
    let event = DomainEvent::about(EventType::BackupRequestReceived, &request, Some(&trace));
    store.create(&request, None, &[event]).await.unwrap();
    let kept = store.trace_of(request.backup_request_id()).await.unwrap().unwrap();
    assert_eq!(kept.trace_id(), trace.trace_id());
}

#[tokio::test]
async fn an_unknown_request_or_one_without_a_trace_has_none() {
    let store = database().await.store();
    let request = request();
    let mut event = DomainEvent::about(EventType::BackupRequestReceived, &request, None);
    event.traceparent = None;
    store.create(&request, None, &[event]).await.unwrap();
    assert_eq!(store.trace_of(request.backup_request_id()).await.unwrap(), None);
    let unknown = BackupRequestId::try_from("not-stored").unwrap();
    assert_eq!(store.trace_of(&unknown).await.unwrap(), None);
}
