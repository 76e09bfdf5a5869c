//! Support for tests that need real queues: Azurite's development account
//! and queue names of a test's own. Used by this crate's tests and by the
//! processes' tests.

use std::time::Duration;

use secrecy::SecretString;

use crate::QueueServiceConfig;

/// Azurite's well-known development account and key (public, documented by
/// Microsoft; not a secret).
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// The Azurite queue endpoint tests use: `LINEBACKER_TEST_AZURITE_URI`, or
/// the one `scripts/setup.sh` starts.
pub fn azurite_uri() -> String {
    std::env::var("LINEBACKER_TEST_AZURITE_URI")
        .unwrap_or_else(|_| format!("http://127.0.0.1:10001/{AZURITE_ACCOUNT}"))
}

/// The development account, with a short timeout so that a test fails fast.
pub fn azurite_config() -> QueueServiceConfig {
    QueueServiceConfig {
        account_uri: azurite_uri(),
        account_name: AZURITE_ACCOUNT.to_owned(),
        account_key: SecretString::from(AZURITE_KEY),
        auth: crate::QueueAuth::SharedKey,
        timeout: Duration::from_secs(10),
        ca_file: None,
        message_encoding: crate::MessageEncoding::None,
    }
}

/// Fails with a message that says what to start when nothing listens on the
/// Azurite endpoint, instead of letting a test time out on its first call.
pub async fn require_azurite() -> Result<QueueServiceConfig, String> {
    let config = azurite_config();
    let address = reqwest::Url::parse(&config.account_uri)
        .ok()
        .and_then(|url| Some(format!("{}:{}", url.host_str()?, url.port_or_known_default()?)))
        .ok_or_else(|| format!("LINEBACKER_TEST_AZURITE_URI {:?} is not a URL", config.account_uri))?;
    let connect = tokio::net::TcpStream::connect(&address);
    match tokio::time::timeout(Duration::from_secs(3), connect).await {
        Ok(Ok(_)) => Ok(config),
        _ => Err(format!(
            "nothing listens on {address}: start Azurite with scripts/setup.sh, or \
             `npx azurite-queue --queueHost 127.0.0.1 --queuePort 10001 --location .run/azurite --silent &`"
        )),
    }
}

/// A queue name no other test uses: `<prefix>-<random>`, within the
/// service's naming rule for a short lowercase prefix.
pub fn unique_queue_name(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}
