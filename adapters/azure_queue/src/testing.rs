//! Support for tests that need real queues: Azurite's development account
//! and queue names of a test's own. Used by this crate's tests and by the
//! processes' tests.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::SecretString;
use sha2::Sha256;

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

/// An account SAS token for Azurite's queue service (every permission, over
/// `protocols`: `https` or `https,http`), signed with `key` as Azure signs
/// one (`az storage account generate-sas`). Signed with another key than
/// the account's, it is refused.
pub fn account_sas(key: &str, protocols: &str) -> Result<String, String> {
    let (permissions, services, types, expiry, version) = ("rwdlacup", "q", "sco", "2099-01-01T00:00:00Z", "2021-12-02");
    let to_sign =
        format!("{AZURITE_ACCOUNT}\n{permissions}\n{services}\n{types}\n\n{expiry}\n\n{protocols}\n{version}\n\n");
    let key = BASE64.decode(key).map_err(|_| "the key is not base64".to_owned())?;
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).map_err(|_| "the key cannot key an HMAC".to_owned())?;
    mac.update(to_sign.as_bytes());
    let signature = BASE64.encode(mac.finalize().into_bytes());
    Ok(form_urlencoded::Serializer::new(String::new())
        .append_pair("sv", version)
        .append_pair("ss", services)
        .append_pair("srt", types)
        .append_pair("sp", permissions)
        .append_pair("se", expiry)
        .append_pair("spr", protocols)
        .append_pair("sig", &signature)
        .finish())
}
