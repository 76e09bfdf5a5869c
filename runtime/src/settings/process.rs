//! How a process stops (`shutdown.*`), what the receiver recovers at start
//! (`recovery.*`), and how a worker treats one message (`worker.*`).

use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Clone, Deserialize)]
pub struct ShutdownSettings {
    /// How long a stopping process may take to finish in-flight work; below
    /// PM2's `kill_timeout` so that PM2 never has to SIGKILL.
    pub deadline_ms: u64,
}

impl ShutdownSettings {
    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct RecoverySettings {
    /// Re-emit requests left `Received`/`Allowed` when the receiver starts.
    pub on_start: bool,
    /// Requests re-emitted per second at most.
    pub per_second: u32,
    /// A `Sent` request without a reply for this long is sent to the
    /// interface again by recovery.
    pub resend_sent_after_secs: u64,
    /// How often one receiver sweeps for stalled requests (SPEC §9).
    pub sweep_interval_secs: u64,
    /// A request `Received` or `Allowed` for this long, with no event of it
    /// left in the outbox, is stalled: its message was lost.
    pub stalled_after_secs: u64,
}

impl RecoverySettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.per_second == 0 {
            return Err(ConfigError::invalid("recovery.per_second", "must be at least 1"));
        }
        if self.sweep_interval_secs == 0 {
            return Err(ConfigError::invalid("recovery.sweep_interval_secs", "must be at least 1"));
        }
        if self.stalled_after_secs == 0 {
            return Err(ConfigError::invalid("recovery.stalled_after_secs", "must be at least 1"));
        }
        Ok(())
    }

    /// How often the reconciliation sweep runs.
    pub fn sweep_interval(&self) -> Duration {
        Duration::from_secs(self.sweep_interval_secs)
    }

    /// How long a request waits in linebacker before the sweep re-emits it.
    pub fn stalled_after(&self) -> Duration {
        Duration::from_secs(self.stalled_after_secs)
    }

    /// How long a `Sent` request waits for its reply before it is sent again.
    pub fn resend_sent_after(&self) -> Duration {
        Duration::from_secs(self.resend_sent_after_secs)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct WorkerSettings {
    /// Deliveries of one message before it is dead-lettered.
    pub max_attempts: u32,
    /// How long a message may name a request the database does not have
    /// (its transaction may not be visible yet) before it is dead-lettered.
    pub not_found_grace_secs: u64,
}

impl WorkerSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_attempts == 0 {
            return Err(ConfigError::invalid("worker.max_attempts", "must be at least 1"));
        }
        Ok(())
    }

    /// How long a message naming an unknown request is retried.
    pub fn not_found_grace(&self) -> Duration {
        Duration::from_secs(self.not_found_grace_secs)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::testing::{each_names_its_key, load};
    use super::*;

    #[test]
    fn the_durations_are_their_keys_in_their_units() {
        let settings = load(&[
            ("LINEBACKER__SHUTDOWN__DEADLINE_MS", "2500"),
            ("LINEBACKER__RECOVERY__RESEND_SENT_AFTER_SECS", "90"),
            ("LINEBACKER__WORKER__NOT_FOUND_GRACE_SECS", "7"),
            ("LINEBACKER__RECOVERY__SWEEP_INTERVAL_SECS", "15"),
            ("LINEBACKER__RECOVERY__STALLED_AFTER_SECS", "45"),
        ])
        .unwrap();
        assert_eq!(settings.recovery.sweep_interval(), Duration::from_secs(15));
        assert_eq!(settings.recovery.stalled_after(), Duration::from_secs(45));
        assert_eq!(settings.shutdown.deadline(), Duration::from_millis(2500));
        assert_eq!(settings.shutdown_deadline(), Duration::from_millis(2500));
        assert_eq!(settings.recovery.resend_sent_after(), Duration::from_secs(90));
        assert_eq!(settings.worker.not_found_grace(), Duration::from_secs(7));
    }

    #[test]
    fn counts_of_zero_name_their_key() {
        each_names_its_key(&[
            ("LINEBACKER__RECOVERY__PER_SECOND", "0"),
            ("LINEBACKER__WORKER__MAX_ATTEMPTS", "0"),
            ("LINEBACKER__RECOVERY__SWEEP_INTERVAL_SECS", "0"),
            ("LINEBACKER__RECOVERY__STALLED_AFTER_SECS", "0"),
        ]);
    }
}
