//! Configuration (SPEC §7): `config/default.toml`, overridden by
//! `config/{APP_ENV}.toml`, overridden by `LINEBACKER__SECTION__KEY`
//! environment variables. Loaded and validated once at start; an invalid
//! value stops the process with a message that names the key.
//!
//! One submodule per section (or a few small related ones): its keys, the
//! checks that name them, and the factories that turn them into what the
//! adapters and loops take (`database.pool_options()`, `retry.policy()`,
//! `outbox.relay_config()`, ...), so that no caller converts milliseconds.

mod auth;
mod azure_queue;
mod backup_job_service;
mod database;
mod heartbeat;
mod http;
mod interface_listener;
mod outbox;
mod process;
mod rabbitmq;
mod resilience;
mod retention;
#[cfg(test)]
mod testing;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use auth::{AuthIssuer, AuthSettings};
pub use azure_queue::{AzureAuthMode, AzureMessageEncoding, AzureQueueSettings};
pub use backup_job_service::BackupJobServiceSettings;
pub use database::DatabaseSettings;
pub use heartbeat::HeartbeatSettings;
pub use http::{HttpSettings, ZpagesSettings};
pub use interface_listener::InterfaceListenerSettings;
pub use outbox::OutboxSettings;
pub use process::{RecoverySettings, ShutdownSettings, WorkerSettings};
pub use rabbitmq::{BusKind, BusSettings, RabbitmqSettings};
pub use resilience::{BreakerConfig, BreakerSettings, RetrySettings};
pub use retention::{RetentionDays, RetentionSettings};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("invalid configuration: `{key}` {reason}")]
    Invalid { key: &'static str, reason: String },
    #[error("invalid configuration: APP_ENV must be dev, test or production, not {0:?}")]
    AppEnv(String),
    #[error("configuration directory not found (set LINEBACKER_CONFIG_DIR); looked in {0}")]
    NoConfigDir(String),
}

