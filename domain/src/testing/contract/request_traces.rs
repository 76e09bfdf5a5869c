//! `RequestTraces`: a request keeps the trace its `BackupRequestReceived`
//! carried when it was created; an unknown request, or one stored without a
//! trace, has none.

use super::{Subject, id};
use crate::event::{DomainEvent, EventType};
use crate::ports::{BackupRequestRepository, RequestTraces};
use crate::request::BackupRequestId;
use crate::testing::fixtures::{event, received};
use crate::trace::TraceParent;

/// What the checks of this suite need of a store.
pub trait TracedStore: BackupRequestRepository + RequestTraces {}
impl<T: BackupRequestRepository + RequestTraces> TracedStore for T {}

pub async fn a_request_keeps_the_trace_its_received_event_carries(subject: impl Subject<Store: TracedStore>) {
    let store = subject.acting_as("http-receiver-0");
    let request = received("job-1");
    let trace = TraceParent::new_root();
    let created = DomainEvent::about(EventType::BackupRequestReceived, &request, Some(&trace));
    store.create(&request, None, &[created]).await.unwrap();

    let kept = store.trace_of(id(&request)).await.unwrap().expect("the request's trace is kept");
    assert_eq!(kept.trace_id(), trace.trace_id());
}

pub async fn an_unknown_request_or_one_stored_without_a_trace_has_none(subject: impl Subject<Store: TracedStore>) {
    let store = subject.acting_as("http-receiver-0");
    let request = received("job-1");
    store.create(&request, None, &[event(EventType::BackupRequestReceived, &request)]).await.unwrap();

    assert_eq!(store.trace_of(id(&request)).await.unwrap(), None);
    let unknown = BackupRequestId::try_from("not-stored").unwrap();
    assert_eq!(store.trace_of(&unknown).await.unwrap(), None);
}
