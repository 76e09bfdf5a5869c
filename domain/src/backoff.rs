//! The two backoff schedules.
//!
//! - The retry schedule of messages (SPEC §4): capped exponential backoff
//!   with jitter, a pure function of the attempt and a random sample, so
//!   that every bus computes the same delays and tests can check the
//!   schedule without clocks.
//! - `Backoff`, the pauses of a loop that waits for a dependency to come
//!   back or for work to arrive: doubling up to a cap, starting over once it
//!   worked. Every such loop of every process uses it.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

/// How retried messages are spaced out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// The delay before the second attempt.
    pub base: Duration,
    /// No backoff grows past this (before jitter).
    pub cap: Duration,
    /// The fraction (0 to 1) by which a delay is spread up or down, so that
    /// messages that failed together do not all come back together.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { base: Duration::from_secs(1), cap: Duration::from_secs(600), jitter: 0.2 }
    }
}

impl RetryPolicy {
    /// The shortest and longest delay `retry_delay` can give after `attempt`.
    pub fn bounds(&self, attempt: u32) -> (Duration, Duration) {
        (retry_delay(attempt, self, 0.0), retry_delay(attempt, self, 1.0))
    }
}

/// How long a message that failed its `attempt`-th delivery (1 = the first)
/// waits before the next: `min(cap, base · 2^(attempt-1))`, spread by
/// `± policy.jitter` of itself. `sample` is a uniform random number in
/// `[0, 1]` (0 gives the low end, 1 the high end); values outside are clamped.
pub fn retry_delay(attempt: u32, policy: &RetryPolicy, sample: f64) -> Duration {
    let doublings = attempt.saturating_sub(1).min(63);
    let factor = 2u64.checked_pow(doublings).unwrap_or(u64::MAX);
    let base_ms = u64::try_from(policy.base.as_millis()).unwrap_or(u64::MAX);
    let cap_ms = u64::try_from(policy.cap.as_millis()).unwrap_or(u64::MAX);
    let backoff_ms = base_ms.saturating_mul(factor).min(cap_ms);
    let jitter = if policy.jitter.is_finite() { policy.jitter.clamp(0.0, 1.0) } else { 0.0 };
    let sample = if sample.is_finite() { sample.clamp(0.0, 1.0) } else { 0.5 };
    let spread = 1.0 + jitter * (2.0 * sample - 1.0);
    // Milliseconds well below 2^53 stay exact as f64.
    Duration::from_millis((backoff_ms as f64 * spread).round() as u64)
}

/// The pauses of a loop that waits out an outage or an empty queue: `first`,
/// then twice the last pause, up to `cap`, never giving up; `reset` starts
/// over once the loop got through. No jitter: these loops are one per
/// process, not a herd of messages.
#[derive(Debug)]
pub struct Backoff {
    builder: ExponentialBuilder,
    cap: Duration,
    pauses: ExponentialBackoff,
}

impl Backoff {
    /// A `cap` below `first` means every pause is `first`.
    pub fn new(first: Duration, cap: Duration) -> Self {
        let cap = cap.max(first);
        let builder = ExponentialBuilder::new()
            .with_min_delay(first)
            .with_max_delay(cap)
            .with_factor(2.0)
            .without_max_times();
        Self { builder, cap, pauses: builder.build() }
    }

    /// The pause before the next try.
    pub fn next_pause(&mut self) -> Duration {
        let pause = self.pauses.next().unwrap_or(self.cap);
        // backon doubles in f32 seconds, a few nanoseconds off; whole
        // milliseconds keep the schedule exact (100, 200, 400 ms).
        Duration::from_millis(u64::try_from((pause.as_nanos() + 500_000) / 1_000_000).unwrap_or(u64::MAX))
    }

    /// The next pause is `first` again.
    pub fn reset(&mut self) {
        self.pauses = self.builder.build();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pauses(backoff: &mut Backoff, count: usize) -> Vec<u128> {
        (0..count).map(|_| backoff.next_pause().as_millis()).collect()
    }

    #[test]
    fn backoff_doubles_up_to_its_ceiling_and_starts_over_when_reset() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        assert_eq!(pauses(&mut backoff, 4), [100, 200, 350, 350]);
        backoff.reset();
        assert_eq!(backoff.next_pause(), Duration::from_millis(100));
    }

    #[test]
    fn backoff_pauses_are_whole_milliseconds_and_never_end() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(15));
        assert_eq!(pauses(&mut backoff, 10), [100, 200, 400, 800, 1600, 3200, 6400, 12_800, 15_000, 15_000]);
        assert!(pauses(&mut backoff, 1000).iter().all(|&pause| pause == 15_000));
    }

    #[test]
    fn a_backoff_whose_cap_is_below_its_first_pause_keeps_the_first() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(50));
        assert_eq!(pauses(&mut backoff, 3), [100, 100, 100]);
    }

    fn policy() -> RetryPolicy {
        RetryPolicy { base: Duration::from_millis(100), cap: Duration::from_secs(5), jitter: 0.2 }
    }

    #[test]
    fn without_jitter_the_delay_doubles_with_each_attempt_until_the_cap() {
        let steady = RetryPolicy { jitter: 0.0, ..policy() };
        let delays: Vec<u64> = (1..=10).map(|a| retry_delay(a, &steady, 0.3).as_millis() as u64).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000]);
    }

    #[test]
    fn the_middle_sample_gives_the_plain_backoff() {
        assert_eq!(retry_delay(3, &policy(), 0.5), Duration::from_millis(400));
    }

    #[test]
    fn every_jittered_delay_stays_within_its_bounds_and_they_spread() {
        let policy = policy();
        for attempt in 1..=12 {
            let (low, high) = policy.bounds(attempt);
            let plain = retry_delay(attempt, &RetryPolicy { jitter: 0.0, ..policy }, 0.0);
            assert_eq!(low, plain.mul_f64(0.8), "attempt {attempt}");
            assert_eq!(high, plain.mul_f64(1.2), "attempt {attempt}");
            let delays: Vec<Duration> = (0..=1000).map(|i| retry_delay(attempt, &policy, f64::from(i) / 1000.0)).collect();
            assert!(delays.iter().all(|d| (low..=high).contains(d)), "attempt {attempt}: {delays:?}");
            let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
            assert!(distinct.len() > 10, "attempt {attempt}: jitter must spread the delays");
        }
    }

    #[test]
    fn the_cap_holds_for_huge_attempt_numbers_and_odd_samples() {
        let policy = policy();
        for sample in [f64::NAN, -1.0, 2.0, f64::INFINITY] {
            let delay = retry_delay(u32::MAX, &policy, sample);
            assert!(delay <= Duration::from_secs(6), "{delay:?}");
        }
        assert_eq!(retry_delay(0, &RetryPolicy { jitter: 0.0, ..policy }, 0.5), Duration::from_millis(100));
    }
}