impl ConfigError {
    /// `key` cannot be used, for `reason`.
    pub(crate) fn invalid(key: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid { key, reason: reason.into() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AppEnv {
    Dev,
    Test,
    Production,
}

impl AppEnv {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dev => "dev",
            Self::Test => "test",
            Self::Production => "production",
        }
    }

    fn parse(value: &str) -> Result<Self, ConfigError> {
        match value {
            "dev" => Ok(Self::Dev),
            "test" => Ok(Self::Test),
            "production" => Ok(Self::Production),
            other => Err(ConfigError::AppEnv(other.to_owned())),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// Not a key of the files: taken from `APP_ENV` (default `dev`).
    #[serde(skip_deserializing, default = "default_app_env")]
    pub app_env: AppEnv,
    /// Not a key of the files: PM2's `NODE_APP_INSTANCE` (default 0).
    #[serde(skip_deserializing)]
    pub instance: u16,
    pub http: HttpSettings,
    pub zpages: ZpagesSettings,
    pub database: DatabaseSettings,
    pub rabbitmq: RabbitmqSettings,
    #[serde(default)]
    pub bus: BusSettings,
    pub outbox: OutboxSettings,
    pub backup_job_service: BackupJobServiceSettings,
    pub azure_queue: AzureQueueSettings,
    pub auth: AuthSettings,
    pub shutdown: ShutdownSettings,
    pub recovery: RecoverySettings,
    pub retention: RetentionSettings,
    pub worker: WorkerSettings,
    pub retry: RetrySettings,
    pub breaker: BreakerSettings,
    pub interface_listener: InterfaceListenerSettings,
    pub heartbeat: HeartbeatSettings,
}

fn default_app_env() -> AppEnv {
    AppEnv::Dev
}

impl Settings {
    /// Loads the settings of this process from the config directory, `APP_ENV`,
    /// `NODE_APP_INSTANCE` and `LINEBACKER__*` variables.
    pub fn load() -> Result<Self, ConfigError> {
        let env: HashMap<String, String> = std::env::vars().collect();
        Self::load_from(&config_dir()?, &env)
    }

    /// Loads from `dir`, with `env` standing in for the process environment.
    pub fn load_from(dir: &Path, env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let app_env = AppEnv::parse(env.get("APP_ENV").map(String::as_str).unwrap_or("dev"))?;
        let overrides: HashMap<String, String> = env
            .iter()
            .filter(|(key, _)| key.starts_with("LINEBACKER__"))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        let mut settings: Settings = config::Config::builder()
            .add_source(config::File::from(dir.join("default.toml")))
            .add_source(config::File::from(dir.join(format!("{}.toml", app_env.as_str()))).required(false))
            .add_source(
                config::Environment::with_prefix("LINEBACKER")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    // The one list given as a variable: `a,b,c`.
                    .list_separator(",")
                    .with_list_parse_key("rabbitmq.urls")
                    .source(Some(overrides)),
            )
            .build()?
            .try_deserialize()?;
        settings.app_env = app_env;
        settings.instance = match env.get("NODE_APP_INSTANCE") {
            None => 0,
            Some(value) => value.parse().map_err(|_| {
                ConfigError::invalid("NODE_APP_INSTANCE", format!("must be a small whole number, not {value:?}"))
            })?,
        };
        settings.validate()?;
        Ok(settings)
    }

    /// Every section checks its own keys; the first invalid one stops the
    /// load.
    fn validate(&self) -> Result<(), ConfigError> {
        self.database.validate()?;
        self.rabbitmq.validate()?;
        self.azure_queue.validate()?;
        self.http.validate()?;
        self.outbox.validate()?;
        self.backup_job_service.validate()?;
        self.auth.validate(self.app_env)?;
        self.check_exposure()?;
        self.breaker.validate()?;
        self.worker.validate()?;
        self.retry.validate()?;
        self.interface_listener.validate()?;
        self.recovery.validate()?;
        self.retention.validate()?;
        self.heartbeat.validate()
    }

    /// In production an API without auth lets anyone who reaches it cancel
    /// requests and purge dead letters, so it may only listen on loopback
    /// (behind a proxy that authenticates, say).
    fn check_exposure(&self) -> Result<(), ConfigError> {
        if self.app_env != AppEnv::Production || self.auth.enabled || self.http.binds_loopback_only() {
            return Ok(());
        }
        Err(ConfigError::invalid(
            "auth.enabled",
            format!(
                "is false in production, so `http.host` must be a loopback address (127.0.0.1, ::1 or localhost), \
                 not {:?}; or turn auth on",
                self.http.host
            ),
        ))
    }

    /// `<process>-<instance>`: how the broker and logs name this process.
    pub fn process_name(&self, process: &str) -> String {
        format!("{process}-{}", self.instance)
    }

    /// The zpages port of a worker: base port + instance.
    pub fn zpages_port(&self) -> u16 {
        self.zpages.base_port.saturating_add(self.instance)
    }

    pub fn shutdown_deadline(&self) -> Duration {
        self.shutdown.deadline()
    }
}

/// `url` is an `http://` or `https://` URL, else `key` is invalid.
fn check_http_url(key: &'static str, url: &str) -> Result<(), ConfigError> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(ConfigError::invalid(key, "must be an http:// or https:// URL"))
    }
}

/// A CA file only means something on a TLS connection, and must hold
/// certificates: either mistake stops the process rather than be ignored.
fn check_ca_file(key: &'static str, tls: bool, ca_file: Option<&Path>) -> Result<(), ConfigError> {
    let Some(path) = ca_file else { return Ok(()) };
    if !tls {
        return Err(ConfigError::invalid(key, "is set, but its connection does not use TLS"));
    }
    linebacker_tls::read_certificates(path).map(drop).map_err(|reason| ConfigError::Invalid { key, reason })
}

/// The config directory: `LINEBACKER_CONFIG_DIR`, else `config/` of the
/// checkout the binary was built in (found from the binary's own path, so the
/// current directory does not matter), else the one this crate was built from.
pub fn config_dir() -> Result<PathBuf, ConfigError> {
    if let Ok(dir) = std::env::var("LINEBACKER_CONFIG_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let mut candidates = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        // target/{debug,release}/<bin> or target/debug/deps/<test>
        candidates.extend(exe.ancestors().skip(1).take(4).map(|dir| dir.join("config")));
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../config"));
    candidates
        .iter()
        .find(|dir| dir.join("default.toml").is_file())
        .cloned()
        .ok_or_else(|| {
            ConfigError::NoConfigDir(
                candidates.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "),
            )
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::Path;

    use secrecy::ExposeSecret;

    use super::testing::load;
    use super::*;

    #[test]
    fn the_defaults_are_the_spec_defaults() {
        let settings = load(&[]).unwrap();
        assert_eq!(settings.app_env, AppEnv::Dev);
        assert_eq!(settings.http.port, 8080);
        assert_eq!(settings.zpages.base_port, 9100);
        assert_eq!(settings.database.url.expose_secret(), "postgres://postgres@127.0.0.1:5432/linebacker");
        assert_eq!(settings.rabbitmq.url.expose_secret(), "amqp://guest:guest@127.0.0.1:5672/%2f");
        assert_eq!(settings.rabbitmq.exchange, "linebacker");
        // Unset, so that dev mode can tell it from a choice of RabbitMQ.
        assert_eq!(settings.bus.kind, None);
        assert_eq!(settings.bus.kind(), BusKind::Rabbitmq);
        assert_eq!(settings.backup_job_service.url, "http://127.0.0.1:8090");
        assert_eq!(settings.azure_queue.account_uri, "http://127.0.0.1:10001/devstoreaccount1");
        assert_eq!(settings.azure_queue.account_name, "devstoreaccount1");
        assert_eq!(settings.http.body_limit_bytes, 64 * 1024);
        assert!(!settings.auth.enabled, "auth is off in dev");
    }

    #[test]
    fn environment_variables_override_the_files() {
        let settings = load(&[
            ("LINEBACKER__HTTP__PORT", "18080"),
            ("LINEBACKER__BUS__KIND", "memory"),
            ("NODE_APP_INSTANCE", "3"),
        ])
        .unwrap();
        assert_eq!(settings.http.port, 18080);
        assert_eq!(settings.bus.kind(), BusKind::Memory);
        assert_eq!(settings.instance, 3);
        assert_eq!(settings.zpages_port(), 9103);
        assert_eq!(settings.process_name("check-allowed"), "check-allowed-3");
    }

    #[test]
    fn an_invalid_value_names_its_key() {
        let error = load(&[("LINEBACKER__HTTP__PORT", "eighty")]).unwrap_err().to_string();
        assert!(error.contains("http.port"), "{error}");
        let error = load(&[("LINEBACKER__DATABASE__URL", "mysql://x")]).unwrap_err().to_string();
        assert!(error.contains("database.url"), "{error}");
        let error = load(&[("LINEBACKER__BUS__KIND", "kafka")]).unwrap_err().to_string();
        assert!(error.contains("bus.kind"), "{error}");
        let error = load(&[("APP_ENV", "staging")]).unwrap_err().to_string();
        assert!(error.contains("APP_ENV"), "{error}");
    }

    #[test]
    fn tls_settings_that_would_not_be_used_or_could_not_work_name_their_key() {
        let tls_dir = linebacker_testkit::tls::tls_dir();
        let ca = tls_dir.join("ca.pem");
        let ca = ca.to_str().unwrap();
        for (vars, key) in [
            (vec![("LINEBACKER__DATABASE__CA_FILE", ca)], "database.ca_file"),
            (vec![("LINEBACKER__DATABASE__URL", "postgres://h/db?sslmode=prefer")], "database.url"),
            (vec![("LINEBACKER__DATABASE__URL", "postgres://h/db?sslmode=allow")], "database.url"),
            (
                vec![("LINEBACKER__DATABASE__URL", "postgres://h/db?sslmode=verify-full"), ("LINEBACKER__DATABASE__CA_FILE", "/nonexistent.pem")],
                "database.ca_file",
            ),
            (vec![("LINEBACKER__RABBITMQ__CA_FILE", ca)], "rabbitmq.ca_file"),
            (
                vec![("LINEBACKER__RABBITMQ__URL", "amqps://u:p@h:5671/%2f"), ("LINEBACKER__RABBITMQ__CERT_FILE", ca)],
                "rabbitmq.key_file",
            ),
            (vec![("LINEBACKER__BACKUP_JOB_SERVICE__CA_FILE", ca)], "backup_job_service.ca_file"),
            (vec![("LINEBACKER__AZURE_QUEUE__CA_FILE", ca)], "azure_queue.ca_file"),
            (
                vec![("LINEBACKER__AZURE_QUEUE__ACCOUNT_URI", "https://a.queue.core.windows.net"), ("LINEBACKER__AZURE_QUEUE__CA_FILE", "/nonexistent.pem")],
                "azure_queue.ca_file",
            ),
        ] {
            let error = load(&vars).unwrap_err().to_string();
            assert!(error.contains(&format!("`{key}`")), "{vars:?}: {error}");
        }
    }

    #[test]
    fn tls_settings_that_can_work_load() {
        let ca = linebacker_testkit::tls::tls_file("ca.pem");
        let ca = ca.to_str().unwrap();
        let settings = load(&[
            ("LINEBACKER__DATABASE__URL", "postgres://u:p@db.example/linebacker?sslmode=verify-full"),
            ("LINEBACKER__DATABASE__CA_FILE", ca),
            ("LINEBACKER__RABBITMQ__URL", "amqps://u:p@rabbit.example:5671/%2f"),
            ("LINEBACKER__RABBITMQ__CA_FILE", ca),
            ("LINEBACKER__BACKUP_JOB_SERVICE__URL", "https://jobs.example"),
            ("LINEBACKER__BACKUP_JOB_SERVICE__CA_FILE", ca),
            ("LINEBACKER__AZURE_QUEUE__ACCOUNT_URI", "https://acct.queue.core.windows.net"),
        ])
        .unwrap();
        assert_eq!(settings.rabbitmq.ca_file.as_deref(), Some(Path::new(ca)));
        settings.database.connect_options().unwrap();
    }

    #[test]
    fn secrets_are_not_printed() {
        let settings = load(&[("LINEBACKER__AZURE_QUEUE__ACCOUNT_KEY", "s3cr3t")]).unwrap();
        assert!(!format!("{settings:?}").contains("s3cr3t"));
    }
}
