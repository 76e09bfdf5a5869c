//! `BackupRequestRepository` (with `BackupRequestQueries` to read the
//! history): a change and its events are stored both or neither, an update
//! lands only from the expected status, an idempotency key stores one request
//! however many race for it, a hold keeps every other change of its request
//! waiting, and every status change adds one history entry.

use std::collections::HashSet;

use super::{Subject, id, still_waits};
use crate::error::DomainError;
use crate::event::EventType;
use crate::listing::{PageLimit, RequestFilter};
use crate::ports::{BackupRequestQueries, BackupRequestRepository, Stored};
use crate::request::{IdempotencyKey, StatusTypeCode, now};
use crate::testing::fixtures::{advance, event, received, received_by, stored_in};

/// What the checks of this suite need of a store.
pub trait RequestStore: BackupRequestRepository + BackupRequestQueries {}
impl<T: BackupRequestRepository + BackupRequestQueries> RequestStore for T {}

/// The history of `request` as `(status, by, detail)`.
async fn steps(store: &impl RequestStore, id: &crate::request::BackupRequestId) -> Vec<(StatusTypeCode, String, Option<String>)> {
    let history = store.history(id).await.unwrap();
    assert!(history.windows(2).all(|w| w[0].at <= w[1].at), "the history is oldest first: {history:?}");
    history.into_iter().map(|change| (change.status, change.by, change.detail)).collect()
}

pub async fn a_created_request_reads_back_equal_with_its_event_in_the_outbox_and_its_history(
    subject: impl Subject<Store: RequestStore>,
) {
    let store = subject.acting_as("http-receiver-0");
    let request = received("job-1");
    let created = event(EventType::BackupRequestReceived, &request);

    assert_eq!(store.create(&request, None, std::slice::from_ref(&created)).await.unwrap(), Stored::Created);

    assert_eq!(store.find(id(&request)).await.unwrap(), Some(request.clone()));
    assert_eq!(subject.outbox().await, [created.message_id]);
    assert_eq!(steps(&store, id(&request)).await, [(StatusTypeCode::Received, "http-receiver-0".to_owned(), None)]);
}

pub async fn an_unknown_request_is_found_held_and_cancelled_as_none(subject: impl Subject<Store: RequestStore>) {
    let store = subject.acting_as("http-receiver-0");
    let unknown = crate::request::BackupRequestId::try_from("not-stored").unwrap();
    assert_eq!(store.find(&unknown).await.unwrap(), None);
    assert!(store.hold(&unknown).await.unwrap().is_none());
    assert_eq!(store.cancel(&unknown, "cancelled by ops").await.unwrap(), None);
    assert!(store.history(&unknown).await.unwrap().is_empty());
}

pub async fn racing_creates_with_one_idempotency_key_store_one_request(subject: impl Subject<Store: RequestStore>) {
    let store = subject.acting_as("http-receiver-0");
    let key = IdempotencyKey::try_from("same-key").unwrap();
    let attempts = (0..10).map(|_| async {
        let request = received("job-1");
        let outcome = store.create(&request, Some(&key), &[event(EventType::BackupRequestReceived, &request)]).await;
        (request, outcome.unwrap())
    });
    let outcomes = futures::future::join_all(attempts).await;

    let created: Vec<_> = outcomes.iter().filter(|(_, outcome)| *outcome == Stored::Created).collect();
    assert_eq!(created.len(), 1, "exactly one create wins");
    let winner = &created[0].0;
    let originals: HashSet<_> = outcomes
        .iter()
        .filter_map(|(_, outcome)| match outcome {
            Stored::Existing(original) => Some(id(original).clone()),
            Stored::Created => None,
        })
        .collect();
    assert_eq!(originals, HashSet::from([id(winner).clone()]), "every repeat sees the winner");

    // A later repeat, even of another body, stores nothing either: telling
    // the bodies apart is the use case's business.
    let other = received("job-2");
    let repeat = store.create(&other, Some(&key), &[event(EventType::BackupRequestReceived, &other)]).await.unwrap();
    assert_eq!(repeat, Stored::Existing(winner.clone()));
    let stored = store.list(&RequestFilter::default(), None, PageLimit::default()).await.unwrap();
    assert_eq!(stored.items, std::slice::from_ref(winner));
    assert_eq!(subject.outbox().await.len(), 1);
}

pub async fn the_same_key_from_another_requester_is_another_request(subject: impl Subject<Store: RequestStore>) {
    let store = subject.acting_as("http-receiver-0");
    let key = IdempotencyKey::try_from("k").unwrap();
    for requester in ["client-a", "client-b"] {
        let request = received_by("job-1", requester, now());
        assert_eq!(store.create(&request, Some(&key), &[]).await.unwrap(), Stored::Created);
    }
}

