//! Who is calling and what it may do (SPEC §8), as actix extractors.
//!
//! A handler names what it needs in its signature and cannot forget it:
//!
//! - `caller: Caller`: a valid bearer token of a registered client, no
//!   particular scope (for routes that decide themselves, such as cancel:
//!   `operate` or the caller's own request);
//! - `caller: Authorized<ReadHealth>`: the same, holding the `read-health`
//!   scope; likewise `PostBackupRequest`, `GetBackupRequest`, `Operate`.
//!
//! Both refuse a state-changing request that a web page could have sent
//! (see `state_change`), before anything else.
//!
//! A missing or invalid token is `401 Unauthorized` with
//! `WWW-Authenticate: Bearer error="invalid_token"`; an unknown client or a
//! missing scope is `403 Forbidden`; both in the JSON error shape. With
//! `auth.enabled = false` every extractor yields `Caller::anonymous()`: every
//! scope, an empty client id. The token itself is never logged.

use std::future::Future;
use std::marker::PhantomData;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpRequest, web};
use jsonwebtoken::Algorithm;
use linebacker_domain::{ClientAuthorizations, RequesterId};
use linebacker_runtime::Settings;
use linebacker_runtime::settings::AppEnv;
use tokio_util::sync::CancellationToken;

mod bearer;
mod jwks;

pub use bearer::BearerAuth;

pub use linebacker_domain::Scope;

use crate::error::{ApiError, ErrorCode};

/// An authenticated caller: its requester id (stored with its requests: the
/// token's `sub`, with its issuer when several are configured, see
/// `bearer`) and its scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    requester_id: RequesterId,
    scopes: Vec<Scope>,
}

impl Caller {
    /// The caller when auth is off: no identity, every scope.
    pub fn anonymous() -> Self {
        Self { requester_id: RequesterId::anonymous(), scopes: Scope::ALL.to_vec() }
    }

    /// A verified client with the scopes it was granted.
    pub fn client(requester_id: RequesterId, scopes: Vec<Scope>) -> Self {
        Self { requester_id, scopes }
    }

    /// The requester id; empty when auth is off.
    pub fn client_id(&self) -> &str {
        self.requester_id.as_str()
    }

    /// The same identity, as stored with the caller's requests.
    pub fn requester_id(&self) -> RequesterId {
        self.requester_id.clone()
    }

    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    pub fn scopes(&self) -> &[Scope] {
        &self.scopes
    }

    /// Whether the caller may see a request of `requester`: its own, or any
    /// with `read-health`. A request it may not see is answered 404, so that
    /// ids are not confirmed to strangers.
    pub fn may_read_requests_of(&self, requester: &RequesterId) -> bool {
        self.has(Scope::ReadHealth) || &self.requester_id == requester
    }

    /// `403` unless the caller holds `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.has(scope) {
            Ok(())
        } else {
            Err(ApiError::new(ErrorCode::Forbidden, format!("this needs the {scope} scope")))
        }
    }
}

/// A scope a handler requires, named as a type: `Authorized<Operate>`.
pub trait RequiredScope {
    const SCOPE: Scope;
}

macro_rules! scope_markers {
    ($($marker:ident),+ $(,)?) => {$(
        #[doc = concat!("Requires `Scope::", stringify!($marker), "`.")]
        #[derive(Debug, Clone, Copy)]
        pub struct $marker;

        impl RequiredScope for $marker {
            const SCOPE: Scope = Scope::$marker;
        }
    )+};
}

scope_markers!(PostBackupRequest, GetBackupRequest, ReadHealth, Operate);

/// A caller that holds the scope `S`.
#[derive(Debug, Clone)]
pub struct Authorized<S> {
    caller: Caller,
    scope: PhantomData<S>,
}

impl<S> Authorized<S> {
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    pub fn into_caller(self) -> Caller {
        self.caller
    }
}

impl<S> Deref for Authorized<S> {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.caller
    }
}

/// The signature algorithms a token may use: asymmetric only.
pub const ACCEPTED_ALGORITHMS: [Algorithm; 4] = [Algorithm::RS256, Algorithm::PS256, Algorithm::ES256, Algorithm::EdDSA];

/// How callers are authenticated: not at all (`auth.enabled = false`), or
/// with bearer tokens.
#[derive(Clone)]
pub enum Authenticator {
    Off,
    Bearer {
        auth: Arc<BearerAuth>,
        /// Where the JWKS fetches and the client lookups run: the main
        /// runtime, which owns the pools (see `ApiState::on_main_runtime`).
        runtime: tokio::runtime::Handle,
    },
}

