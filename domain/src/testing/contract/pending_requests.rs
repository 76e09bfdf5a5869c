//! `PendingRequests`: the requests waiting in linebacker (or, when asked,
//! overdue at the interface) last changed before a cutoff, paged by id; and
//! their re-emission, which stores each event once per cutoff and only while
//! its request still waits.

use chrono::TimeDelta;

use super::{Subject, id, tick};
use crate::event::EventType;
use crate::ports::{BackupRequestRepository, PendingRequests, Reemission, Waiting};
use crate::request::{BackupRequest, BackupRequestId, StatusTypeCode, now};
use crate::testing::fixtures::{advance, event, received, stored_in};

/// What the checks of this suite need of a store.
pub trait PendingStore: BackupRequestRepository + PendingRequests {}
impl<T: BackupRequestRepository + PendingRequests> PendingStore for T {}

/// The re-emission of a waiting request's next step.
fn reemission(request: &BackupRequest) -> Reemission {
    let event_type = match request.status() {
        StatusTypeCode::Received => EventType::BackupRequestReceived,
        _ => EventType::BackupRequestAllowed,
    };
    Reemission { expected: request.status(), event: event(event_type, request) }
}

fn sorted(mut ids: Vec<BackupRequestId>) -> Vec<BackupRequestId> {
    ids.sort();
    ids
}

/// Every request `pending_before` yields, page by page.
async fn every_page(store: &impl PendingStore, cutoff: chrono::DateTime<chrono::Utc>, page: u32) -> Vec<BackupRequestId> {
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let found = store.pending_before(Waiting::Any, cutoff, None, after.as_ref(), page).await.unwrap();
        assert!(found.len() <= page as usize);
        let Some(last) = found.last() else { break };
        after = Some(id(last).clone());
        seen.extend(found.iter().map(|request| id(request).clone()));
    }
    seen
}

pub async fn pending_requests_page_by_id_and_leave_out_other_statuses_and_recent_changes(
    subject: impl Subject<Store: PendingStore>,
) {
    let store = subject.acting_as("http-receiver-0");
    let mut pending = Vec::new();
    for _ in 0..3 {
        pending.push(id(&stored_in(&store, StatusTypeCode::Received).await).clone());
        pending.push(id(&stored_in(&store, StatusTypeCode::Allowed).await).clone());
    }
    for status in [StatusTypeCode::Sent, StatusTypeCode::NotAllowed, StatusTypeCode::Succeeded, StatusTypeCode::Cancelled] {
        stored_in(&store, status).await;
    }
    tick().await;
    let cutoff = now();
    tick().await;
    // Changed after the cutoff: the running system has it in hand.
    stored_in(&store, StatusTypeCode::Received).await;

    let seen = every_page(&store, cutoff, 4).await;

    assert_eq!(seen.len(), 6, "each pending request once: {seen:?}");
    assert_eq!(seen, sorted(seen.clone()), "in id order");
    assert_eq!(seen, sorted(pending));
}

pub async fn a_sent_request_is_pending_only_when_its_reply_is_overdue(subject: impl Subject<Store: PendingStore>) {
    let store = subject.acting_as("send-to-interface-0");
    let mut overdue = stored_in(&store, StatusTypeCode::Allowed).await;
    overdue.mark_sent(now() - TimeDelta::hours(1)).unwrap();
    store.update(&overdue, StatusTypeCode::Allowed, &[]).await.unwrap();
    stored_in(&store, StatusTypeCode::Sent).await;
    let mut replied = stored_in(&store, StatusTypeCode::Allowed).await;
    replied.mark_sent(now() - TimeDelta::hours(1)).unwrap();
    store.update(&replied, StatusTypeCode::Allowed, &[]).await.unwrap();
    advance(&mut replied, StatusTypeCode::Failed);
    store.update(&replied, StatusTypeCode::Sent, &[]).await.unwrap();
    tick().await;
    let cutoff = now();

    let sent_before = Some(now() - TimeDelta::minutes(30));
    let found = store.pending_before(Waiting::Any, cutoff, sent_before, None, 10).await.unwrap();
    assert_eq!(found, [overdue]);
    assert!(store.pending_before(Waiting::Any, cutoff, None, None, 10).await.unwrap().is_empty());
}

pub async fn re_emission_writes_the_events_keeps_the_status_and_happens_once_per_cutoff(
    subject: impl Subject<Store: PendingStore>,
) {
    let store = subject.acting_as("http-receiver-0");
    let waiting = stored_in(&store, StatusTypeCode::Received).await;
    let allowed = stored_in(&store, StatusTypeCode::Allowed).await;
    let moved_on = stored_in(&store, StatusTypeCode::Received).await;
    let batch = [reemission(&waiting), reemission(&allowed), reemission(&moved_on)];
    // Between the read and the write, a worker took a step.
    let mut stepped = moved_on.clone();
    advance(&mut stepped, StatusTypeCode::NotAllowed);
    store.update(&stepped, StatusTypeCode::Received, &[]).await.unwrap();
    tick().await;
    let cutoff = now();

    let done = store.reemit(cutoff, &batch).await.unwrap();

    assert_eq!(done, [id(&waiting).clone(), id(&allowed).clone()]);
    assert_eq!(subject.outbox().await, [batch[0].event.message_id, batch[1].event.message_id]);
    assert_eq!(store.find(id(&waiting)).await.unwrap(), Some(waiting));
    assert_eq!(store.find(id(&allowed)).await.unwrap(), Some(allowed));
    assert!(store.reemit(cutoff, &batch).await.unwrap().is_empty(), "a second call re-emitted");
    assert_eq!(subject.outbox().await.len(), 2);
    assert!(every_page(&store, cutoff, 10).await.is_empty(), "a re-emitted request counts as changed after the cutoff");
}

pub async fn a_cutoff_ahead_of_the_clock_still_re_emits_once(subject: impl Subject<Store: PendingStore>) {
    let store = subject.acting_as("http-receiver-0");
    let waiting = stored_in(&store, StatusTypeCode::Received).await;
    // The receiver's clock runs ahead of the store's.
    let cutoff = now() + TimeDelta::minutes(5);
    let batch = [reemission(&waiting)];

    assert_eq!(store.reemit(cutoff, &batch).await.unwrap(), [id(&waiting).clone()]);
    assert!(store.reemit(cutoff, &batch).await.unwrap().is_empty(), "a second call re-emitted");
    assert_eq!(subject.outbox().await.len(), 1);
    assert!(every_page(&store, cutoff, 10).await.is_empty());
}

pub async fn a_stalled_request_is_a_waiting_one_with_no_event_left_in_the_outbox(
    subject: impl Subject<Store: PendingStore>,
) {
    let store = subject.acting_as("http-receiver-0");
    let stored_with_its_event = || async {
        let request = received("job-1");
        store.create(&request, None, &[event(EventType::BackupRequestReceived, &request)]).await.unwrap();
        request
    };
    let relayed = stored_with_its_event().await;
    subject.relay_outbox().await;
    let in_flight = stored_with_its_event().await;
    tick().await;
    let cutoff = now();

    let stalled = store.pending_before(Waiting::Stalled, cutoff, None, None, 10).await.unwrap();
    let any = store.pending_before(Waiting::Any, cutoff, None, None, 10).await.unwrap();

    assert_eq!(stalled, [relayed.clone()], "only the request whose event left the outbox is stalled");
    let any: Vec<BackupRequestId> = any.iter().map(|request| id(request).clone()).collect();
    assert_eq!(any, sorted(vec![id(&relayed).clone(), id(&in_flight).clone()]));
}
