//! The adapters' configurations, built from the settings.

use std::time::Duration;

use linebacker_azure_queue::{EntraIdCredentials, MessageEncoding, QueueAuth, QueueServiceConfig};
use linebacker_postgres::PgConfig;
use linebacker_rabbitmq::{RabbitSettings, RabbitTls};
use linebacker_runtime::Settings;
use linebacker_runtime::settings::{AzureAuthMode, AzureMessageEncoding, AzureQueueSettings, ConfigError};
use secrecy::{ExposeSecret, SecretString};

/// The BZI's queue service account, from `azure_queue.*`.
pub fn queue_service_config(settings: &Settings) -> QueueServiceConfig {
    let azure = &settings.azure_queue;
    QueueServiceConfig {
        account_uri: azure.account_uri.clone(),
        account_name: azure.account_name.clone(),
        account_key: azure.account_key.clone(),
        timeout: Duration::from_millis(azure.timeout_ms),
        ca_file: azure.ca_file.clone(),
        auth: queue_auth(azure),
        message_encoding: match azure.message_encoding {
            AzureMessageEncoding::None => MessageEncoding::None,
            AzureMessageEncoding::Base64 => MessageEncoding::Base64,
        },
    }
}

/// The credentials `azure_queue.auth` names; loading the settings checked
/// that the ones it needs are there.
pub fn queue_auth(azure: &AzureQueueSettings) -> QueueAuth {
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let secret = |value: &Option<SecretString>| value.clone().unwrap_or_else(|| SecretString::from(""));
    match azure.auth {
        AzureAuthMode::SharedKey => QueueAuth::SharedKey,
        AzureAuthMode::Sas => QueueAuth::Sas(secret(&azure.sas_token)),
        AzureAuthMode::EntraId => QueueAuth::EntraId(EntraIdCredentials {
            tenant_id: text(&azure.tenant_id),
            client_id: text(&azure.client_id),
            client_secret: secret(&azure.client_secret),
            authority_url: azure.authority_url.clone(),
        }),
    }
}

/// The pool's settings, from `database.*` (TLS included). Infallible once
/// the settings loaded: loading checked them.
pub fn pg_config(settings: &Settings) -> Result<PgConfig, ConfigError> {
    Ok(PgConfig {
        options: settings.database.connect_options()?,
        max_connections: settings.database.max_connections,
        acquire_timeout: Duration::from_millis(settings.database.acquire_timeout_ms),
    })
}

/// The backoff of retried messages, from `retry.*`.
pub fn retry_policy(settings: &Settings) -> linebacker_domain::backoff::RetryPolicy {
    linebacker_domain::backoff::RetryPolicy {
        base: Duration::from_millis(settings.retry.base_ms),
        cap: Duration::from_millis(settings.retry.cap_ms),
        jitter: settings.retry.jitter,
    }
}

pub fn rabbit_settings(settings: &Settings, process: &str) -> RabbitSettings {
    RabbitSettings {
        url: settings.rabbitmq.url.expose_secret().to_owned(),
        exchange: settings.rabbitmq.exchange.clone(),
        queue_prefix: settings.rabbitmq.queue_prefix.clone(),
        connect_timeout: Duration::from_millis(settings.rabbitmq.connect_timeout_ms),
        confirm_timeout: Duration::from_millis(settings.rabbitmq.confirm_timeout_ms),
        connection_name: settings.process_name(process),
        retry: retry_policy(settings),
        retry_levels: settings.retry.levels_ms.iter().map(|ms| Duration::from_millis(*ms)).collect(),
        tls: RabbitTls {
            ca_file: settings.rabbitmq.ca_file.clone(),
            cert_file: settings.rabbitmq.cert_file.clone(),
            key_file: settings.rabbitmq.key_file.clone(),
        },
        ..RabbitSettings::default()
    }
}
