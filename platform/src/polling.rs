//! Polling an external queue without busy loops: ask again at once while
//! there is work, back off (doubling up to a cap) while there is none or the
//! queue cannot be read, and reset as soon as something arrives.

use std::future::Future;
use std::time::Duration;

use linebacker_domain::backoff::Backoff;
use tokio_util::sync::CancellationToken;

/// Calls `poll` until `shutdown`; `poll` answers whether it found work.
pub async fn poll_with_backoff<F, Fut>(shutdown: &CancellationToken, start: Duration, max: Duration, mut poll: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let mut backoff = Backoff::new(start, max);
    while !shutdown.is_cancelled() {
        if poll().await {
            backoff.reset();
            continue;
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(backoff.next_pause()) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tokio::time::Instant;

    use super::*;

    /// The pauses before each poll, for a run of poll answers.
    async fn pauses(answers: &[bool]) -> Vec<Duration> {
        let shutdown = CancellationToken::new();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let mut remaining = answers.to_vec().into_iter();
        let stop = shutdown.clone();
        let seen = calls.clone();
        poll_with_backoff(&shutdown, Duration::from_millis(100), Duration::from_millis(500), move || {
            seen.lock().unwrap().push(Instant::now());
            let answer = remaining.next();
            if answer.is_none() {
                stop.cancel();
            }
            std::future::ready(answer.unwrap_or(false))
        })
        .await;
        let calls = calls.lock().unwrap();
        calls.windows(2).map(|pair| pair[1] - pair[0]).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn an_empty_queue_is_polled_less_and_less_often_up_to_the_cap() {
        let ms = |v: &[u64]| v.iter().map(|&m| Duration::from_millis(m)).collect::<Vec<_>>();
        assert_eq!(pauses(&[false, false, false, false, false]).await, ms(&[100, 200, 400, 500, 500]));
    }

    #[tokio::test(start_paused = true)]
    async fn work_is_asked_for_again_at_once_and_resets_the_backoff() {
        let ms = |v: &[u64]| v.iter().map(|&m| Duration::from_millis(m)).collect::<Vec<_>>();
        assert_eq!(pauses(&[false, false, true, true, false]).await, ms(&[100, 200, 0, 0, 100]));
    }
}
