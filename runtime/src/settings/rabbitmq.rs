//! `rabbitmq.*`, the broker, and `bus.*`, whether the processes use it or
//! the in-memory bus of dev mode.

use std::path::PathBuf;
use std::time::Duration;

use linebacker_rabbitmq::{RabbitSettings, RabbitTls};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{ConfigError, RetrySettings, check_ca_file};

#[derive(Debug, Clone, Deserialize)]
pub struct RabbitmqSettings {
    /// One broker node.
    pub url: SecretString,
    /// The nodes of a cluster (SPEC §9); when set, it wins over `url`. In
    /// the environment, `LINEBACKER__RABBITMQ__URLS` is a comma-separated
    /// list.
    #[serde(default)]
    pub urls: Option<Vec<SecretString>>,
    pub exchange: String,
    /// The initial replication factor of the quorum queues linebacker
    /// declares, capped by the broker at its cluster's size.
    pub quorum_replicas: u16,
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

impl RabbitmqSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        self.check_tls()?;
        if self.exchange.trim().is_empty() {
            return Err(ConfigError::invalid("rabbitmq.exchange", "must not be empty"));
        }
        if self.prefetch == 0 {
            return Err(ConfigError::invalid("rabbitmq.prefetch", "must be at least 1"));
        }
        if self.quorum_replicas == 0 {
            return Err(ConfigError::invalid("rabbitmq.quorum_replicas", "must be at least 1"));
        }
        Ok(())
    }

    /// The broker's nodes: `urls` when it names any, else `url`.
    pub fn node_urls(&self) -> Vec<&str> {
        match &self.urls {
            Some(urls) if !urls.is_empty() => urls.iter().map(|url| url.expose_secret()).collect(),
            _ => vec![self.url.expose_secret()],
        }
    }

    /// Which key the nodes come from, for error messages.
    fn nodes_key(&self) -> &'static str {
        if self.urls.as_ref().is_some_and(|urls| !urls.is_empty()) { "rabbitmq.urls" } else { "rabbitmq.url" }
    }

    /// `amqp://` or `amqps://` (every node the same); the TLS files only
    /// with `amqps://`, each readable, the client certificate with its key.
    fn check_tls(&self) -> Result<(), ConfigError> {
        let nodes = self.node_urls();
        let key = self.nodes_key();
        if nodes.iter().any(|url| !(url.starts_with("amqps://") || url.starts_with("amqp://"))) {
            return Err(ConfigError::invalid(key, "must be amqp:// or amqps:// URLs"));
        }
        let tls = nodes.iter().all(|url| url.starts_with("amqps://"));
        if !tls && nodes.iter().any(|url| url.starts_with("amqps://")) {
            return Err(ConfigError::invalid(key, "must all be amqp:// or all amqps://, not a mix"));
        }
        check_ca_file("rabbitmq.ca_file", tls, self.ca_file.as_deref())?;
        check_ca_file("rabbitmq.cert_file", tls, self.cert_file.as_deref())?;
        match (&self.cert_file, &self.key_file) {
            (Some(_), Some(key)) => linebacker_tls::check_private_key(key)
                .map_err(|reason| ConfigError::Invalid { key: "rabbitmq.key_file", reason }),
            (None, None) => Ok(()),
            (Some(_), None) => Err(ConfigError::invalid("rabbitmq.key_file", "must be set with rabbitmq.cert_file")),
            (None, Some(_)) => Err(ConfigError::invalid("rabbitmq.cert_file", "must be set with rabbitmq.key_file")),
        }
    }

    /// The bus's settings: this broker, the backoff and delay queues of
    /// retried messages from `retry`, and the name the management UI shows
    /// for the connection (`Settings::process_name`).
    pub fn bus_settings(&self, retry: &RetrySettings, connection_name: &str) -> RabbitSettings {
        RabbitSettings {
            urls: self.node_urls().into_iter().map(str::to_owned).collect(),
            exchange: self.exchange.clone(),
            quorum_replicas: self.quorum_replicas,
            queue_prefix: self.queue_prefix.clone(),
            connect_timeout: Duration::from_millis(self.connect_timeout_ms),
            confirm_timeout: Duration::from_millis(self.confirm_timeout_ms),
            connection_name: connection_name.to_owned(),
            retry: retry.policy(),
            retry_levels: retry.levels(),
            tls: RabbitTls {
                ca_file: self.ca_file.clone(),
                cert_file: self.cert_file.clone(),
                key_file: self.key_file.clone(),
            },
            ..RabbitSettings::default()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BusKind {
    Rabbitmq,
    Memory,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct BusSettings {
    /// As configured: `None` when no source names it.
    #[serde(default)]
    pub kind: Option<BusKind>,
}

impl BusSettings {
    /// The bus to run on: RabbitMQ unless configured otherwise.
    pub fn kind(&self) -> BusKind {
        self.kind.unwrap_or(BusKind::Rabbitmq)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::Path;

    use linebacker_domain::backoff::RetryPolicy;

    use super::*;

    #[test]
    fn bus_settings_carry_the_broker_the_retries_and_the_connection_name() {
        let rabbitmq = RabbitmqSettings {
            url: SecretString::from("amqps://u:p@rabbit.example:5671/%2f"),
            urls: None,
            exchange: "lb".to_owned(),
            quorum_replicas: 2,
            queue_prefix: "t.".to_owned(),
            prefetch: 4,
            connect_timeout_ms: 1200,
            confirm_timeout_ms: 3400,
            ca_file: Some(PathBuf::from("/etc/ca.pem")),
            cert_file: Some(PathBuf::from("/etc/client.pem")),
            key_file: Some(PathBuf::from("/etc/client.key")),
        };
        let retry = RetrySettings { base_ms: 100, cap_ms: 2000, jitter: 0.1, levels_ms: vec![500, 2000] };
        let bus = rabbitmq.bus_settings(&retry, "check-allowed-2");
        assert_eq!(bus.urls, ["amqps://u:p@rabbit.example:5671/%2f"]);
        assert_eq!((bus.exchange.as_str(), bus.queue_prefix.as_str()), ("lb", "t."));
        assert_eq!(bus.quorum_replicas, 2);
        assert_eq!(bus.connect_timeout, Duration::from_millis(1200));
        assert_eq!(bus.confirm_timeout, Duration::from_millis(3400));
        assert_eq!(bus.connection_name, "check-allowed-2");
        assert_eq!(bus.retry, RetryPolicy { base: Duration::from_millis(100), cap: Duration::from_secs(2), jitter: 0.1 });
        assert_eq!(bus.retry_levels, [Duration::from_millis(500), Duration::from_secs(2)]);
        assert_eq!(bus.tls.ca_file.as_deref(), Some(Path::new("/etc/ca.pem")));
        assert_eq!(bus.tls.cert_file.as_deref(), Some(Path::new("/etc/client.pem")));
        assert_eq!(bus.tls.key_file.as_deref(), Some(Path::new("/etc/client.key")));
        assert_eq!(bus.retry_pause, RabbitSettings::default().retry_pause, "not a setting");
    }

    #[test]
    fn rabbitmq_urls_from_the_environment_win_over_rabbitmq_url() {
        let settings = super::super::testing::load(&[(
            "LINEBACKER__RABBITMQ__URLS",
            "amqp://guest:guest@node-a:5672/%2f,amqp://guest:guest@node-b:5672/%2f",
        )])
        .unwrap();
        assert_eq!(settings.rabbitmq.node_urls(), ["amqp://guest:guest@node-a:5672/%2f", "amqp://guest:guest@node-b:5672/%2f"]);
        let bus = settings.rabbitmq.bus_settings(&settings.retry, "check-allowed-0");
        assert_eq!(bus.urls.len(), 2);
    }

    #[test]
    fn rabbitmq_urls_from_a_file_win_over_the_default_url() {
        let dir = std::env::temp_dir().join(format!("lb-config-{}-{:?}", std::process::id(), std::thread::current().id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(super::super::config_dir().unwrap().join("default.toml"), dir.join("default.toml")).unwrap();
        let dev = std::fs::read_to_string(super::super::config_dir().unwrap().join("dev.toml")).unwrap();
        let nodes = "[rabbitmq]\nurls = [\"amqp://node-c:5672/%2f\", \"amqp://node-d:5672/%2f\"]\n";
        std::fs::write(dir.join("dev.toml"), format!("{dev}\n{nodes}")).unwrap();
        let env = [("APP_ENV".to_owned(), "dev".to_owned())].into_iter().collect();
        let loaded = super::super::Settings::load_from(&dir, &env);
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(loaded.unwrap().rabbitmq.node_urls(), ["amqp://node-c:5672/%2f", "amqp://node-d:5672/%2f"]);
    }

    #[test]
    fn nodes_that_mix_tls_and_plaintext_are_refused_naming_rabbitmq_urls() {
        let error = super::super::testing::load(&[(
            "LINEBACKER__RABBITMQ__URLS",
            "amqp://node-a:5672/%2f,amqps://node-b:5671/%2f",
        )])
        .unwrap_err()
        .to_string();
        assert!(error.contains("rabbitmq.urls"), "{error}");
    }
}
