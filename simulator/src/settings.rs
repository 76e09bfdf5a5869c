//! The simulator's settings: its own keys from `config/simulator.toml`
//! (overridden by `SIMULATOR__KEY` variables), and the Azure account from
//! linebacker's configuration so that both sides use the same queues.
//! Checked at start; a bad value names its key.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use tokio_rustls::rustls::ServerConfig;
use std::time::Duration;

use linebacker_azure_queue::QueueServiceConfig;
use linebacker_domain::external::BackupJob;
use linebacker_domain::{BackupJobId, BackupProviderCode};
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error(transparent)]
    Linebacker(#[from] linebacker_runtime::ConfigError),
    #[error("invalid configuration: `{key}` {reason}")]
    Invalid { key: String, reason: String },
}

/// The `[simulator]` keys.
#[derive(Debug, Clone, Deserialize)]
pub struct SimulatorConfig {
    pub host: String,
    pub port: u16,
    pub reply_delay_ms: u64,
    pub failure_share: f64,
    pub requests_queue: String,
    pub statuses_queue: String,
    pub queue_timeout_ms: u64,
    /// With both: the job service is served over HTTPS with this
    /// certificate (PEM, its chain) and key.
    #[serde(default)]
    pub tls_cert_file: Option<PathBuf>,
    #[serde(default)]
    pub tls_key_file: Option<PathBuf>,
    pub jobs: Vec<JobConfig>,
}

/// One job of the job list, as written in the file.
#[derive(Debug, Clone, Deserialize)]
pub struct JobConfig {
    pub backup_job_id: String,
    pub storage_path_name: String,
    pub backup_provider_code: String,
    pub days_to_keep: u32,
    pub is_active: bool,
    pub hold_flag: bool,
}

#[derive(Debug, Deserialize)]
struct File {
    simulator: SimulatorConfig,
}

/// Everything the simulator needs, checked.
#[derive(Debug, Clone)]
pub struct SimulatorSettings {
    pub host: String,
    /// 0 picks a free port.
    pub port: u16,
    pub reply_delay: Duration,
    pub failure_share: f64,
    pub requests_queue: String,
    pub statuses_queue: String,
    pub jobs: Vec<BackupJob>,
    pub azure: QueueServiceConfig,
    /// The job service's TLS, when it serves HTTPS.
    pub tls: Option<Arc<ServerConfig>>,
}

impl SimulatorSettings {
    /// Loads from the config directory linebacker uses and the process
    /// environment.
    pub fn load() -> Result<Self, SettingsError> {
        let env: HashMap<String, String> = std::env::vars().collect();
        Self::load_from(&linebacker_runtime::settings::config_dir()?, &env)
    }

    /// Loads from `dir`, with `env` standing in for the process environment.
    pub fn load_from(dir: &Path, env: &HashMap<String, String>) -> Result<Self, SettingsError> {
        let overrides: HashMap<String, String> =
            env.iter().filter(|(key, _)| key.starts_with("SIMULATOR__")).map(|(k, v)| (k.clone(), v.clone())).collect();
        let file: File = config::Config::builder()
            .add_source(config::File::from(dir.join("simulator.toml")))
            .add_source(
                // Keeping the prefix makes SIMULATOR__PORT the key simulator.port.
                config::Environment::with_prefix("SIMULATOR")
                    .prefix_separator("__")
                    .separator("__")
                    .keep_prefix(true)
                    .try_parsing(true)
                    .source(Some(overrides)),
            )
            .build()?
            .try_deserialize()?;
        let linebacker = linebacker_runtime::Settings::load_from(dir, env)?;
        // linebacker's account, TLS, credentials and encoding: the
        // simulator plays the BZI on the same queues.
        let azure = QueueServiceConfig {
            timeout: Duration::from_millis(file.simulator.queue_timeout_ms),
            ..linebacker.azure_queue.service_config()
        };
        Self::checked(file.simulator, azure)
    }

    /// Checks the `[simulator]` keys and turns them into settings.
    pub fn checked(config: SimulatorConfig, azure: QueueServiceConfig) -> Result<Self, SettingsError> {
        let invalid = |key: &str, reason: String| SettingsError::Invalid { key: key.to_owned(), reason };
        if !(0.0..=1.0).contains(&config.failure_share) {
            return Err(invalid("simulator.failure_share", format!("must be from 0.0 to 1.0, not {}", config.failure_share)));
        }
        if config.queue_timeout_ms == 0 {
            return Err(invalid("simulator.queue_timeout_ms", "must be at least 1".to_owned()));
        }
        for (key, name) in [
            ("simulator.requests_queue", &config.requests_queue),
            ("simulator.statuses_queue", &config.statuses_queue),
        ] {
            // The queue client knows the naming rule; its error says why.
            linebacker_azure_queue::QueueClient::new(&azure, name)
                .map_err(|error| invalid(key, error.to_string()))?;
        }
        let tls = match (&config.tls_cert_file, &config.tls_key_file) {
            (Some(cert), Some(key)) => Some(server_tls(cert, key).map_err(|reason| invalid("simulator.tls_cert_file", reason))?),
            (None, None) => None,
            _ => return Err(invalid("simulator.tls_key_file", "goes with simulator.tls_cert_file".to_owned())),
        };
        let mut jobs: Vec<BackupJob> = Vec::with_capacity(config.jobs.len());
        for (index, job) in config.jobs.into_iter().enumerate() {
            let key = |field: &str| format!("simulator.jobs[{index}].{field}");
            let backup_job_id = BackupJobId::try_from(job.backup_job_id)
                .map_err(|error| invalid(&key("backup_job_id"), error.to_string()))?;
            if jobs.iter().any(|known| known.backup_job_id == backup_job_id) {
                return Err(invalid(&key("backup_job_id"), format!("{backup_job_id} appears twice")));
            }
            let backup_provider_code = BackupProviderCode::try_from(job.backup_provider_code)
                .map_err(|error| invalid(&key("backup_provider_code"), error.to_string()))?;
            if job.storage_path_name.trim().is_empty() {
                return Err(invalid(&key("storage_path_name"), "must not be empty".to_owned()));
            }
            jobs.push(BackupJob {
                backup_job_id,
                storage_path_name: job.storage_path_name,
                backup_provider_code,
                days_to_keep: job.days_to_keep,
                is_active: job.is_active,
                hold_flag: job.hold_flag,
            });
        }
        Ok(Self {
            host: config.host,
            port: config.port,
            reply_delay: Duration::from_millis(config.reply_delay_ms),
            failure_share: config.failure_share,
            requests_queue: config.requests_queue,
            statuses_queue: config.statuses_queue,
            jobs,
            azure,
            tls,
        })
    }
}

