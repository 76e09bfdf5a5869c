//! The contracts of the storage ports as suites of checks: each check states
//! MUST clauses of a port's rustdoc (`crate::ports`), and every
//! implementation of the port runs every check (`contract_suites!`), so the
//! in-memory store the use-case tests rely on behaves as PostgreSQL does.
//!
//! A check takes a fresh, empty `Subject` and uses only the ports, the
//! subject's handles and its outbox.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;

use crate::event::MessageId;
use crate::request::{BackupRequest, BackupRequestId};

pub mod backup_repository;
pub mod backup_request_queries;
pub mod backup_request_repository;
pub mod pending_requests;
pub mod recovery_lock;
pub mod request_retention;
pub mod request_traces;

/// An implementation under test, fresh and empty.
#[async_trait]
pub trait Subject: Send + Sync {
    type Store: Send + Sync + 'static;

    /// A handle on the store whose changes the history attributes to
    /// process instance `instance`. Every handle sees the same store.
    fn acting_as(&self, instance: &str) -> Self::Store;

    /// A handle on the store as it is when its database cannot be reached.
    fn unreachable(&self) -> Self::Store;

    /// The message ids of the events waiting in the outbox, in the order
    /// they were stored.
    async fn outbox(&self) -> Vec<MessageId>;

    /// Empties the outbox, as a relay does once the broker confirmed every
    /// event in it.
    async fn relay_outbox(&self);
}

/// One `#[tokio::test]` per check of each named suite, every one on a fresh
/// subject from `$fresh` (an `async fn() -> impl Subject`):
///
/// ```ignore
/// linebacker_domain::contract_suites!(fresh: backup_request_repository, recovery_lock);
/// ```
#[macro_export]
macro_rules! contract_suites {
    ($fresh:path: $($suite:ident),+ $(,)?) => {
        $( $crate::__contract_suite!($suite, $fresh); )+
    };
}

