#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a failed step is the failure

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::TimeDelta;

use super::*;
use crate::request::now;
use crate::testing::fixtures::{job, received};
use crate::testing::{FakeLock, InMemoryStore, RecordingTimer};

struct Setup {
    store: Arc<InMemoryStore>,
    lock: Arc<FakeLock>,
    timer: Arc<RecordingTimer>,
    recover: RecoverPending,
}

fn setup(per_second: u32) -> Setup {
    let store = Arc::new(InMemoryStore::default());
    let lock = Arc::new(FakeLock::default());
    let timer = Arc::new(RecordingTimer::default());
    let recover = RecoverPending::new(store.clone(), lock.clone(), timer.clone(), per_second);
    Setup { store, lock, timer, recover }
}

fn an_hour_ago() -> DateTime<Utc> {
    now() - TimeDelta::hours(1)
}

/// A request in `status`, stored as last changed an hour ago.
fn stale(store: &InMemoryStore, status: StatusTypeCode) -> BackupRequest {
    let mut request = received("job-1");
    match status {
        StatusTypeCode::Received => {}
        StatusTypeCode::Allowed => request.allow(&job("job-1", true), now()).unwrap(),
        StatusTypeCode::Sent => {
            request.allow(&job("job-1", true), now()).unwrap();
            request.mark_sent(now()).unwrap();
        }
        StatusTypeCode::NotAllowed => request.not_allow("no".into(), now()).unwrap(),
        other => request.record_reply(other, None, now()).unwrap(),
    }
    store.put_touched(request.clone(), None, an_hour_ago());
    request
}

fn completed(outcome: Recovery) -> RecoverySummary {
    match outcome {
        Recovery::Completed(summary) => summary,
        Recovery::Busy => panic!("expected the pass to run"),
    }
}

#[tokio::test]
async fn received_and_allowed_requests_get_their_next_steps_event_again_and_keep_their_status() {
    let s = setup(100);
    let waiting_check = stale(&s.store, StatusTypeCode::Received);
    let waiting_send = stale(&s.store, StatusTypeCode::Allowed);
    for status in [StatusTypeCode::Sent, StatusTypeCode::NotAllowed, StatusTypeCode::Succeeded, StatusTypeCode::Failed] {
        stale(&s.store, status);
    }

    let summary = completed(s.recover.execute(now()).await.unwrap());

    assert_eq!((summary.reemitted, summary.received, summary.allowed, summary.skipped), (2, 1, 1, 0));
    let mut emitted: Vec<_> =
        s.store.outbox().into_iter().map(|e| (e.backup_request_id.to_string(), e.event_type.name())).collect();
    emitted.sort();
    let mut expected = vec![
        (waiting_check.backup_request_id().to_string(), EventType::BackupRequestReceived.name()),
        (waiting_send.backup_request_id().to_string(), EventType::BackupRequestAllowed.name()),
    ];
    expected.sort();
    assert_eq!(emitted, expected);
    assert_eq!(s.store.request(waiting_check.backup_request_id()).unwrap(), waiting_check);
    assert_eq!(s.store.request(waiting_send.backup_request_id()).unwrap(), waiting_send);
    assert!(!s.lock.is_held(), "the lock is freed after the pass");
}

#[tokio::test]
async fn a_request_changed_after_the_cutoff_is_left_to_the_running_system() {
    let s = setup(100);
    let cutoff = an_hour_ago() + TimeDelta::minutes(1);
    stale(&s.store, StatusTypeCode::Received);
    s.store.put(received("job-1"), None); // changed just now

    let summary = completed(s.recover.execute(cutoff).await.unwrap());

    assert_eq!(summary.reemitted, 1);
    assert_eq!(s.store.outbox().len(), 1);
}

#[tokio::test]
async fn a_second_pass_with_the_same_cutoff_re_emits_nothing() {
    let s = setup(100);
    for _ in 0..5 {
        stale(&s.store, StatusTypeCode::Received);
    }
    let cutoff = now();
    assert_eq!(completed(s.recover.execute(cutoff).await.unwrap()).reemitted, 5);
    assert_eq!(completed(s.recover.execute(cutoff).await.unwrap()).reemitted, 0);
    assert_eq!(s.store.outbox().len(), 5);
}

#[tokio::test(start_paused = true)]
async fn a_pass_over_several_pages_re_emits_each_request_exactly_once() {
    let s = setup(3);
    let requests: Vec<_> = (0..10).map(|_| stale(&s.store, StatusTypeCode::Allowed)).collect();

    let summary = completed(s.recover.execute(now()).await.unwrap());

    assert_eq!((summary.reemitted, summary.batches), (10, 4));
    let mut emitted: Vec<_> = s.store.outbox().into_iter().map(|e| e.backup_request_id.to_string()).collect();
    emitted.sort();
    let mut expected: Vec<_> = requests.iter().map(|r| r.backup_request_id().to_string()).collect();
    expected.sort();
    assert_eq!(emitted, expected);
}

