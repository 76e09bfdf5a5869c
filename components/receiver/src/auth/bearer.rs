//! Bearer-token authentication (SPEC §8): the token's signature against its
//! issuer's JWKS, `exp`, `nbf`, `iss` and `aud`, then the client's scopes
//! from `client_authorizations`, cached for `auth.client_cache_secs`.
//!
//! A client is the token's issuer and subject. Its requester id is the
//! subject while one issuer is configured (as it always was), and
//! `<issuer>|<subject>` with more, so that two issuers' equal subjects never
//! read each other's requests.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use linebacker_domain::client::UNASSIGNED_ISSUER;
use linebacker_domain::{ClientAuthorizations, RequesterId, Scope};
use linebacker_runtime::settings::AuthSettings;
use moka::future::Cache;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::jwks::{IssuerKey, IssuerKeys};
use super::{ACCEPTED_ALGORITHMS, Caller};
use crate::error::{ApiError, ErrorCode};

/// A longer `Authorization` header is refused before it is parsed.
const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Distinct clients whose scopes are cached at once.
const CLIENT_CACHE_CAPACITY: u64 = 10_000;

/// The claims linebacker reads; the others are checked by `Validation`.
#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: String,
}

pub struct BearerAuth {
    issuers: Vec<IssuerKeys>,
    audience: String,
    leeway_secs: u64,
    refresh_every: Duration,
    clients: Arc<dyn ClientAuthorizations>,
    /// By issuer and subject. `None` caches "no such client" too, so
    /// unknown clients cost no query.
    scopes: Cache<(String, String), Option<Arc<Vec<Scope>>>>,
    retry_after_secs: u32,
}

impl BearerAuth {
    pub fn new(settings: &AuthSettings, clients: Arc<dyn ClientAuthorizations>, retry_after_secs: u32) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().build()?;
        let min_refresh = settings.jwks_min_refresh();
        let issuers = settings
            .issuers
            .iter()
            .map(|issuer| IssuerKeys::new(issuer.issuer.clone(), issuer.jwks_url.clone(), http.clone(), min_refresh))
            .collect();
        let scopes = Cache::builder()
            .max_capacity(CLIENT_CACHE_CAPACITY)
            .time_to_live(settings.client_cache())
            .build();
        Ok(Self {
            issuers,
            audience: settings.audience.clone(),
            leeway_secs: settings.leeway_secs,
            refresh_every: settings.jwks_refresh(),
            clients,
            scopes,
            retry_after_secs,
        })
    }

    /// Fetches every issuer's keys now and then every `jwks_refresh_secs`,
    /// until `stop`.
    pub async fn keep_keys_fresh(self: Arc<Self>, stop: CancellationToken) {
        loop {
            for issuer in &self.issuers {
                issuer.refresh().await;
            }
            tokio::select! {
                () = tokio::time::sleep(self.refresh_every) => {}
                () = stop.cancelled() => return,
            }
        }
    }

    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Caller, ApiError> {
        let token = bearer_token(authorization)?;
        let Claims { iss, sub } = self.verify(token).await?;
        let requester_id = RequesterId::try_from(self.requester_id(&iss, &sub))
            .ok()
            .filter(|_| !sub.is_empty())
            .ok_or_else(|| invalid_token("the token's sub is empty or not a valid requester id"))?;
        let scopes = self.scopes_of(iss, sub).await?;
        Ok(Caller::client(requester_id, scopes))
    }

    /// Who the client is in the requests it makes: its subject alone while
    /// it cannot be mistaken for another issuer's, with its issuer after.
    fn requester_id(&self, issuer: &str, subject: &str) -> String {
        if self.issuers.len() == 1 { subject.to_owned() } else { format!("{issuer}|{subject}") }
    }

    async fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid_token("the token is malformed"))?;
        // Only asymmetric algorithms: `none` does not even parse, and an
        // HMAC token is refused here, whatever key its kid names.
        if !ACCEPTED_ALGORITHMS.contains(&header.alg) {
            return Err(invalid_token(format!("tokens signed with {:?} are not accepted", header.alg)));
        }
        let kid = header.kid.as_deref();
        let mut candidates = self.candidates(kid, header.alg);
        if candidates.is_empty() {
            for issuer in &self.issuers {
                issuer.refresh_if_due().await;
            }
            candidates = self.candidates(kid, header.alg);
        }
        if candidates.is_empty() {
            return Err(invalid_token("the token's signing key is not known"));
        }
        let mut last = None;
        for (issuer, key) in candidates {
            match jsonwebtoken::decode::<Claims>(token, &key.key, &self.validation(header.alg, issuer)) {
                Ok(data) => return Ok(data.claims),
                Err(error) => last = Some(error.into_kind()),
            }
        }
        Err(invalid_token(last.map_or("the token is invalid".to_owned(), why_invalid)))
    }

    fn candidates(&self, kid: Option<&str>, alg: Algorithm) -> Vec<(&str, IssuerKey)> {
        self.issuers
            .iter()
            .flat_map(|issuer| issuer.candidates(kid, alg).into_iter().map(move |key| (issuer.issuer(), key)))
            .collect()
    }

    fn validation(&self, alg: Algorithm, issuer: &str) -> Validation {
        let mut validation = Validation::new(alg);
        validation.leeway = self.leeway_secs;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_audience(&[self.audience.as_str()]);
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation
    }

    /// The scopes of the issuer's client `subject`; with one issuer
    /// configured, a client registered before clients had an issuer stands
    /// for its subject (migrations/20261204190001_client_issuer.sql).
    async fn scopes_of(&self, issuer: String, subject: String) -> Result<Vec<Scope>, ApiError> {
        let clients = self.clients.clone();
        let unassigned_too = self.issuers.len() == 1;
        let key = (issuer.clone(), subject.clone());
        let looked_up = self
            .scopes
            .try_get_with(key, async move {
                let mut scopes = clients.scopes_of(&issuer, &subject).await?;
                if scopes.is_none() && unassigned_too {
                    scopes = clients.scopes_of(UNASSIGNED_ISSUER, &subject).await?;
                }
                Ok::<_, linebacker_domain::DomainError>(scopes.map(Arc::new))
            })
            .await;
        match looked_up {
            Ok(Some(scopes)) => Ok(scopes.to_vec()),
            Ok(None) => Err(ApiError::new(ErrorCode::Forbidden, "the client is not registered")),
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "answering 503: cannot read the client's scopes");
                Err(ApiError::unavailable(self.retry_after_secs))
            }
        }
    }
}