/// A TLS server configuration from a PEM certificate chain and key.
fn server_tls(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, String> {
    let chain = linebacker_tls::read_certificates(cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|error| format!("{}: {error}", key.display()))?;
    ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map(Arc::new)
        .map_err(|error| format!("{} and its key do not make a TLS server: {error}", cert.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<SimulatorSettings, SettingsError> {
        let env = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        SimulatorSettings::load_from(&linebacker_runtime::settings::config_dir()?, &env)
    }

    #[test]
    fn the_defaults_serve_linebackers_default_url_and_the_spec_queues() {
        let settings = load(&[]).unwrap();
        assert_eq!(settings.port, 8090);
        assert_eq!(settings.reply_delay, Duration::from_millis(500));
        assert_eq!(settings.failure_share, 0.1);
        assert_eq!(settings.requests_queue, "allowed-backup-requests");
        assert_eq!(settings.statuses_queue, "store-statuses");
        assert_eq!(settings.azure.account_name, "devstoreaccount1");
        let ids: Vec<&str> = settings.jobs.iter().map(|job| job.backup_job_id.as_str()).collect();
        for id in ["job-17", "job-1", "job-2", "job-3", "job-4", "job-5", "job-inactive"] {
            assert!(ids.contains(&id), "{id} in {ids:?}");
        }
        assert!(settings.jobs.iter().any(|job| !job.is_active));
    }

    #[test]
    fn environment_variables_override_the_file() {
        let settings = load(&[("SIMULATOR__PORT", "18090"), ("SIMULATOR__FAILURE_SHARE", "1")]).unwrap();
        assert_eq!(settings.port, 18090);
        assert_eq!(settings.failure_share, 1.0);
    }

    #[test]
    fn a_bad_value_names_its_key() {
        for (var, value, key) in [
            ("SIMULATOR__FAILURE_SHARE", "1.5", "simulator.failure_share"),
            ("SIMULATOR__PORT", "eighty", "simulator.port"),
            ("SIMULATOR__STATUSES_QUEUE", "Bad_Queue", "simulator.statuses_queue"),
            ("SIMULATOR__QUEUE_TIMEOUT_MS", "0", "simulator.queue_timeout_ms"),
            ("LINEBACKER__AZURE_QUEUE__ACCOUNT_URI", "ftp://x", "azure_queue.account_uri"),
        ] {
            let error = load(&[(var, value)]).unwrap_err().to_string();
            assert!(error.contains(key), "{var}={value}: {error}");
        }
    }

    #[test]
    fn the_job_service_serves_https_with_a_certificate_and_its_key_and_not_with_half_of_them() {
        let tls = linebacker_testkit::tls::tls_dir();
        let (cert, key) = (tls.join("server.pem").display().to_string(), tls.join("server.key").display().to_string());
        assert!(load(&[]).unwrap().tls.is_none());
        let settings =
            load(&[("SIMULATOR__TLS_CERT_FILE", cert.as_str()), ("SIMULATOR__TLS_KEY_FILE", key.as_str())]).unwrap();
        assert!(settings.tls.is_some());
        let error = load(&[("SIMULATOR__TLS_CERT_FILE", cert.as_str())]).unwrap_err().to_string();
        assert!(error.contains("simulator.tls_key_file"), "{error}");
        let error = load(&[("SIMULATOR__TLS_CERT_FILE", key.as_str()), ("SIMULATOR__TLS_KEY_FILE", key.as_str())])
            .unwrap_err()
            .to_string();
        assert!(error.contains("simulator.tls_cert_file"), "{error}");
    }

    #[test]
    fn the_azure_encoding_and_credentials_are_linebackers() {
        let settings = load(&[("LINEBACKER__AZURE_QUEUE__MESSAGE_ENCODING", "base64")]).unwrap();
        assert_eq!(settings.azure.message_encoding, linebacker_azure_queue::MessageEncoding::Base64);
    }

    #[test]
    fn a_bad_job_names_its_place_in_the_list() {
        let mut config: File = config::Config::builder()
            .add_source(config::File::from(linebacker_runtime::settings::config_dir().unwrap().join("simulator.toml")))
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap();
        let azure = load(&[]).unwrap().azure;
        config.simulator.jobs[2].backup_provider_code = "Tape".into();
        let error = SimulatorSettings::checked(config.simulator.clone(), azure.clone()).unwrap_err().to_string();
        assert!(error.contains("simulator.jobs[2].backup_provider_code"), "{error}");
        config.simulator.jobs[2].backup_provider_code = "Local".into();
        config.simulator.jobs[3].backup_job_id = config.simulator.jobs[0].backup_job_id.clone();
        let error = SimulatorSettings::checked(config.simulator, azure).unwrap_err().to_string();
        assert!(error.contains("simulator.jobs[3].backup_job_id") && error.contains("twice"), "{error}");
    }
}
