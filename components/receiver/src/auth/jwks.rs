//! The signing keys of one token issuer, fetched from its JWKS URL and kept
//! in memory.
//!
//! A token naming a `kid` the cache does not hold refetches the set, but at
//! most once per `auth.jwks_min_refresh_secs` however many such tokens
//! arrive (random `kid`s cannot make the receiver hammer the issuer); a
//! background task refetches every `auth.jwks_refresh_secs` so that a
//! rotated key is usually known before the first token signed with it. A
//! failed fetch keeps the keys already held.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use tokio::sync::Mutex;

/// A JWKS larger than this is refused: no issuer publishes that many keys.
const MAX_JWKS_BYTES: usize = 1024 * 1024;
/// How long one fetch of a JWKS may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// One verification key of an issuer.
#[derive(Clone)]
pub struct IssuerKey {
    pub kid: Option<String>,
    /// The algorithm the JWK is restricted to, when it says so.
    pub alg: Option<Algorithm>,
    pub key: DecodingKey,
}

pub struct IssuerKeys {
    issuer: String,
    jwks_url: String,
    http: reqwest::Client,
    keys: RwLock<Arc<Vec<IssuerKey>>>,
    /// When the set was last fetched (or a fetch was last tried); the lock
    /// also makes concurrent refreshes wait for one fetch.
    last_fetch: Mutex<Option<Instant>>,
    min_refresh: Duration,
}

impl IssuerKeys {
    pub fn new(issuer: String, jwks_url: String, http: reqwest::Client, min_refresh: Duration) -> Self {
        Self {
            issuer,
            jwks_url,
            http,
            keys: RwLock::new(Arc::new(Vec::new())),
            last_fetch: Mutex::new(None),
            min_refresh,
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The keys held now that may have signed a token with `kid` and `alg`.
    pub fn candidates(&self, kid: Option<&str>, alg: Algorithm) -> Vec<IssuerKey> {
        let keys = match self.keys.read() {
            Ok(keys) => keys.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        keys.iter()
            .filter(|key| kid.is_none() || key.kid.as_deref() == kid)
            .filter(|key| key.alg.is_none_or(|restricted| restricted == alg))
            .filter(|key| key.key.family() == alg.family())
            .cloned()
            .collect()
    }

    /// Refetches the set unless it was fetched less than
    /// `jwks_min_refresh_secs` ago. Concurrent callers wait for one fetch.
    pub async fn refresh_if_due(&self) {
        let mut last = self.last_fetch.lock().await;
        if last.is_some_and(|at| at.elapsed() < self.min_refresh) {
            return;
        }
        *last = Some(Instant::now());
        self.fetch_and_store().await;
    }

    /// Refetches the set now (the background refresh).
    pub async fn refresh(&self) {
        let mut last = self.last_fetch.lock().await;
        *last = Some(Instant::now());
        self.fetch_and_store().await;
    }

    async fn fetch_and_store(&self) {
        match self.fetch().await {
            Ok(keys) => {
                tracing::debug!(issuer = %self.issuer, keys = keys.len(), "fetched the issuer's JWKS");
                let keys = Arc::new(keys);
                match self.keys.write() {
                    Ok(mut held) => *held = keys,
                    Err(poisoned) => *poisoned.into_inner() = keys,
                }
            }
            Err(error) => tracing::warn!(
                issuer = %self.issuer,
                jwks_url = %self.jwks_url,
                error = format!("{error:#}"),
                "cannot fetch the issuer's JWKS; keeping the keys held"
            ),
        }
    }

    async fn fetch(&self) -> anyhow::Result<Vec<IssuerKey>> {
        let response = self
            .http
            .get(&self.jwks_url)
            .timeout(FETCH_TIMEOUT)
            .send()
            .await
            .context("requesting the JWKS")?
            .error_for_status()
            .context("the JWKS URL answered an error")?;
        let body = read_limited(response, MAX_JWKS_BYTES).await?;
        let set: JwkSet = serde_json::from_slice(&body).context("the JWKS is not a JSON key set")?;
        Ok(set.keys.iter().filter_map(|jwk| self.usable(jwk)).collect())
    }

    /// A JWK as a verification key, or `None` (logged) when it cannot be
    /// one: an encryption key, a symmetric key, an unsupported algorithm.
    fn usable(&self, jwk: &Jwk) -> Option<IssuerKey> {
        let kid = jwk.common.key_id.clone();
        let skip = |why: &str| {
            tracing::debug!(issuer = %self.issuer, kid = ?kid, "skipping a JWKS key: {why}");
            None
        };
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            return skip("it is for encryption");
        }
        let alg = match jwk.common.key_algorithm.map(Algorithm::try_from) {
            None => None,
            Some(Ok(alg)) if super::ACCEPTED_ALGORITHMS.contains(&alg) => Some(alg),
            Some(_) => return skip("its algorithm is not accepted"),
        };
        let key = match DecodingKey::from_jwk(jwk) {
            Ok(key) => key,
            Err(_) => return skip("it is not a valid public key"),
        };
        // A shared secret can never verify a token, whatever the JWKS says.
        if key.family() == AlgorithmFamily::Hmac {
            return skip("it is a symmetric key");
        }
        Some(IssuerKey { kid, alg, key })
    }
}

/// The body of `response`, refused once it passes `limit` bytes.
async fn read_limited(mut response: reqwest::Response, limit: usize) -> anyhow::Result<Vec<u8>> {
    if response.content_length().is_some_and(|length| length > limit as u64) {
        anyhow::bail!("the JWKS is larger than {limit} bytes");
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.context("reading the JWKS")? {
        if body.len() + chunk.len() > limit {
            anyhow::bail!("the JWKS is larger than {limit} bytes");
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