/// The token of `Authorization: Bearer <token>`.
fn bearer_token(authorization: Option<&str>) -> Result<&str, ApiError> {
    let header = authorization.ok_or_else(|| invalid_token("a bearer token is required"))?;
    if header.len() > MAX_TOKEN_BYTES {
        return Err(invalid_token("the Authorization header is too long"));
    }
    let (scheme, token) = header.split_once(' ').ok_or_else(|| invalid_token("the Authorization header must be Bearer <token>"))?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(invalid_token("the Authorization header must be Bearer <token>"));
    }
    Ok(token)
}

fn invalid_token(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::Unauthorized, message)
}

/// Why a token failed, in words that name no key and no claim value.
fn why_invalid(kind: ErrorKind) -> String {
    match kind {
        ErrorKind::ExpiredSignature => "the token has expired".to_owned(),
        ErrorKind::ImmatureSignature => "the token is not valid yet".to_owned(),
        ErrorKind::InvalidIssuer => "the token's issuer is not accepted".to_owned(),
        ErrorKind::InvalidAudience => "the token is not for this audience".to_owned(),
        ErrorKind::InvalidSignature => "the token's signature does not verify".to_owned(),
        ErrorKind::MissingRequiredClaim(claim) => format!("the token has no {claim} claim"),
        ErrorKind::InvalidClaimFormat(claim) => format!("the token's {claim} claim is malformed"),
        _ => "the token is invalid".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_a_bearer_scheme_with_a_token_is_a_token() {
        assert_eq!(bearer_token(Some("Bearer abc")).unwrap(), "abc");
        assert_eq!(bearer_token(Some("bearer abc")).unwrap(), "abc");
        for header in [None, Some("Basic abc"), Some("Bearer"), Some("Bearer  "), Some("abc")] {
            assert_eq!(bearer_token(header).unwrap_err().code, ErrorCode::Unauthorized, "{header:?}");
        }
        let long = format!("Bearer {}", "a".repeat(MAX_TOKEN_BYTES));
        assert_eq!(bearer_token(Some(&long)).unwrap_err().code, ErrorCode::Unauthorized);
    }
}
