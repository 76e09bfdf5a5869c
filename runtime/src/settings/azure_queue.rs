//! `azure_queue.*`: the BZI's queue service (SPEC §5), its queues, and how
//! linebacker signs for them.

use std::path::PathBuf;
use std::time::Duration;

use linebacker_azure_queue::{EntraIdCredentials, QueueAuth, QueueServiceConfig};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{ConfigError, check_ca_file, check_http_url};

/// `none` (SPEC §5) or `base64`, for a BZI whose SDK encodes messages: the
/// adapter's own type, which reads the same key values.
pub use linebacker_azure_queue::MessageEncoding as AzureMessageEncoding;

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
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        self.check_auth()?;
        check_http_url("azure_queue.account_uri", &self.account_uri)?;
        check_ca_file("azure_queue.ca_file", self.account_uri.starts_with("https://"), self.ca_file.as_deref())
    }

    /// The secrets `auth` needs are there, and a bearer token only travels
    /// over `https://`.
    fn check_auth(&self) -> Result<(), ConfigError> {
        let missing = |key: &'static str| ConfigError::invalid(key, format!("is required by azure_queue.auth = {:?}", self.auth));
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
                    return Err(ConfigError::invalid(
                        "azure_queue.account_uri",
                        "must be https:// with azure_queue.auth = entra_id (bearer tokens never go in clear)",
                    ));
                }
                if !(self.authority_url.starts_with("https://") || self.authority_url.starts_with("http://")) {
                    return Err(ConfigError::invalid("azure_queue.authority_url", "must be an http(s):// URL"));
                }
                Ok(())
            }
        }
    }

    /// The queue service account, its TLS, credentials and encoding.
    pub fn service_config(&self) -> QueueServiceConfig {
        QueueServiceConfig {
            account_uri: self.account_uri.clone(),
            account_name: self.account_name.clone(),
            account_key: self.account_key.clone(),
            timeout: Duration::from_millis(self.timeout_ms),
            ca_file: self.ca_file.clone(),
            auth: self.queue_auth(),
            message_encoding: self.message_encoding,
        }
    }

    /// The credentials `auth` names; loading the settings checked that the
    /// ones it needs are there.
    fn queue_auth(&self) -> QueueAuth {
        let text = |value: &Option<String>| value.clone().unwrap_or_default();
        let secret = |value: &Option<SecretString>| value.clone().unwrap_or_else(|| SecretString::from(""));
        match self.auth {
            AzureAuthMode::SharedKey => QueueAuth::SharedKey,
            AzureAuthMode::Sas => QueueAuth::Sas(secret(&self.sas_token)),
            AzureAuthMode::EntraId => QueueAuth::EntraId(EntraIdCredentials {
                tenant_id: text(&self.tenant_id),
                client_id: text(&self.client_id),
                client_secret: secret(&self.client_secret),
                authority_url: self.authority_url.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::testing::load;
    use super::*;

    const HTTPS: (&str, &str) = ("LINEBACKER__AZURE_QUEUE__ACCOUNT_URI", "https://acct.queue.core.windows.net");

    /// Entra ID with every credential it needs.
    const ENTRA_ID: [(&str, &str); 5] = [
        ("LINEBACKER__AZURE_QUEUE__AUTH", "entra_id"),
        HTTPS,
        ("LINEBACKER__AZURE_QUEUE__TENANT_ID", "t"),
        ("LINEBACKER__AZURE_QUEUE__CLIENT_ID", "c"),
        ("LINEBACKER__AZURE_QUEUE__CLIENT_SECRET", "s3cr3t"),
    ];

    #[test]
    fn an_azure_auth_mode_without_its_credentials_names_the_missing_key() {
        for (vars, key) in [
            (vec![("LINEBACKER__AZURE_QUEUE__AUTH", "sas")], "azure_queue.sas_token"),
            (vec![("LINEBACKER__AZURE_QUEUE__AUTH", "entra_id"), HTTPS], "azure_queue.tenant_id"),
            (
                vec![
                    ("LINEBACKER__AZURE_QUEUE__AUTH", "entra_id"),
                    HTTPS,
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
        let settings = load(&ENTRA_ID).unwrap();
        assert_eq!(settings.azure_queue.authority_url, "https://login.microsoftonline.com");
        assert!(!format!("{settings:?}").contains("s3cr3t"));
    }

    #[test]
    fn the_service_config_carries_the_account_timeout_tls_and_encoding() {
        let settings = load(&[
            ("LINEBACKER__AZURE_QUEUE__TIMEOUT_MS", "1234"),
            ("LINEBACKER__AZURE_QUEUE__MESSAGE_ENCODING", "base64"),
        ])
        .unwrap();
        let config = settings.azure_queue.service_config();
        assert_eq!(config.account_uri, "http://127.0.0.1:10001/devstoreaccount1");
        assert_eq!(config.account_name, "devstoreaccount1");
        assert_eq!(config.account_key.expose_secret(), settings.azure_queue.account_key.expose_secret());
        assert_eq!(config.timeout, Duration::from_millis(1234));
        assert_eq!(config.ca_file, None);
        assert_eq!(config.message_encoding, AzureMessageEncoding::Base64);
        assert!(matches!(config.auth, QueueAuth::SharedKey), "{:?}", config.auth);
    }

    #[test]
    fn the_service_config_carries_the_credentials_its_auth_mode_names() {
        let sas = load(&[("LINEBACKER__AZURE_QUEUE__AUTH", "sas"), ("LINEBACKER__AZURE_QUEUE__SAS_TOKEN", "sv=1&sig=x")]).unwrap();
        match sas.azure_queue.service_config().auth {
            QueueAuth::Sas(token) => assert_eq!(token.expose_secret(), "sv=1&sig=x"),
            other => panic!("expected SAS, got {other:?}"),
        }
        let entra = load(&ENTRA_ID).unwrap();
        match entra.azure_queue.service_config().auth {
            QueueAuth::EntraId(credentials) => {
                assert_eq!((credentials.tenant_id.as_str(), credentials.client_id.as_str()), ("t", "c"));
                assert_eq!(credentials.client_secret.expose_secret(), "s3cr3t");
                assert_eq!(credentials.authority_url, "https://login.microsoftonline.com");
            }
            other => panic!("expected Entra ID, got {other:?}"),
        }
    }
}
