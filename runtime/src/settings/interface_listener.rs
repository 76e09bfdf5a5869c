//! `interface_listener.*`: how the BZI's status queue is read.

use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Clone, Deserialize)]
pub struct InterfaceListenerSettings {
    /// Messages taken per poll (Azure allows 1 to 32).
    pub batch_size: u32,
    /// How long a taken message stays hidden from other listeners.
    pub visibility_timeout_secs: u64,
    /// A status message taken this often without being forwarded is parked.
    pub max_dequeue_count: u32,
    /// The longest pause between polls of an empty queue.
    pub idle_backoff_max_ms: u64,
}

impl InterfaceListenerSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=32).contains(&self.batch_size) {
            return Err(ConfigError::invalid("interface_listener.batch_size", "must be from 1 to 32"));
        }
        if self.visibility_timeout_secs == 0 {
            return Err(ConfigError::invalid("interface_listener.visibility_timeout_secs", "must be at least 1"));
        }
        Ok(())
    }

    /// How long a taken message stays hidden from other listeners.
    pub fn visibility_timeout(&self) -> Duration {
        Duration::from_secs(self.visibility_timeout_secs)
    }

    /// The longest pause between polls of an empty queue.
    pub fn idle_backoff_max(&self) -> Duration {
        Duration::from_millis(self.idle_backoff_max_ms)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::testing::{each_names_its_key, load};
    use super::*;

    #[test]
    fn the_durations_are_their_keys_in_their_units() {
        let settings = load(&[]).unwrap().interface_listener;
        assert_eq!(settings.visibility_timeout(), Duration::from_secs(60));
        assert_eq!(settings.idle_backoff_max(), Duration::from_secs(5));
    }

    #[test]
    fn settings_azure_would_refuse_name_their_key() {
        each_names_its_key(&[
            ("LINEBACKER__INTERFACE_LISTENER__BATCH_SIZE", "33"),
            ("LINEBACKER__INTERFACE_LISTENER__VISIBILITY_TIMEOUT_SECS", "0"),
        ]);
    }
}