pub async fn an_update_lands_only_from_the_expected_status(subject: impl Subject<Store: RequestStore>) {
    let store = subject.acting_as("check-allowed-0");
    let mut request = received("job-1");
    store.create(&request, None, &[event(EventType::BackupRequestReceived, &request)]).await.unwrap();

    advance(&mut request, StatusTypeCode::Allowed);
    let allowed = event(EventType::BackupRequestAllowed, &request);
    store.update(&request, StatusTypeCode::Received, &[allowed]).await.unwrap();
    assert_eq!(store.find(id(&request)).await.unwrap(), Some(request.clone()), "every field is kept");
    assert_eq!(subject.outbox().await.len(), 2);

    // A second worker that read `Received` too loses, and writes nothing.
    let error = store
        .update(&request, StatusTypeCode::Received, &[event(EventType::BackupRequestAllowed, &request)])
        .await
        .unwrap_err();
    assert!(matches!(error, DomainError::Conflict { expected: StatusTypeCode::Received, .. }), "{error:?}");
    assert_eq!(subject.outbox().await.len(), 2);
    assert_eq!(store.history(id(&request)).await.unwrap().len(), 2);
}

pub async fn updating_an_unknown_request_is_not_found(subject: impl Subject<Store: RequestStore>) {
    let store = subject.acting_as("check-allowed-0");
    let mut request = received("job-1");
    advance(&mut request, StatusTypeCode::Allowed);
    let error = store
        .update(&request, StatusTypeCode::Received, &[event(EventType::BackupRequestAllowed, &request)])
        .await
        .unwrap_err();
    assert!(matches!(error, DomainError::NotFound(_)), "{error:?}");
    assert!(subject.outbox().await.is_empty());
}

pub async fn every_status_change_adds_one_history_entry_by_its_instance_and_a_resend_none(
    subject: impl Subject<Store: RequestStore>,
) {
    let (receiver, checker) = (subject.acting_as("http-receiver-0"), subject.acting_as("check-allowed-1"));
    let (sender, replies) = (subject.acting_as("send-to-interface-0"), subject.acting_as("receive-status-0"));
    let mut request = received("job-1");
    let mut events = vec![event(EventType::BackupRequestReceived, &request)];
    receiver.create(&request, None, &events).await.unwrap();
    advance(&mut request, StatusTypeCode::Allowed);
    events.push(event(EventType::BackupRequestAllowed, &request));
    checker.update(&request, StatusTypeCode::Received, &events[1..]).await.unwrap();
    let held = sender.hold(id(&request)).await.unwrap().unwrap();
    advance(&mut request, StatusTypeCode::Sent);
    events.push(event(EventType::BackupRequestSent, &request));
    held.save(&request, &events[2..]).await.unwrap();
    request.mark_resent(now()).unwrap();
    events.push(event(EventType::BackupRequestSent, &request));
    sender.update(&request, StatusTypeCode::Sent, &events[3..]).await.unwrap();
    advance(&mut request, StatusTypeCode::Failed);
    events.push(event(EventType::BackupRequestFailed, &request));
    replies.update(&request, StatusTypeCode::Sent, &events[4..]).await.unwrap();

    let entry = |status, by: &str, detail: Option<&str>| (status, by.to_owned(), detail.map(str::to_owned));
    assert_eq!(
        steps(&receiver, id(&request)).await,
        [
            entry(StatusTypeCode::Received, "http-receiver-0", None),
            entry(StatusTypeCode::Allowed, "check-allowed-1", None),
            entry(StatusTypeCode::Sent, "send-to-interface-0", None),
            entry(StatusTypeCode::Failed, "receive-status-0", Some("Failed")),
        ],
        "one entry per status change, none for the resend"
    );
    let ids: Vec<_> = events.iter().map(|event| event.message_id).collect();
    assert_eq!(subject.outbox().await, ids);

    let mut refused = received("job-2");
    receiver.create(&refused, None, &[]).await.unwrap();
    advance(&mut refused, StatusTypeCode::NotAllowed);
    checker.update(&refused, StatusTypeCode::Received, &[]).await.unwrap();
    let last = steps(&receiver, id(&refused)).await.pop();
    assert_eq!(last, Some(entry(StatusTypeCode::NotAllowed, "check-allowed-1", Some("backup job not found"))));
}

