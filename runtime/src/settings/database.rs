//! `database.*`: where PostgreSQL is, how the connection uses TLS, and the
//! pool every adapter shares.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use linebacker_postgres::PgConfig;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sqlx::postgres::{PgConnectOptions, PgSslMode};

use super::{ConfigError, check_ca_file};

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    /// Its `sslmode` (`disable`, the default, `require`, `verify-ca` or
    /// `verify-full`) says whether and how the connection uses TLS.
    pub url: SecretString,
    /// Certificate authorities trusted beside the system's (PEM).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    pub max_connections: u32,
    pub acquire_timeout_ms: u64,
    /// Apply migrations at start (under the migrator's lock).
    pub migrate_on_start: bool,
}

impl DatabaseSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        self.connect_options()?;
        if self.max_connections == 0 {
            return Err(ConfigError::invalid("database.max_connections", "must be at least 1"));
        }
        Ok(())
    }

    /// The connection options of every pool and connection: the URL with
    /// its `sslmode`, and `ca_file`. With `require` and a CA file the server
    /// is verified too (as libpq does), the host name only with
    /// `verify-full`.
    pub fn connect_options(&self) -> Result<PgConnectOptions, ConfigError> {
        let url = self.url.expose_secret();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(ConfigError::invalid("database.url", "must be a postgres:// URL"));
        }
        let mut mode = ssl_mode(url)?;
        // The parser's own message could quote the URL, password included.
        let options = PgConnectOptions::from_str(url)
            .map_err(|_| ConfigError::invalid("database.url", "is not a valid PostgreSQL URL"))?;
        check_ca_file("database.ca_file", !matches!(mode, PgSslMode::Disable), self.ca_file.as_deref())?;
        let options = match &self.ca_file {
            Some(path) => {
                if matches!(mode, PgSslMode::Require) {
                    mode = PgSslMode::VerifyCa;
                }
                options.ssl_root_cert(path)
            }
            None => options,
        };
        Ok(options.ssl_mode(mode))
    }

    /// The pool's settings (TLS included). Infallible once the settings
    /// loaded: loading checked them.
    pub fn pool_options(&self) -> Result<PgConfig, ConfigError> {
        Ok(PgConfig {
            options: self.connect_options()?,
            max_connections: self.max_connections,
            acquire_timeout: Duration::from_millis(self.acquire_timeout_ms),
        })
    }
}

/// How a PostgreSQL connection uses TLS, from `sslmode` in `database.url`.
/// `prefer` and `allow` are refused: they fall back to plaintext.
fn ssl_mode(url: &str) -> Result<PgSslMode, ConfigError> {
    let query = url.split_once('?').map_or("", |(_, query)| query);
    let mode = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(name, _)| *name == "sslmode" || *name == "ssl-mode")
        .map(|(_, value)| value)
        .next_back();
    match mode {
        None | Some("disable") => Ok(PgSslMode::Disable),
        Some("require") => Ok(PgSslMode::Require),
        Some("verify-ca") => Ok(PgSslMode::VerifyCa),
        Some("verify-full") => Ok(PgSslMode::VerifyFull),
        Some(other) => Err(ConfigError::invalid(
            "database.url",
            format!(
                "has sslmode={other:?}; use disable, require, verify-ca or verify-full \
                 (prefer and allow would fall back to plaintext)"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn settings(url: &str) -> DatabaseSettings {
        DatabaseSettings {
            url: SecretString::from(url),
            ca_file: None,
            max_connections: 7,
            acquire_timeout_ms: 1500,
            migrate_on_start: false,
        }
    }

    #[test]
    fn pool_options_carry_the_url_the_pool_size_and_the_acquire_timeout() {
        let config = settings("postgres://app@db.example:5439/linebacker?sslmode=require").pool_options().unwrap();
        assert_eq!(config.options.get_host(), "db.example");
        assert_eq!(config.options.get_port(), 5439);
        assert_eq!(config.options.get_database(), Some("linebacker"));
        assert!(matches!(config.options.get_ssl_mode(), PgSslMode::Require));
        assert_eq!(config.max_connections, 7);
        assert_eq!(config.acquire_timeout, Duration::from_millis(1500));
    }

    #[test]
    fn pool_options_refuse_a_url_that_is_not_postgres_naming_database_url() {
        let error = settings("mysql://db.example/linebacker").pool_options().err().unwrap();
        assert!(error.to_string().contains("`database.url`"), "{error}");
    }
}
