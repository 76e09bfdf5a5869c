//! `outbox.*`: how the relay moves the outbox into the broker.

use std::time::Duration;

use linebacker_postgres::RelayConfig;
use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Clone, Deserialize)]
pub struct OutboxSettings {
    /// How many events one relay pass publishes at most.
    pub batch_size: u32,
    /// The safety-net poll, for notifications lost while disconnected.
    pub poll_interval_ms: u64,
}

impl OutboxSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.batch_size == 0 {
            return Err(ConfigError::invalid("outbox.batch_size", "must be at least 1"));
        }
        if self.poll_interval_ms == 0 {
            return Err(ConfigError::invalid("outbox.poll_interval_ms", "must be at least 1"));
        }
        Ok(())
    }

    /// The outbox relay's settings.
    pub fn relay_config(&self) -> RelayConfig {
        RelayConfig { batch_size: self.batch_size, poll_interval: Duration::from_millis(self.poll_interval_ms) }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_relay_config_carries_the_batch_size_and_the_poll_interval() {
        let config = OutboxSettings { batch_size: 25, poll_interval_ms: 750 }.relay_config();
        assert_eq!(config.batch_size, 25);
        assert_eq!(config.poll_interval, Duration::from_millis(750));
    }
}