impl Authenticator {
    /// The authenticator `auth.*` asks for. With bearer tokens, keeps every
    /// issuer's keys fresh in the background until `stop`.
    pub fn from_settings(
        settings: &Settings,
        clients: Arc<dyn ClientAuthorizations>,
        stop: CancellationToken,
    ) -> anyhow::Result<Self> {
        if !settings.auth.enabled {
            if settings.app_env != AppEnv::Test {
                tracing::warn!("auth.enabled = false: every caller may do everything, with no identity");
            }
            return Ok(Self::Off);
        }
        let auth = Arc::new(BearerAuth::new(&settings.auth, clients, settings.http.retry_after_secs)?);
        tokio::spawn(auth.clone().keep_keys_fresh(stop));
        Ok(Self::Bearer { auth, runtime: tokio::runtime::Handle::current() })
    }

    /// The caller a request's `Authorization` header names.
    pub async fn authenticate(&self, authorization: Option<String>) -> Result<Caller, ApiError> {
        match self {
            Self::Off => Ok(Caller::anonymous()),
            Self::Bearer { auth, runtime } => {
                let auth = auth.clone();
                runtime
                    .spawn(async move { auth.authenticate(authorization.as_deref()).await })
                    .await
                    .map_err(|error| {
                        tracing::error!(error = %error, "answering 500: authenticating a request failed");
                        ApiError::new(ErrorCode::Internal, "internal error")
                    })?
            }
        }
    }
}

/// Refuses a state-changing request a web page could have sent.
///
/// A page the operator happens to open may send a cross-site form or text
/// POST without asking (no CORS preflight), with the operator's cookies or,
/// with auth off, with no credential needed at all. So every request that
/// changes something (any method but GET, HEAD and OPTIONS) must come from
/// no page or from this receiver's own (`Sec-Fetch-Site` neither
/// `cross-site` nor `same-site`, an `Origin`, when sent, naming the host it
/// was sent to: 403), and must declare a JSON body (415), which a page can
/// only send cross-site after a preflight this receiver never grants.
/// Bodiless actions send `{}`.
fn state_change(request: &HttpRequest) -> Result<(), ApiError> {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let headers = request.headers();
    let fetch_site = headers.get("sec-fetch-site").map(|site| site.as_bytes().to_ascii_lowercase());
    if matches!(fetch_site.as_deref(), Some(b"cross-site" | b"same-site")) {
        return Err(ApiError::new(ErrorCode::Forbidden, "state-changing requests from another site are refused"));
    }
    if let Some(origin) = headers.get(header::ORIGIN)
        && !is_own_origin(origin.as_bytes(), request.connection_info().host())
    {
        return Err(ApiError::new(ErrorCode::Forbidden, "state-changing requests from another origin are refused"));
    }
    if !is_json(request) {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "state-changing requests must be sent as application/json (with the body {} when there is nothing else to send)",
        ));
    }
    Ok(())
}

/// Whether `origin` (`scheme://host[:port]`) names `host` (the request's
/// `Host`, or the one a proxy forwarded). `null` and anything unparsable
/// are foreign.
fn is_own_origin(origin: &[u8], host: &str) -> bool {
    let Ok(origin) = std::str::from_utf8(origin) else { return false };
    let Some((_, authority)) = origin.split_once("://") else { return false };
    !authority.is_empty() && authority.eq_ignore_ascii_case(host)
}

/// Whether the request's body is declared as JSON (`application/json` or
/// `application/*+json`).
pub fn is_json(request: &HttpRequest) -> bool {
    use actix_web::HttpMessage;
    matches!(
        request.mime_type(),
        Ok(Some(mime)) if mime.type_() == "application"
            && (mime.subtype() == "json" || mime.suffix().is_some_and(|suffix| suffix == "json"))
    )
}

type Extracted<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let refused = state_change(request).err();
        let authenticator = request.app_data::<web::Data<Authenticator>>().cloned();
        let authorization = request
            .headers()
            .get(header::AUTHORIZATION)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        Box::pin(async move {
            if let Some(refused) = refused {
                return Err(refused);
            }
            let Some(authenticator) = authenticator else {
                // A server built without an authenticator lets nobody in.
                tracing::error!("answering 500: no authenticator is configured");
                return Err(ApiError::new(ErrorCode::Internal, "internal error"));
            };
            authenticator.authenticate(authorization).await
        })
    }
}

impl<S: RequiredScope + 'static> FromRequest for Authorized<S> {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = Caller::from_request(request, payload);
        Box::pin(async move {
            let caller = caller.await?;
            caller.require(S::SCOPE)?;
            Ok(Self { caller, scope: PhantomData })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_origin_naming_the_requests_own_host_is_its_own() {
        assert!(is_own_origin(b"http://127.0.0.1:8080", "127.0.0.1:8080"));
        assert!(is_own_origin(b"https://Receiver.example", "receiver.example"));
        for (origin, host) in [
            (&b"http://evil.example"[..], "127.0.0.1:8080"),
            (b"http://127.0.0.1:9999", "127.0.0.1:8080"),
            (b"null", "127.0.0.1:8080"),
            (b"http://", ""),
            (b"\xff", "127.0.0.1:8080"),
        ] {
            assert!(!is_own_origin(origin, host), "{origin:?} on {host}");
        }
    }
}
