//! `heartbeat.*`: how often processes tell each other they are alive.

use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;

/// Every process sends its health to the others this often (SPEC §7,
/// `healthz/all`); one not heard from for `stale_after_ms` is shown stale,
/// and one not heard from for `forget_after_ms` is no longer shown.
#[derive(Debug, Clone, Deserialize)]
pub struct HeartbeatSettings {
    pub interval_ms: u64,
    pub stale_after_ms: u64,
    pub forget_after_ms: u64,
}

impl HeartbeatSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.interval_ms < 100 {
            return Err(ConfigError::invalid("heartbeat.interval_ms", "must be at least 100"));
        }
        if self.stale_after_ms <= self.interval_ms {
            return Err(ConfigError::invalid("heartbeat.stale_after_ms", "must be longer than heartbeat.interval_ms"));
        }
        if self.forget_after_ms < self.stale_after_ms {
            return Err(ConfigError::invalid("heartbeat.forget_after_ms", "must be at least heartbeat.stale_after_ms"));
        }
        Ok(())
    }

    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms)
    }

    pub fn stale_after(&self) -> Duration {
        Duration::from_millis(self.stale_after_ms)
    }

    pub fn forget_after(&self) -> Duration {
        Duration::from_millis(self.forget_after_ms)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::testing::{each_names_its_key, load};
    use super::*;

    #[test]
    fn heartbeat_settings_that_could_not_work_name_their_key() {
        let settings = load(&[]).unwrap();
        assert_eq!(settings.heartbeat.interval(), Duration::from_secs(2));
        assert_eq!(settings.heartbeat.stale_after(), Duration::from_secs(6));
        each_names_its_key(&[
            ("LINEBACKER__HEARTBEAT__INTERVAL_MS", "10"),
            ("LINEBACKER__HEARTBEAT__STALE_AFTER_MS", "2000"),
            ("LINEBACKER__HEARTBEAT__FORGET_AFTER_MS", "1000"),
        ]);
    }
}
