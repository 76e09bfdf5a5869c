//! Start-up work that must not stop a process from running: applying
//! migrations and declaring the broker topology. Each is retried with a
//! capped backoff until it succeeds or the process stops, so a dependency
//! that is down at start shows as not ready for a while instead of a crash
//! loop under PM2.

use std::future::Future;
use std::time::Duration;

use linebacker_domain::DomainError;
use linebacker_domain::backoff::Backoff;
use tokio_util::sync::CancellationToken;

const FIRST_PAUSE: Duration = Duration::from_millis(250);
const MAX_PAUSE: Duration = Duration::from_secs(10);

/// Runs `attempt` until it succeeds (true) or `stop` is cancelled (false).
pub async fn retry_until_done<F, Fut>(what: &'static str, stop: CancellationToken, mut attempt: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), DomainError>>,
{
    let mut backoff = Backoff::new(FIRST_PAUSE, MAX_PAUSE);
    loop {
        let result = tokio::select! {
            result = attempt() => result,
            () = stop.cancelled() => return false,
        };
        let error = match result {
            Ok(()) => {
                tracing::info!("{what}: done");
                return true;
            }
            Err(error) => error,
        };
        let pause = backoff.next_pause();
        tracing::warn!(error = format!("{error:#}"), retry_in_ms = pause.as_millis() as u64, "{what} failed; will retry");
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = stop.cancelled() => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn retries_with_growing_pauses_until_the_attempt_succeeds() {
        let attempts = AtomicU32::new(0);
        let started = tokio::time::Instant::now();
        let done = retry_until_done("test", CancellationToken::new(), || async {
            if attempts.fetch_add(1, Ordering::SeqCst) < 3 {
                Err(DomainError::unavailable(anyhow::anyhow!("down")))
            } else {
                Ok(())
            }
        })
        .await;
        assert!(done);
        assert_eq!(attempts.load(Ordering::SeqCst), 4);
        // 250 + 500 + 1000 ms of pauses.
        assert_eq!(started.elapsed(), Duration::from_millis(1750));
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_when_the_process_stops() {
        let stop = CancellationToken::new();
        stop.cancel();
        let done = retry_until_done("test", stop, || async {
            Err(DomainError::unavailable(anyhow::anyhow!("down")))
        })
        .await;
        assert!(!done);
    }
}