pub async fn a_cancel_waits_for_a_held_request_and_then_finds_it_sent(subject: impl Subject<Store: RequestStore>) {
    let receiver = subject.acting_as("http-receiver-0");
    let checker = subject.acting_as("check-allowed-1");
    let sender = subject.acting_as("send-to-interface-0");
    let mut request = received("job-1");
    receiver.create(&request, None, &[]).await.unwrap();
    advance(&mut request, StatusTypeCode::Allowed);
    checker.update(&request, StatusTypeCode::Received, &[]).await.unwrap();

    let held = sender.hold(id(&request)).await.unwrap().unwrap();
    assert_eq!(held.request(), &request);
    let mut cancel = Box::pin(receiver.cancel(id(&request), "cancelled by ops"));
    assert!(still_waits(&mut cancel).await, "the cancel must wait for the held request");
    let mut sent = held.request().clone();
    advance(&mut sent, StatusTypeCode::Sent);
    let step = event(EventType::BackupRequestSent, &sent);
    held.save(&sent, std::slice::from_ref(&step)).await.unwrap();
    assert_eq!(cancel.await.unwrap(), None, "a sent request is not cancelled");

    assert_eq!(sender.find(id(&request)).await.unwrap(), Some(sent));
    assert_eq!(subject.outbox().await, [step.message_id]);
    let history: Vec<_> = steps(&sender, id(&request)).await.into_iter().map(|(status, by, _)| (status, by)).collect();
    let entry = |status, by: &str| (status, by.to_owned());
    assert_eq!(
        history,
        [
            entry(StatusTypeCode::Received, "http-receiver-0"),
            entry(StatusTypeCode::Allowed, "check-allowed-1"),
            entry(StatusTypeCode::Sent, "send-to-interface-0"),
        ]
    );
}

pub async fn a_dropped_hold_stores_nothing_and_lets_the_waiting_cancel_land(
    subject: impl Subject<Store: RequestStore>,
) {
    let receiver = subject.acting_as("http-receiver-0");
    let sender = subject.acting_as("send-to-interface-0");
    let request = stored_in(&receiver, StatusTypeCode::Allowed).await;

    let held = sender.hold(id(&request)).await.unwrap().unwrap();
    let mut cancel = Box::pin(receiver.cancel(id(&request), "cancelled by ops"));
    assert!(still_waits(&mut cancel).await, "the cancel must wait for the held request");
    drop(held);
    let cancelled = cancel.await.unwrap().expect("the cancel lands once the hold is dropped");

    assert_eq!(cancelled.status(), StatusTypeCode::Cancelled);
    assert_eq!(receiver.find(id(&request)).await.unwrap(), Some(cancelled));
    assert!(subject.outbox().await.is_empty());
}

pub async fn a_cancel_that_lands_first_leaves_the_holder_a_cancelled_request_and_its_detail_in_the_history(
    subject: impl Subject<Store: RequestStore>,
) {
    let receiver = subject.acting_as("http-receiver-0");
    let request = stored_in(&receiver, StatusTypeCode::Received).await;
    let cancelled = receiver.cancel(id(&request), "cancelled by alice").await.unwrap().unwrap();
    assert_eq!(cancelled.status(), StatusTypeCode::Cancelled);
    assert_eq!(receiver.cancel(id(&request), "again").await.unwrap(), None);

    let held = subject.acting_as("send-to-interface-0").hold(id(&request)).await.unwrap().unwrap();
    assert_eq!(held.request(), &cancelled);
    drop(held);
    let history = steps(&receiver, id(&request)).await;
    assert_eq!(history.len(), 2);
    assert_eq!(
        history.last(),
        Some(&(StatusTypeCode::Cancelled, "http-receiver-0".to_owned(), Some("cancelled by alice".to_owned())))
    );
}

pub async fn a_request_past_allowed_is_not_cancelled(subject: impl Subject<Store: RequestStore>) {
    let store = subject.acting_as("http-receiver-0");
    for status in [StatusTypeCode::Sent, StatusTypeCode::NotAllowed, StatusTypeCode::Succeeded] {
        let request = stored_in(&store, status).await;
        let before = store.history(id(&request)).await.unwrap();
        assert_eq!(store.cancel(id(&request), "cancelled by ops").await.unwrap(), None, "{status}");
        assert_eq!(store.find(id(&request)).await.unwrap(), Some(request.clone()));
        assert_eq!(store.history(id(&request)).await.unwrap(), before);
    }
}

pub async fn a_database_that_cannot_be_reached_is_unavailable(subject: impl Subject<Store: RequestStore>) {
    let request = received("job-1");
    let error = subject.unreachable().create(&request, None, &[]).await.unwrap_err();
    assert!(matches!(error, DomainError::Unavailable(_)), "{error:?}");
    assert!(subject.acting_as("http-receiver-0").find(id(&request)).await.unwrap().is_none());
}
