//! `retention.*`: how long terminal requests are kept (SPEC §10), and how
//! the pruning passes that delete them are paced.

use std::collections::HashMap;
use std::time::Duration;

use linebacker_domain::StatusTypeCode;
use linebacker_domain::usecase::RetentionPolicy;
use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Clone, Deserialize)]
pub struct RetentionSettings {
    pub days: RetentionDays,
    /// Requests deleted per transaction.
    pub batch_size: u32,
    /// How often one receiver runs a pruning pass.
    pub interval_secs: u64,
    /// The pause between two batches of a pass, so that live traffic keeps
    /// the database's attention.
    pub batch_pause_ms: u64,
}

/// Days a terminal request is kept, per status, counted from its reply
/// (`Succeeded`, `Failed`), its check (`NotAllowed`) or its cancel
/// (`Cancelled`). The file's keys are the status names; environment
/// variables arrive lower-cased (`LINEBACKER__RETENTION__DAYS__FAILED`) and
/// override them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionDays {
    pub succeeded: u32,
    pub failed: u32,
    pub not_allowed: u32,
    pub cancelled: u32,
}

/// The statuses retention applies to, as the file names them.
const STATUSES: [&str; 4] = ["Succeeded", "Failed", "NotAllowed", "Cancelled"];

impl TryFrom<HashMap<String, u32>> for RetentionDays {
    type Error = String;

    fn try_from(days: HashMap<String, u32>) -> Result<Self, String> {
        if let Some(unknown) = days.keys().find(|key| !STATUSES.iter().any(|status| status.eq_ignore_ascii_case(key))) {
            return Err(format!("retention.days.{unknown} is not a terminal status (one of {})", STATUSES.join(", ")));
        }
        let of = |status: &str| {
            days.get(&status.to_ascii_lowercase())
                .or_else(|| days.get(status))
                .copied()
                .ok_or_else(|| format!("retention.days.{status} is missing"))
        };
        Ok(Self { succeeded: of("Succeeded")?, failed: of("Failed")?, not_allowed: of("NotAllowed")?, cancelled: of("Cancelled")? })
    }
}

impl<'de> Deserialize<'de> for RetentionDays {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        HashMap::<String, u32>::deserialize(deserializer)?.try_into().map_err(serde::de::Error::custom)
    }
}

impl RetentionSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.batch_size == 0 {
            return Err(ConfigError::invalid("retention.batch_size", "must be at least 1"));
        }
        if self.interval_secs == 0 {
            return Err(ConfigError::invalid("retention.interval_secs", "must be at least 1"));
        }
        Ok(())
    }

    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.interval_secs)
    }

    pub fn batch_pause(&self) -> Duration {
        Duration::from_millis(self.batch_pause_ms)
    }

    /// What a retention pass keeps and how it paces itself.
    pub fn policy(&self) -> RetentionPolicy {
        let days = self.days;
        RetentionPolicy {
            days: vec![
                (StatusTypeCode::Succeeded, days.succeeded),
                (StatusTypeCode::Failed, days.failed),
                (StatusTypeCode::NotAllowed, days.not_allowed),
                (StatusTypeCode::Cancelled, days.cancelled),
            ],
            batch_size: self.batch_size,
            batch_pause: self.batch_pause(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::testing::{each_names_its_key, load};

    #[test]
    fn the_days_of_each_status_come_from_the_file_and_the_environment() {
        let settings = load(&[("LINEBACKER__RETENTION__DAYS__FAILED", "0")]).unwrap();
        let days = settings.retention.days;
        assert_eq!((days.succeeded, days.failed, days.not_allowed, days.cancelled), (90, 0, 30, 30));
    }

    #[test]
    fn a_status_that_is_not_terminal_is_named() {
        let error = load(&[("LINEBACKER__RETENTION__DAYS__SENT", "1")]).unwrap_err().to_string();
        assert!(error.contains("retention.days.sent"), "{error}");
    }

    #[test]
    fn a_batch_of_zero_and_no_interval_name_their_key() {
        each_names_its_key(&[("LINEBACKER__RETENTION__BATCH_SIZE", "0"), ("LINEBACKER__RETENTION__INTERVAL_SECS", "0")]);
    }
}
