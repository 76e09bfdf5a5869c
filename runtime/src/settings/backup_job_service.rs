//! `backup_job_service.*`: where the backup job service is and how long a
//! call to it may take.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{ConfigError, check_ca_file, check_http_url};

#[derive(Debug, Clone, Deserialize)]
pub struct BackupJobServiceSettings {
    pub url: String,
    pub timeout_ms: u64,
    /// For `https://`: certificate authorities trusted beside the system's.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

impl BackupJobServiceSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        check_http_url("backup_job_service.url", &self.url)?;
        check_ca_file("backup_job_service.ca_file", self.url.starts_with("https://"), self.ca_file.as_deref())
    }

    /// The bound of every call to the service.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_timeout_is_timeout_ms() {
        let settings = BackupJobServiceSettings { url: "http://jobs".to_owned(), timeout_ms: 2500, ca_file: None };
        assert_eq!(settings.timeout(), Duration::from_millis(2500));
    }
}
