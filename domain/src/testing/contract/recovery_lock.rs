//! `RecoveryLock`: one holder at a time among every handle on the store,
//! until the holder releases the lock or goes away.

use super::{Subject, soon};
use crate::ports::RecoveryLock;

pub async fn the_lock_is_exclusive_and_freed_when_its_holder_releases_it_or_goes_away(
    subject: impl Subject<Store: RecoveryLock>,
) {
    let (one, other) = (subject.acting_as("http-receiver-0"), subject.acting_as("http-receiver-1"));

    let held = one.try_lock().await.unwrap().expect("a free lock is taken");
    assert!(other.try_lock().await.unwrap().is_none(), "a second holder got the lock");
    assert!(one.try_lock().await.unwrap().is_none(), "the holder got the lock a second time");
    held.release().await;
    let again = other.try_lock().await.unwrap().expect("a released lock is taken again");
    // A holder that goes away without releasing: the lock frees.
    drop(again);
    let taken = soon("the dropped lock to free", || async { one.try_lock().await.unwrap() }).await;
    taken.release().await;
}
