//! Configuration (SPEC §7): `config/default.toml`, overridden by
//! `config/{APP_ENV}.toml`, overridden by `LINEBACKER__SECTION__KEY`
//! environment variables. Loaded and validated once at start; an invalid
//! value stops the process with a message that names the key.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sqlx::postgres::{PgConnectOptions, PgSslMode};

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
    pub bus: BusSettings,
    pub outbox: OutboxSettings,
    pub backup_job_service: BackupJobServiceSettings,
    pub azure_queue: AzureQueueSettings,
    pub auth: AuthSettings,
    pub shutdown: ShutdownSettings,
    pub recovery: RecoverySettings,
    pub worker: WorkerSettings,
    pub retry: RetrySettings,
    pub breaker: BreakerSettings,
    pub interface_listener: InterfaceListenerSettings,
    pub heartbeat: HeartbeatSettings,
}

fn default_app_env() -> AppEnv {
    AppEnv::Dev
}

#[derive(Debug, Clone, Deserialize)]
pub struct HttpSettings {
    pub host: String,
    pub port: u16,
    pub body_limit_bytes: usize,
    /// Seconds a 503 asks callers to wait (`Retry-After`).
    pub retry_after_secs: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ZpagesSettings {
    pub base_port: u16,
    /// The address a worker's zpages listen on; loopback unless an operator
    /// opens them to the network.
    pub bind: String,
}

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

#[derive(Debug, Clone, Deserialize)]
pub struct RabbitmqSettings {
    pub url: SecretString,
    pub exchange: String,
    pub queue_prefix: String,
    pub prefetch: u16,
    pub connect_timeout_ms: u64,
    pub confirm_timeout_ms: u64,
    /// For `amqps://`: certificate authorities trusted beside the system's.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// For `amqps://` brokers that ask for a client certificate (PEM), with
    /// its private key.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    #[serde(default)]
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BusKind {
    Rabbitmq,
    Memory,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BusSettings {
    pub kind: BusKind,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OutboxSettings {
    /// How many events one relay pass publishes at most.
    pub batch_size: u32,
    /// The safety-net poll, for notifications lost while disconnected.
    pub poll_interval_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BackupJobServiceSettings {
    pub url: String,
    pub timeout_ms: u64,
    /// For `https://`: certificate authorities trusted beside the system's.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AzureQueueSettings {
    pub account_uri: String,
    pub account_name: String,
    pub account_key: SecretString,
    pub timeout_ms: u64,
    /// Where linebacker sends allowed requests.
    pub requests_queue: String,
    /// Where the interface answers.
    pub statuses_queue: String,
    /// Where status messages that cannot be forwarded are parked.
    pub poison_queue: String,
    /// For `https://`: certificate authorities trusted beside the system's.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// `shared_key` (with `account_key`), `sas` (with `sas_token`) or
    /// `entra_id` (with `tenant_id`, `client_id`, `client_secret`).
    #[serde(default)]
    pub auth: AzureAuthMode,
    #[serde(default)]
    pub sas_token: Option<SecretString>,
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<SecretString>,
    /// Where Entra ID tokens come from.
    #[serde(default = "default_authority_url")]
    pub authority_url: String,
    /// `none` (SPEC §5) or `base64`, for a BZI whose SDK encodes messages.
    #[serde(default)]
    pub message_encoding: AzureMessageEncoding,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AzureMessageEncoding {
    #[default]
    None,
    Base64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AzureAuthMode {
    #[default]
    SharedKey,
    Sas,
    EntraId,
}

fn default_authority_url() -> String {
    "https://login.microsoftonline.com".to_owned()
}

impl AzureQueueSettings {
    /// The secrets `auth` needs are there, and a bearer token only travels
    /// over `https://`.
    fn check_auth(&self) -> Result<(), ConfigError> {
        let missing = |key: &'static str| ConfigError::Invalid { key, reason: format!("is required by azure_queue.auth = {:?}", self.auth) };
        let blank = |value: Option<&str>| value.is_none_or(|value| value.trim().is_empty());
        match self.auth {
            AzureAuthMode::SharedKey => Ok(()),
            AzureAuthMode::Sas if blank(self.sas_token.as_ref().map(ExposeSecret::expose_secret)) => {
                Err(missing("azure_queue.sas_token"))
            }
            AzureAuthMode::Sas => Ok(()),
            AzureAuthMode::EntraId => {
                if blank(self.tenant_id.as_deref()) {
                    return Err(missing("azure_queue.tenant_id"));
                }
                if blank(self.client_id.as_deref()) {
                    return Err(missing("azure_queue.client_id"));
                }
                if blank(self.client_secret.as_ref().map(ExposeSecret::expose_secret)) {
                    return Err(missing("azure_queue.client_secret"));
                }
                if !self.account_uri.starts_with("https://") {
                    return Err(ConfigError::Invalid {
                        key: "azure_queue.account_uri",
                        reason: "must be https:// with azure_queue.auth = entra_id (bearer tokens never go in clear)".to_owned(),
                    });
                }
                if !(self.authority_url.starts_with("https://") || self.authority_url.starts_with("http://")) {
                    return Err(ConfigError::Invalid { key: "azure_queue.authority_url", reason: "must be an http(s):// URL".to_owned() });
                }
                Ok(())
            }
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthIssuer {
    pub issuer: String,
    pub jwks_url: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthSettings {
    pub enabled: bool,
    pub audience: String,
    pub issuers: Vec<AuthIssuer>,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway_secs: u64,
    /// A token naming an unknown `kid` refetches its issuer's JWKS at most
    /// this often, so random `kid`s cannot make the receiver hammer it.
    pub jwks_min_refresh_secs: u64,
    /// The JWKS of every issuer is refetched in the background this often,
    /// so a rotated key is known before a token signed with it arrives.
    pub jwks_refresh_secs: u64,
    /// How long a client's scopes are cached after a lookup.
    pub client_cache_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ShutdownSettings {
    /// How long a stopping process may take to finish in-flight work; below
    /// PM2's `kill_timeout` so that PM2 never has to SIGKILL.
    pub deadline_ms: u64,
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
}

#[derive(Debug, Clone, Deserialize)]
pub struct WorkerSettings {
    /// Deliveries of one message before it is dead-lettered.
    pub max_attempts: u32,
    /// How long a message may name a request the database does not have
    /// (its transaction may not be visible yet) before it is dead-lettered.
    pub not_found_grace_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BreakerSettings {
    /// Consecutive `Unavailable` answers of a dependency that open its breaker.
    pub failure_threshold: u32,
    /// How long an opened breaker first pauses consumption.
    pub open_ms: u64,
    /// The longest pause (it doubles after each failed probe).
    pub max_open_ms: u64,
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
        Some(other) => Err(ConfigError::Invalid {
            key: "database.url",
            reason: format!(
                "has sslmode={other:?}; use disable, require, verify-ca or verify-full \
                 (prefer and allow would fall back to plaintext)"
            ),
        }),
    }
}

/// A CA file only means something on a TLS connection, and must hold
/// certificates: either mistake stops the process rather than be ignored.
fn check_ca_file(key: &'static str, tls: bool, ca_file: Option<&Path>) -> Result<(), ConfigError> {
    let Some(path) = ca_file else { return Ok(()) };
    if !tls {
        return Err(ConfigError::Invalid { key, reason: "is set, but its connection does not use TLS".to_owned() });
    }
    linebacker_tls::read_certificates(path).map(drop).map_err(|reason| ConfigError::Invalid { key, reason })
}

impl DatabaseSettings {
    /// The connection options of every pool and connection: the URL with
    /// its `sslmode`, and `ca_file`. With `require` and a CA file the server
    /// is verified too (as libpq does), the host name only with
    /// `verify-full`.
    pub fn connect_options(&self) -> Result<PgConnectOptions, ConfigError> {
        let url = self.url.expose_secret();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(ConfigError::Invalid { key: "database.url", reason: "must be a postgres:// URL".to_owned() });
        }
        let mut mode = ssl_mode(url)?;
        // The parser's own message could quote the URL, password included.
        let options = PgConnectOptions::from_str(url).map_err(|_| ConfigError::Invalid {
            key: "database.url",
            reason: "is not a valid PostgreSQL URL".to_owned(),
        })?;
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
}

impl RabbitmqSettings {
    /// `amqp://` or `amqps://`; the TLS files only with `amqps://`, each
    /// readable, the client certificate with its key.
    fn check_tls(&self) -> Result<(), ConfigError> {
        let url = self.url.expose_secret();
        let tls = url.starts_with("amqps://");
        if !(tls || url.starts_with("amqp://")) {
            return Err(ConfigError::Invalid { key: "rabbitmq.url", reason: "must be an amqp:// or amqps:// URL".to_owned() });
        }
        check_ca_file("rabbitmq.ca_file", tls, self.ca_file.as_deref())?;
        check_ca_file("rabbitmq.cert_file", tls, self.cert_file.as_deref())?;
        match (&self.cert_file, &self.key_file) {
            (Some(_), Some(key)) => linebacker_tls::check_private_key(key)
                .map_err(|reason| ConfigError::Invalid { key: "rabbitmq.key_file", reason }),
            (None, None) => Ok(()),
            (Some(_), None) => Err(ConfigError::Invalid { key: "rabbitmq.key_file", reason: "must be set with rabbitmq.cert_file".to_owned() }),
            (None, Some(_)) => Err(ConfigError::Invalid { key: "rabbitmq.cert_file", reason: "must be set with rabbitmq.key_file".to_owned() }),
        }
    }
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
                    .source(Some(overrides)),
            )
            .build()?
            .try_deserialize()?;
        settings.app_env = app_env;
        settings.instance = match env.get("NODE_APP_INSTANCE") {
            None => 0,
            Some(value) => value.parse().map_err(|_| ConfigError::Invalid {
                key: "NODE_APP_INSTANCE",
                reason: format!("must be a small whole number, not {value:?}"),
            })?,
        };
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        fn invalid(key: &'static str, reason: impl Into<String>) -> Result<(), ConfigError> {
            Err(ConfigError::Invalid { key, reason: reason.into() })
        }
        self.database.connect_options()?;
        self.rabbitmq.check_tls()?;
        self.azure_queue.check_auth()?;
        if self.rabbitmq.exchange.trim().is_empty() {
            return invalid("rabbitmq.exchange", "must not be empty");
        }
        if self.rabbitmq.prefetch == 0 {
            return invalid("rabbitmq.prefetch", "must be at least 1");
        }
        if self.http.body_limit_bytes == 0 {
            return invalid("http.body_limit_bytes", "must be at least 1");
        }
        if self.database.max_connections == 0 {
            return invalid("database.max_connections", "must be at least 1");
        }
        if self.outbox.batch_size == 0 {
            return invalid("outbox.batch_size", "must be at least 1");
        }
        if self.outbox.poll_interval_ms == 0 {
            return invalid("outbox.poll_interval_ms", "must be at least 1");
        }
        for (key, url) in [
            ("backup_job_service.url", &self.backup_job_service.url),
            ("azure_queue.account_uri", &self.azure_queue.account_uri),
        ] {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return invalid(key, "must be an http:// or https:// URL");
            }
        }
        for (key, url, ca_file) in [
            ("backup_job_service.ca_file", &self.backup_job_service.url, &self.backup_job_service.ca_file),
            ("azure_queue.ca_file", &self.azure_queue.account_uri, &self.azure_queue.ca_file),
        ] {
            check_ca_file(key, url.starts_with("https://"), ca_file.as_deref())?;
        }
        if self.auth.enabled {
            if self.auth.issuers.is_empty() {
                return invalid("auth.issuers", "auth.enabled needs at least one {issuer, jwks_url}");
            }
            if self.auth.audience.trim().is_empty() {
                return invalid("auth.audience", "auth.enabled needs the audience tokens must name");
            }
            for issuer in &self.auth.issuers {
                if issuer.issuer.trim().is_empty() {
                    return invalid("auth.issuers", "every issuer needs a non-empty issuer");
                }
                if !(issuer.jwks_url.starts_with("http://") || issuer.jwks_url.starts_with("https://")) {
                    return invalid("auth.issuers", format!("the jwks_url of {} must be an http:// or https:// URL", issuer.issuer));
                }
            }
            if self.auth.jwks_refresh_secs == 0 {
                return invalid("auth.jwks_refresh_secs", "must be at least 1");
            }
        }
        if self.breaker.failure_threshold == 0 {
            return invalid("breaker.failure_threshold", "must be at least 1");
        }
        if self.breaker.open_ms == 0 || self.breaker.max_open_ms < self.breaker.open_ms {
            return invalid("breaker.max_open_ms", "must be at least breaker.open_ms, which must be at least 1");
        }
        if self.worker.max_attempts == 0 {
            return invalid("worker.max_attempts", "must be at least 1");
        }
        if self.retry.base_ms == 0 {
            return invalid("retry.base_ms", "must be at least 1");
        }
        if self.retry.cap_ms < self.retry.base_ms {
            return invalid("retry.cap_ms", "must be at least retry.base_ms");
        }
        if !(0.0..=1.0).contains(&self.retry.jitter) {
            return invalid("retry.jitter", "must be a fraction from 0 to 1");
        }
        if self.retry.levels_ms.is_empty() || self.retry.levels_ms.contains(&0) {
            return invalid("retry.levels_ms", "must list at least one delay, each at least 1");
        }
        if !(1..=32).contains(&self.interface_listener.batch_size) {
            return invalid("interface_listener.batch_size", "must be from 1 to 32");
        }
        if self.interface_listener.visibility_timeout_secs == 0 {
            return invalid("interface_listener.visibility_timeout_secs", "must be at least 1");
        }
        if self.recovery.per_second == 0 {
            return invalid("recovery.per_second", "must be at least 1");
        }
        if self.heartbeat.interval_ms < 100 {
            return invalid("heartbeat.interval_ms", "must be at least 100");
        }
        if self.heartbeat.stale_after_ms <= self.heartbeat.interval_ms {
            return invalid("heartbeat.stale_after_ms", "must be longer than heartbeat.interval_ms");
        }
        if self.heartbeat.forget_after_ms < self.heartbeat.stale_after_ms {
            return invalid("heartbeat.forget_after_ms", "must be at least heartbeat.stale_after_ms");
        }
        Ok(())
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
        Duration::from_millis(self.shutdown.deadline_ms)
    }
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
    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let env = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::load_from(&config_dir()?, &env)
    }

    #[test]
    fn the_defaults_are_the_spec_defaults() {
        let settings = load(&[]).unwrap();
        assert_eq!(settings.app_env, AppEnv::Dev);
        assert_eq!(settings.http.port, 8080);
        assert_eq!(settings.zpages.base_port, 9100);
        assert_eq!(settings.database.url.expose_secret(), "postgres://postgres@127.0.0.1:5432/linebacker");
        assert_eq!(settings.rabbitmq.url.expose_secret(), "amqp://guest:guest@127.0.0.1:5672/%2f");
        assert_eq!(settings.rabbitmq.exchange, "linebacker");
        assert_eq!(settings.bus.kind, BusKind::Rabbitmq);
        assert_eq!(settings.backup_job_service.url, "http://127.0.0.1:8090");
        assert_eq!(settings.azure_queue.account_uri, "http://127.0.0.1:10001/devstoreaccount1");
        assert_eq!(settings.azure_queue.account_name, "devstoreaccount1");
        assert_eq!(settings.http.body_limit_bytes, 64 * 1024);
        assert!(!settings.auth.enabled, "auth is off in dev");
    }

    /// Loads `production.toml` = `auth_toml` on top of the real default.toml.
    fn load_production_with(auth_toml: &str) -> Result<Settings, ConfigError> {
        let dir = std::env::temp_dir().join(format!("linebacker-settings-{}", unique_suffix()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(config_dir().unwrap().join("default.toml"), dir.join("default.toml")).unwrap();
        std::fs::write(dir.join("production.toml"), auth_toml).unwrap();
        let env = HashMap::from([("APP_ENV".to_owned(), "production".to_owned())]);
        let loaded = Settings::load_from(&dir, &env);
        std::fs::remove_dir_all(&dir).ok();
        loaded
    }

    fn unique_suffix() -> String {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
    }

    #[test]
    fn auth_with_an_issuer_and_an_audience_starts_with_its_defaults() {
        let settings = load_production_with(
            "[auth]\nenabled = true\naudience = \"linebacker\"\n\
             issuers = [{ issuer = \"https://id.example\", jwks_url = \"https://id.example/jwks\" }]\n",
        )
        .unwrap();
        assert!(settings.auth.enabled);
        assert_eq!(settings.auth.issuers[0].jwks_url, "https://id.example/jwks");
        assert_eq!(settings.auth.leeway_secs, 60);
        assert_eq!(settings.zpages.bind, "127.0.0.1");
    }

    #[test]
    fn auth_without_an_audience_stops_the_process_naming_auth_audience() {
        let error = load_production_with(
            "[auth]\nenabled = true\n\
             issuers = [{ issuer = \"https://id.example\", jwks_url = \"https://id.example/jwks\" }]\n",
        )
        .unwrap_err();
        assert!(error.to_string().contains("`auth.audience`"), "{error}");
    }

    #[test]
    fn auth_is_on_by_default_in_production() {
        let error = load(&[("APP_ENV", "production")]).unwrap_err();
        assert!(error.to_string().contains("auth.issuers"), "{error}");
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
        assert_eq!(settings.bus.kind, BusKind::Memory);
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
    fn retry_settings_out_of_range_name_their_key() {
        let settings = load(&[]).unwrap();
        assert_eq!((settings.retry.base_ms, settings.retry.cap_ms, settings.retry.jitter), (1000, 600_000, 0.2));
        each_names_its_key(&[
            ("LINEBACKER__RETRY__JITTER", "1.5"),
            ("LINEBACKER__RETRY__BASE_MS", "0"),
            ("LINEBACKER__RETRY__CAP_MS", "10"),
        ]);
    }

    /// Each variable alone, with its value, stops the load with an error
    /// naming its key (`LINEBACKER__RETRY__CAP_MS` → `retry.cap_ms`).
    fn each_names_its_key(invalid: &[(&str, &str)]) {
        for (key, value) in invalid {
            let error = load(&[(key, value)]).unwrap_err().to_string();
            let named = key.trim_start_matches("LINEBACKER__").replace("__", ".").to_lowercase();
            assert!(error.contains(&named), "{key}: {error}");
        }
    }

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
    fn an_azure_auth_mode_without_its_credentials_names_the_missing_key() {
        let https = ("LINEBACKER__AZURE_QUEUE__ACCOUNT_URI", "https://acct.queue.core.windows.net");
        for (vars, key) in [
            (vec![("LINEBACKER__AZURE_QUEUE__AUTH", "sas")], "azure_queue.sas_token"),
            (vec![("LINEBACKER__AZURE_QUEUE__AUTH", "entra_id"), https], "azure_queue.tenant_id"),
            (
                vec![
                    ("LINEBACKER__AZURE_QUEUE__AUTH", "entra_id"),
                    https,
                    ("LINEBACKER__AZURE_QUEUE__TENANT_ID", "t"),
                    ("LINEBACKER__AZURE_QUEUE__CLIENT_ID", "c"),
                ],
                "azure_queue.client_secret",
            ),
            (
                vec![
                    ("LINEBACKER__AZURE_QUEUE__AUTH", "entra_id"),
                    ("LINEBACKER__AZURE_QUEUE__TENANT_ID", "t"),
                    ("LINEBACKER__AZURE_QUEUE__CLIENT_ID", "c"),
                    ("LINEBACKER__AZURE_QUEUE__CLIENT_SECRET", "s3cr3t"),
                ],
                "azure_queue.account_uri",
            ),
            (vec![("LINEBACKER__AZURE_QUEUE__AUTH", "certificate")], "azure_queue.auth"),
        ] {
            let error = load(&vars).unwrap_err().to_string();
            assert!(error.contains(key) && !error.contains("s3cr3t"), "{vars:?}: {error}");
        }
        let settings = load(&[
            ("LINEBACKER__AZURE_QUEUE__AUTH", "entra_id"),
            https,
            ("LINEBACKER__AZURE_QUEUE__TENANT_ID", "t"),
            ("LINEBACKER__AZURE_QUEUE__CLIENT_ID", "c"),
            ("LINEBACKER__AZURE_QUEUE__CLIENT_SECRET", "s3cr3t"),
        ])
        .unwrap();
        assert_eq!(settings.azure_queue.authority_url, "https://login.microsoftonline.com");
        assert!(!format!("{settings:?}").contains("s3cr3t"));
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