/// The checks of each suite. A check that is not listed here never runs.
#[doc(hidden)]
#[macro_export]
macro_rules! __contract_suite {
    (backup_request_repository, $fresh:path) => {
        $crate::__contract_tests!($fresh, backup_request_repository: [
            a_created_request_reads_back_equal_with_its_event_in_the_outbox_and_its_history,
            an_unknown_request_is_found_held_and_cancelled_as_none,
            racing_creates_with_one_idempotency_key_store_one_request,
            the_same_key_from_another_requester_is_another_request,
            an_update_lands_only_from_the_expected_status,
            updating_an_unknown_request_is_not_found,
            every_status_change_adds_one_history_entry_by_its_instance_and_a_resend_none,
            a_cancel_waits_for_a_held_request_and_then_finds_it_sent,
            a_dropped_hold_stores_nothing_and_lets_the_waiting_cancel_land,
            a_cancel_that_lands_first_leaves_the_holder_a_cancelled_request_and_its_detail_in_the_history,
            a_request_past_allowed_is_not_cancelled,
            a_database_that_cannot_be_reached_is_unavailable,
        ]);
    };
    (backup_request_queries, $fresh:path) => {
        $crate::__contract_tests!($fresh, backup_request_queries: [
            a_list_is_newest_first_and_holds_only_what_passes_every_filter,
            paging_while_requests_arrive_returns_each_matching_request_exactly_once,
            the_history_of_an_unknown_request_is_empty,
        ]);
    };
    (backup_repository, $fresh:path) => {
        $crate::__contract_tests!($fresh, backup_repository: [
            a_backup_is_recorded_with_its_step_once_and_reads_back_equal,
            a_backup_from_a_stale_status_is_a_conflict_and_stores_nothing,
            a_backup_for_an_unknown_request_is_not_found,
        ]);
    };
    (pending_requests, $fresh:path) => {
        $crate::__contract_tests!($fresh, pending_requests: [
            pending_requests_page_by_id_and_leave_out_other_statuses_and_recent_changes,
            a_sent_request_is_pending_only_when_its_reply_is_overdue,
            re_emission_writes_the_events_keeps_the_status_and_happens_once_per_cutoff,
            a_cutoff_ahead_of_the_clock_still_re_emits_once,
            a_stalled_request_is_a_waiting_one_with_no_event_left_in_the_outbox,
        ]);
    };
    (recovery_lock, $fresh:path) => {
        $crate::__contract_tests!($fresh, recovery_lock: [
            the_lock_is_exclusive_and_freed_when_its_holder_releases_it_or_goes_away,
        ]);
    };
    (request_retention, $fresh:path) => {
        $crate::__contract_tests!($fresh, request_retention: [
            past_terminal_requests_go_with_their_history_and_keys_and_backups_stay,
            pruning_takes_the_oldest_first_at_most_limit_and_counts_before_it_deletes,
            the_pruning_lock_is_exclusive_and_freed_by_its_holder,
        ]);
    };
    (request_traces, $fresh:path) => {
        $crate::__contract_tests!($fresh, request_traces: [
            a_request_keeps_the_trace_its_received_event_carries,
            an_unknown_request_or_one_stored_without_a_trace_has_none,
        ]);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __contract_tests {
    ($fresh:path, $suite:ident: [$($check:ident),+ $(,)?]) => {
        mod $suite {
            #[allow(unused_imports)]
            use super::*;

            $(
                #[tokio::test]
                async fn $check() {
                    $crate::testing::contract::$suite::$check($fresh().await).await;
                }
            )+
        }
    };
}

/// How long a change that must wait is given to (wrongly) finish.
const WAITING: Duration = Duration::from_millis(300);

/// How long what must happen soon (a lock freed by its holder's end) may take.
const SOON: Duration = Duration::from_secs(10);

/// The request's id. Checks read requests' fields only through helpers like
/// this one, so that a change of the request's shape is one edit.
fn id(request: &BackupRequest) -> &BackupRequestId {
    &request.backup_request_id()
}

/// Whether `future` is still unfinished after `WAITING`; it stays pinned
/// for the caller to finish later.
async fn still_waits<F: Future>(future: &mut Pin<Box<F>>) -> bool {
    tokio::time::timeout(WAITING, future).await.is_err()
}

/// Polls `attempt` every 50 ms until it yields `Some`, for at most `SOON`.
async fn soon<T, Fut: Future<Output = Option<T>>>(what: &str, mut attempt: impl FnMut() -> Fut) -> T {
    let deadline = tokio::time::Instant::now() + SOON;
    loop {
        if let Some(value) = attempt().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what} did not happen within {SOON:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A pause that puts what comes after it strictly later than what came
/// before, on the store's clock as on ours.
async fn tick() {
    tokio::time::sleep(Duration::from_millis(20)).await;
}

#[cfg(test)]
mod in_memory {
    use super::Subject;
    use crate::event::MessageId;
    use crate::testing::InMemoryStore;

    #[async_trait::async_trait]
    impl Subject for InMemoryStore {
        type Store = InMemoryStore;

        fn acting_as(&self, instance: &str) -> InMemoryStore {
            InMemoryStore::acting_as(self, instance)
        }

        fn unreachable(&self) -> InMemoryStore {
            let down = InMemoryStore::acting_as(self, "unreachable");
            down.down.store(true, std::sync::atomic::Ordering::SeqCst);
            down
        }

        async fn outbox(&self) -> Vec<MessageId> {
            InMemoryStore::outbox(self).iter().map(|event| event.message_id).collect()
        }

        async fn relay_outbox(&self) {
            InMemoryStore::relay_outbox(self);
        }
    }

    async fn fresh() -> InMemoryStore {
        InMemoryStore::default()
    }

    crate::contract_suites!(
        fresh: backup_request_repository,
        backup_request_queries,
        backup_repository,
        pending_requests,
        recovery_lock,
        request_retention,
        request_traces,
    );
}