#[tokio::test(start_paused = true)]
async fn re_emission_is_paced_to_per_second() {
    let s = setup(2);
    for _ in 0..10 {
        stale(&s.store, StatusTypeCode::Received);
    }
    let started = tokio::time::Instant::now();

    let summary = completed(s.recover.execute(now()).await.unwrap());

    // Five full batches of two, a second's pause between each and the next
    // (the next page is read while a batch is written), and none after the
    // last: the page behind it came back empty.
    assert_eq!(summary.reemitted, 10);
    let pauses = s.timer.pauses.lock().unwrap().clone();
    assert_eq!(pauses, vec![Duration::from_secs(1); 4]);
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_secs(4) && elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[tokio::test]
async fn a_pass_while_another_holds_the_lock_is_busy_and_emits_nothing() {
    let s = setup(100);
    stale(&s.store, StatusTypeCode::Received);
    let held = s.lock.try_lock().await.unwrap().unwrap();

    assert_eq!(s.recover.execute(now()).await.unwrap(), Recovery::Busy);
    assert!(s.store.outbox().is_empty());

    held.release().await;
    assert_eq!(completed(s.recover.execute(now()).await.unwrap()).reemitted, 1);
}

#[tokio::test]
async fn a_failed_pass_frees_the_lock_and_reports_the_outage() {
    let s = setup(100);
    stale(&s.store, StatusTypeCode::Received);
    s.store.down.store(true, Ordering::SeqCst);

    let error = s.recover.execute(now()).await.unwrap_err();

    assert!(error.is_transient(), "{error:?}");
    assert!(!s.lock.is_held());
    s.store.down.store(false, Ordering::SeqCst);
    assert_eq!(completed(s.recover.execute(now()).await.unwrap()).reemitted, 1);
}

#[tokio::test]
async fn a_sent_request_whose_reply_is_overdue_is_re_emitted_for_sending_again_only_when_asked() {
    let s = setup(100);
    let mut overdue = received("job-1");
    overdue.allow(&job("job-1", true), now()).unwrap();
    overdue.mark_sent(now() - TimeDelta::hours(3)).unwrap();
    s.store.put_touched(overdue.clone(), None, an_hour_ago());
    // Sent recently: its reply may still come.
    let recent = stale(&s.store, StatusTypeCode::Sent);

    let summary = completed(s.recover.execute(now()).await.unwrap());
    assert_eq!(summary.reemitted, 0, "without resending, Sent requests wait for their reply");

    let recover = RecoverPending::new(s.store.clone(), s.lock.clone(), s.timer.clone(), 100)
        .resending_sent_after(Duration::from_secs(2 * 3600));
    let summary = completed(recover.execute(now()).await.unwrap());
    assert_eq!((summary.reemitted, summary.sent), (1, 1));
    let outbox = s.store.outbox();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].event_type, EventType::BackupRequestAllowed);
    assert_eq!(outbox[0].backup_request_id, overdue.backup_request_id().clone());
    assert_ne!(&outbox[0].backup_request_id, recent.backup_request_id());
    assert_eq!(s.store.request(overdue.backup_request_id()).unwrap().status(), StatusTypeCode::Sent);
}

#[tokio::test]
async fn re_emitted_events_continue_each_requests_stored_trace() {
    let setup = setup(100);
    let traced = stale(&setup.store, StatusTypeCode::Received);
    let untraced = stale(&setup.store, StatusTypeCode::Allowed);
    let received_under = TraceParent::new_root();
    let traces = crate::testing::MapTraces(Some([(traced.backup_request_id().to_string(), received_under.clone())].into()));
    let recover = RecoverPending::new(setup.store.clone(), setup.lock.clone(), setup.timer.clone(), 100)
        .continuing_traces(Arc::new(traces));

    assert_eq!(completed(recover.execute(now()).await.unwrap()).reemitted, 2);

    let events = setup.store.outbox();
    let trace_of = |request: &BackupRequest| {
        events.iter().find(|e| &e.backup_request_id == request.backup_request_id()).unwrap().traceparent.clone().unwrap()
    };
    assert_eq!(trace_of(&traced).trace_id(), received_under.trace_id(), "the request's own trace goes on");
    assert_ne!(trace_of(&traced), received_under, "as its next hop");
    assert_ne!(trace_of(&untraced).trace_id(), received_under.trace_id(), "no stored trace: a new one");
}

#[tokio::test]
async fn a_trace_look_up_that_fails_does_not_hold_recovery_back() {
    let setup = setup(100);
    stale(&setup.store, StatusTypeCode::Received);
    let recover = RecoverPending::new(setup.store.clone(), setup.lock.clone(), setup.timer.clone(), 100)
        .continuing_traces(Arc::new(crate::testing::MapTraces(None)));
    assert_eq!(completed(recover.execute(now()).await.unwrap()).reemitted, 1);
    assert!(setup.store.outbox()[0].traceparent.is_some());
}

#[tokio::test]
async fn a_pass_of_only_stalled_requests_leaves_those_whose_event_is_still_in_the_outbox() {
    let s = setup(100);
    let lost = stale(&s.store, StatusTypeCode::Received);
    let first = completed(s.recover.execute(now()).await.unwrap());
    assert_eq!(first.reemitted, 1);
    // Its re-emitted event was not published yet: nothing is lost.
    let sweep = RecoverPending::new(s.store.clone(), s.lock.clone(), s.timer.clone(), 100).only_stalled();
    assert_eq!(completed(sweep.execute(now()).await.unwrap()).reemitted, 0);

    s.store.relay_outbox();
    let summary = completed(sweep.execute(now()).await.unwrap());

    assert_eq!(summary.reemitted, 1, "published and still waiting: its message was lost");
    assert_eq!(s.store.outbox()[0].backup_request_id, *lost.backup_request_id());
}
