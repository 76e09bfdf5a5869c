//! How requests to the Queue service prove who sends them, chosen by
//! `azure_queue.auth`: Shared Key (the account key signs each request), a SAS
//! token (its query parameters go on every URL) or Microsoft Entra ID client
//! credentials (a bearer token from the authority's token endpoint, cached
//! and renewed before it expires, so no call goes out with a stale one).
//! Secrets stay in secret types and sensitive headers; errors never repeat
//! them.

use std::fmt;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use linebacker_domain::DomainError;
use reqwest::header::HeaderValue;
use reqwest::{Request, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::auth::SharedKey;

/// The scope of a token for Azure Storage.
const STORAGE_SCOPE: &str = "https://storage.azure.com/.default";
/// A token is renewed this long before it expires at most (half its
/// lifetime when that is shorter).
const RENEW_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

/// The credentials of a storage account.
#[derive(Debug, Clone, Default)]
pub enum QueueAuth {
    /// Signs with `QueueServiceConfig::account_key`.
    #[default]
    SharedKey,
    /// A SAS token (`sv=...&sig=...`, with or without the leading `?`).
    Sas(SecretString),
    EntraId(EntraIdCredentials),
}

/// Microsoft Entra ID client credentials (an app registration's secret).
#[derive(Debug, Clone)]
pub struct EntraIdCredentials {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// `https://login.microsoftonline.com` in the public cloud.
    pub authority_url: String,
}

/// What a client does to each request before sending it.
pub(crate) enum Signer {
    SharedKey(SharedKey),
    Sas(Vec<(String, SecretString)>),
    EntraId(TokenCache),
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SharedKey(key) => key.fmt(f),
            Self::Sas(_) => f.write_str("Sas(***)"),
            Self::EntraId(cache) => f.debug_tuple("EntraId").field(&cache.credentials.client_id).finish(),
        }
    }
}

impl Signer {
    pub(crate) fn new(auth: &QueueAuth, account: &str, account_key: &SecretString) -> Result<Self, String> {
        match auth {
            QueueAuth::SharedKey => SharedKey::new(account, account_key).map(Self::SharedKey),
            QueueAuth::Sas(token) => {
                let token = token.expose_secret().trim().trim_start_matches('?');
                let pairs: Vec<(String, SecretString)> = form_urlencoded::parse(token.as_bytes())
                    .map(|(name, value)| (name.into_owned(), SecretString::from(value.into_owned())))
                    .collect();
                if !pairs.iter().any(|(name, _)| name == "sig") {
                    return Err("azure_queue.sas_token has no sig parameter".to_owned());
                }
                Ok(Self::Sas(pairs))
            }
            QueueAuth::EntraId(credentials) => Ok(Self::EntraId(TokenCache::new(credentials.clone()))),
        }
    }

    /// Whether the URL must carry the SAS before the request is built.
    pub(crate) fn prepare_url(&self, url: &mut Url) {
        if let Self::Sas(pairs) = self {
            let mut query = url.query_pairs_mut();
            for (name, value) in pairs {
                query.append_pair(name, value.expose_secret());
            }
        }
    }

    /// Authorizes a request built with every other header and its body.
    pub(crate) async fn sign(&self, http: &reqwest::Client, request: &mut Request) -> Result<(), DomainError> {
        match self {
            Self::SharedKey(key) => key.sign(request).map_err(|reason| DomainError::Unexpected(anyhow!(reason))),
            Self::Sas(_) => Ok(()),
            Self::EntraId(cache) => {
                let token = cache.token(http).await?;
                let mut value = HeaderValue::try_from(format!("Bearer {}", token.expose_secret()))
                    .map_err(|_| DomainError::Unexpected(anyhow!("the Entra ID token cannot go in a header")))?;
                value.set_sensitive(true);
                request.headers_mut().insert(reqwest::header::AUTHORIZATION, value);
                Ok(())
            }
        }
    }
}

