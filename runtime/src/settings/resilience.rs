//! How failures are met: `retry.*`, the backoff of retried messages (SPEC
//! §4), and `breaker.*`, when a dependency that keeps failing pauses
//! consumption.

use std::time::Duration;

use linebacker_domain::backoff::RetryPolicy;
use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Clone, Deserialize)]
pub struct BreakerSettings {
    /// Consecutive `Unavailable` answers of a dependency that open its breaker.
    pub failure_threshold: u32,
    /// How long an opened breaker first pauses consumption.
    pub open_ms: u64,
    /// The longest pause (it doubles after each failed probe).
    pub max_open_ms: u64,
}

/// What a circuit breaker is made with (`platform::breaker::Breaker`).
#[derive(Debug, Clone, Copy)]
pub struct BreakerConfig {
    /// Consecutive failures that open a closed breaker.
    pub failure_threshold: u32,
    /// How long the breaker first stays open.
    pub open_for: Duration,
    /// The longest open period.
    pub max_open_for: Duration,
}

impl BreakerSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.failure_threshold == 0 {
            return Err(ConfigError::invalid("breaker.failure_threshold", "must be at least 1"));
        }
        if self.open_ms == 0 || self.max_open_ms < self.open_ms {
            return Err(ConfigError::invalid("breaker.max_open_ms", "must be at least breaker.open_ms, which must be at least 1"));
        }
        Ok(())
    }

    /// Every breaker's configuration.
    pub fn config(&self) -> BreakerConfig {
        BreakerConfig {
            failure_threshold: self.failure_threshold,
            open_for: Duration::from_millis(self.open_ms),
            max_open_for: Duration::from_millis(self.max_open_ms),
        }
    }
}

/// The backoff of retried messages (SPEC §4): attempt `n` waits
/// `min(cap_ms, base_ms · 2^(n-1))`, spread by `± jitter` of itself, rounded
/// up to the next of `levels_ms` (the broker's delay queues).
#[derive(Debug, Clone, Deserialize)]
pub struct RetrySettings {
    pub base_ms: u64,
    pub cap_ms: u64,
    /// A fraction from 0 to 1.
    pub jitter: f64,
    /// The delay queues each work queue gets, in milliseconds.
    pub levels_ms: Vec<u64>,
}

impl RetrySettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.base_ms == 0 {
            return Err(ConfigError::invalid("retry.base_ms", "must be at least 1"));
        }
        if self.cap_ms < self.base_ms {
            return Err(ConfigError::invalid("retry.cap_ms", "must be at least retry.base_ms"));
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err(ConfigError::invalid("retry.jitter", "must be a fraction from 0 to 1"));
        }
        if self.levels_ms.is_empty() || self.levels_ms.contains(&0) {
            return Err(ConfigError::invalid("retry.levels_ms", "must list at least one delay, each at least 1"));
        }
        Ok(())
    }

    /// The backoff of retried messages, whichever bus carries them.
    pub fn policy(&self) -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(self.base_ms),
            cap: Duration::from_millis(self.cap_ms),
            jitter: self.jitter,
        }
    }

    /// The delays of the broker's delay queues, as listed.
    pub fn levels(&self) -> Vec<Duration> {
        self.levels_ms.iter().map(|ms| Duration::from_millis(*ms)).collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::testing::{each_names_its_key, load};
    use super::*;

    #[test]
    fn retry_settings_out_of_range_name_their_key() {
        let settings = load(&[]).unwrap();
        assert_eq!((settings.retry.base_ms, settings.retry.cap_ms, settings.retry.jitter), (1000, 600_000, 0.2));
        each_names_its_key(&[
            ("LINEBACKER__RETRY__JITTER", "1.5"),
            ("LINEBACKER__RETRY__BASE_MS", "0"),
            ("LINEBACKER__RETRY__CAP_MS", "10"),
        ]);
    }

    #[test]
    fn the_retry_policy_carries_base_cap_and_jitter_and_the_levels_their_delays() {
        let retry = RetrySettings { base_ms: 250, cap_ms: 8000, jitter: 0.3, levels_ms: vec![1000, 30_000] };
        assert_eq!(
            retry.policy(),
            RetryPolicy { base: Duration::from_millis(250), cap: Duration::from_secs(8), jitter: 0.3 }
        );
        assert_eq!(retry.levels(), [Duration::from_secs(1), Duration::from_secs(30)]);
    }

    #[test]
    fn the_breaker_config_carries_the_threshold_and_the_open_periods() {
        let config = BreakerSettings { failure_threshold: 4, open_ms: 1500, max_open_ms: 20_000 }.config();
        assert_eq!(config.failure_threshold, 4);
        assert_eq!(config.open_for, Duration::from_millis(1500));
        assert_eq!(config.max_open_for, Duration::from_secs(20));
    }

    #[test]
    fn breaker_settings_that_could_not_work_name_their_key() {
        each_names_its_key(&[
            ("LINEBACKER__BREAKER__FAILURE_THRESHOLD", "0"),
            ("LINEBACKER__BREAKER__MAX_OPEN_MS", "10"),
        ]);
    }
}
