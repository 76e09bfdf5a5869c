//! `BackupRequestQueries`: a list is newest first (ties: greatest id first),
//! holds only what passes every filter, and its keyset pages return every
//! request that existed when the first page was read exactly once.

use std::collections::HashMap;

use chrono::TimeDelta;

use super::backup_request_repository::RequestStore;
use super::{Subject, id};
use crate::listing::{PageLimit, RequestFilter};
use crate::ports::BackupRequestQueries;
use crate::request::{BackupJobId, BackupRequest, BackupRequestId, StatusTypeCode, now};
use crate::testing::fixtures::{advance, received_by, requester};

/// Stores `request` as it stands: created, then stepped as far as it went.
async fn stored(store: &impl RequestStore, mut request: BackupRequest, status: StatusTypeCode) -> BackupRequest {
    store.create(&request, None, &[]).await.unwrap();
    if status != StatusTypeCode::Received {
        advance(&mut request, status);
        store.update(&request, StatusTypeCode::Received, &[]).await.unwrap();
    }
    request
}

pub async fn a_list_is_newest_first_and_holds_only_what_passes_every_filter(
    subject: impl Subject<Store: RequestStore>,
) {
    let store = subject.acting_as("http-receiver-0");
    let start = now() - TimeDelta::hours(1);
    let second = |n| start + TimeDelta::seconds(n);
    let first = stored(&store, received_by("job-a", "alice", second(0)), StatusTypeCode::Received).await;
    let allowed = stored(&store, received_by("job-b", "alice", second(1)), StatusTypeCode::Allowed).await;
    let bobs = stored(&store, received_by("job-a", "bob", second(2)), StatusTypeCode::Received).await;
    let alices = stored(&store, received_by("job-a", "alice", second(2)), StatusTypeCode::Received).await;
    // Received at the same instant: the greater id comes first.
    let (tied_first, tied_second) = if id(&bobs) > id(&alices) { (&bobs, &alices) } else { (&alices, &bobs) };

    let job_a = Some(BackupJobId::try_from("job-a").unwrap());
    let cases: Vec<(&str, RequestFilter, Vec<&BackupRequest>)> = vec![
        ("no filter", RequestFilter::default(), vec![tied_first, tied_second, &allowed, &first]),
        ("status", RequestFilter { status: Some(StatusTypeCode::Allowed), ..Default::default() }, vec![&allowed]),
        ("backupJobId", RequestFilter { backup_job_id: job_a.clone(), ..Default::default() }, vec![
            tied_first,
            tied_second,
            &first,
        ]),
        ("requesterId", RequestFilter { requester_id: Some(requester("bob")), ..Default::default() }, vec![&bobs]),
        ("receivedFrom, inclusive", RequestFilter { received_from: Some(second(1)), ..Default::default() }, vec![
            tied_first,
            tied_second,
            &allowed,
        ]),
        ("receivedTo, exclusive", RequestFilter { received_to: Some(second(1)), ..Default::default() }, vec![&first]),
        (
            "every filter",
            RequestFilter {
                status: Some(StatusTypeCode::Received),
                backup_job_id: job_a,
                requester_id: Some(requester("alice")),
                received_from: Some(second(0)),
                received_to: Some(second(3)),
            },
            vec![&alices, &first],
        ),
    ];
    for (name, filter, expected) in cases {
        let page = store.list(&filter, None, PageLimit::default()).await.unwrap();
        let expected: Vec<BackupRequest> = expected.into_iter().cloned().collect();
        assert_eq!(page.items, expected, "{name}");
        assert_eq!(page.next, None, "{name}: nothing follows");
    }
    let limit = PageLimit::try_from(2).unwrap();
    let page = store.list(&RequestFilter::default(), None, limit).await.unwrap();
    assert_eq!(page.items, [tied_first.clone(), tied_second.clone()]);
    assert!(page.next.is_some(), "more requests pass the filter");
    let rest = store.list(&RequestFilter::default(), page.next.as_ref(), limit).await.unwrap();
    assert_eq!(rest.items, [allowed.clone(), first.clone()]);
}

pub async fn paging_while_requests_arrive_returns_each_matching_request_exactly_once(
    subject: impl Subject<Store: RequestStore>,
) {
    let store = subject.acting_as("http-receiver-0");
    let start = now() - TimeDelta::hours(1);
    let mut expected = Vec::new();
    for i in 0..60 {
        let at = start + TimeDelta::milliseconds(i);
        expected.push(stored(&store, received_by("job-a", "alice", at), StatusTypeCode::Received).await);
        if i % 3 == 0 {
            stored(&store, received_by("job-b", "alice", at), StatusTypeCode::Received).await;
        }
    }
    let filter = RequestFilter { backup_job_id: Some(BackupJobId::try_from("job-a").unwrap()), ..Default::default() };
    let limit = PageLimit::try_from(7).unwrap();
    let mut seen: HashMap<BackupRequestId, usize> = HashMap::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = store.list(&filter, cursor.as_ref(), limit).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 7);
        for request in &page.items {
            assert!(filter.matches(request), "{request:?}");
            *seen.entry(id(request).clone()).or_default() += 1;
        }
        // New matching requests arrive between pages: they are newer than
        // the cursor, so this walk does not meet them.
        stored(&store, received_by("job-a", "alice", now()), StatusTypeCode::Received).await;
        stored(&store, received_by("job-b", "bob", now()), StatusTypeCode::Received).await;
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 9, "60 requests in pages of 7");
    assert_eq!(seen.len(), expected.len());
    for request in &expected {
        assert_eq!(seen.get(id(request)), Some(&1), "{}", id(request));
    }
}

pub async fn the_history_of_an_unknown_request_is_empty(subject: impl Subject<Store: RequestStore>) {
    let unknown = BackupRequestId::try_from("not-stored").unwrap();
    assert!(subject.acting_as("http-receiver-0").history(&unknown).await.unwrap().is_empty());
}