struct CachedToken {
    token: SecretString,
    renew_at: Instant,
}

/// One app's token, fetched on first use and again once it nears expiry.
pub(crate) struct TokenCache {
    credentials: EntraIdCredentials,
    current: tokio::sync::Mutex<Option<CachedToken>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
}

#[derive(Deserialize)]
struct TokenError {
    error: Option<String>,
    error_description: Option<String>,
}

impl TokenCache {
    fn new(credentials: EntraIdCredentials) -> Self {
        Self { credentials, current: tokio::sync::Mutex::new(None) }
    }

    /// The cached token while it is not due for renewal, else a new one.
    /// Callers waiting meanwhile share the one fetch.
    async fn token(&self, http: &reqwest::Client) -> Result<SecretString, DomainError> {
        let mut current = self.current.lock().await;
        if let Some(cached) = current.as_ref().filter(|cached| Instant::now() < cached.renew_at) {
            return Ok(cached.token.clone());
        }
        let fetched = self.fetch(http).await?;
        let token = fetched.token.clone();
        *current = Some(fetched);
        Ok(token)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(client_id = %self.credentials.client_id))]
    async fn fetch(&self, http: &reqwest::Client) -> Result<CachedToken, DomainError> {
        let what = "getting an Entra ID token";
        let credentials = &self.credentials;
        let url = format!(
            "{}/{}/oauth2/v2.0/token",
            credentials.authority_url.trim_end_matches('/'),
            credentials.tenant_id
        );
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", &credentials.client_id)
            .append_pair("client_secret", credentials.client_secret.expose_secret())
            .append_pair("scope", STORAGE_SCOPE)
            .finish();
        let asked = Instant::now();
        let response = http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|error| crate::errors::transport(what, error))?;
        let status = response.status();
        let text = response.text().await.map_err(|error| crate::errors::transport(what, error))?;
        if !status.is_success() {
            let detail = serde_json::from_str::<TokenError>(&text)
                .ok()
                .map(|e| format!("{} {}", e.error.unwrap_or_default(), e.error_description.unwrap_or_default()))
                .unwrap_or_default();
            let error = anyhow!("{what} from {url}: answered {status} {}", detail.trim());
            return Err(if status.is_server_error() || status.as_u16() == 429 {
                DomainError::Unavailable(error)
            } else {
                DomainError::Unexpected(error)
            });
        }
        let token: TokenResponse = serde_json::from_str(&text)
            .map_err(|e| DomainError::Unexpected(anyhow!("{what} from {url}: not a token response: {e}")))?;
        let lifetime = Duration::from_secs(token.expires_in);
        let renew_at = asked + lifetime - RENEW_BEFORE_EXPIRY.min(lifetime / 2);
        tracing::debug!(expires_in = token.expires_in, "got an Entra ID token");
        Ok(CachedToken { token: SecretString::from(token.access_token), renew_at })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_sas_token_goes_on_the_url_and_never_in_debug_output() {
        let signer = Signer::new(
            &QueueAuth::Sas(SecretString::from("?sv=2021-12-02&ss=q&sig=s3cr3t%2B")),
            "acct",
            &SecretString::from(""),
        )
        .unwrap();
        let mut url = Url::parse("https://acct.queue.core.windows.net/q/messages?numofmessages=1").unwrap();
        signer.prepare_url(&mut url);
        assert_eq!(url.query(), Some("numofmessages=1&sv=2021-12-02&ss=q&sig=s3cr3t%2B"));
        assert!(!format!("{signer:?}").contains("s3cr3t"));
    }

    #[test]
    fn a_sas_token_without_a_signature_is_refused() {
        let error = Signer::new(&QueueAuth::Sas(SecretString::from("sv=2021-12-02")), "a", &SecretString::from(""))
            .unwrap_err();
        assert!(error.contains("sas_token"), "{error}");
    }
}
