//! A token issuer of the test's own: signing keys made in the test, a JWKS
//! served over real HTTP on a free port (counting its fetches), and tokens
//! signed with those keys.

#![allow(clippy::expect_used)] // test support: a key that cannot be made is the failure

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A private key with its `kid`, and its public half as a JWK.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub alg: Algorithm,
    encoding: EncodingKey,
    pub jwk: Jwk,
    /// The public key as DER, for tests that misuse it as an HMAC secret.
    pub public_der: Vec<u8>,
}

impl SigningKey {
    /// A new 2048-bit RSA key for RS256.
    pub fn rsa(kid: &str) -> Self {
        use rsa::Generate;
        use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
        let private = rsa::PrivateKey::generate();
        let der = private.to_pkcs1_der().expect("encoding the RSA key");
        let public_der = private.to_public_key().to_pkcs1_der().expect("encoding the RSA public key");
        Self::from_der(kid, Algorithm::RS256, EncodingKey::from_rsa_der(der.as_bytes()), public_der.as_bytes().to_vec())
    }

    /// A new P-256 key for ES256.
    pub fn ec(kid: &str) -> Self {
        use p256::elliptic_curve::Generate;
        use p256::pkcs8::{EncodePrivateKey, EncodePublicKey};
        let private = p256::SecretKey::generate();
        let der = private.to_pkcs8_der().expect("encoding the EC key");
        let public_der = private.public_key().to_public_key_der().expect("encoding the EC public key");
        Self::from_der(kid, Algorithm::ES256, EncodingKey::from_ec_der(der.as_bytes()), public_der.as_bytes().to_vec())
    }

    fn from_der(kid: &str, alg: Algorithm, encoding: EncodingKey, public_der: Vec<u8>) -> Self {
        let mut jwk = Jwk::from_encoding_key(&encoding, alg).expect("the public JWK");
        jwk.common.key_id = Some(kid.to_owned());
        Self { kid: kid.to_owned(), alg, encoding, jwk, public_der }
    }

    /// The same key under another `kid`.
    pub fn with_kid(&self, kid: &str) -> Self {
        let mut key = self.clone();
        key.kid = kid.to_owned();
        key.jwk.common.key_id = Some(kid.to_owned());
        key
    }

    /// `claims` signed with this key, its `kid` in the header.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("signing a token")
    }
}

/// Claims valid now: `iss`, `aud`, `sub`, issued a moment ago, for 5 minutes.
pub fn claims(issuer: &str, audience: &str, sub: &str) -> Value {
    let now = chrono_now();
    json!({ "iss": issuer, "aud": audience, "sub": sub, "iat": now, "nbf": now - 5, "exp": now + 300 })
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}

/// An issuer whose JWKS is served on `jwks_url` until it is dropped.
pub struct TestIssuer {
    pub issuer: String,
    pub jwks_url: String,
    keys: Arc<Mutex<Vec<Jwk>>>,
    fetches: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl TestIssuer {
    /// Serves an empty JWKS on a free port of 127.0.0.1.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding the JWKS port");
        let port = listener.local_addr().expect("the JWKS port").port();
        let keys: Arc<Mutex<Vec<Jwk>>> = Arc::default();
        let fetches = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(serve(listener, keys.clone(), fetches.clone()));
        Self {
            issuer: format!("http://127.0.0.1:{port}/"),
            jwks_url: format!("http://127.0.0.1:{port}/.well-known/jwks.json"),
            keys,
            fetches,
            task,
        }
    }

    /// From now on the JWKS holds exactly these keys.
    pub fn publish(&self, keys: &[&SigningKey]) {
        *self.keys.lock().expect("the JWKS lock") = keys.iter().map(|key| key.jwk.clone()).collect();
    }

    /// How many times the JWKS was fetched.
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A minimal HTTP/1.1 server: every request gets the JWKS, then the
/// connection closes.
async fn serve(listener: TcpListener, keys: Arc<Mutex<Vec<Jwk>>>, fetches: Arc<AtomicUsize>) {
    while let Ok((mut stream, _)) = listener.accept().await {
        let keys = keys.clone();
        let fetches = fetches.clone();
        tokio::spawn(async move {
            let mut request = Vec::new();
            let mut buffer = [0u8; 1024];
            while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(read) => request.extend_from_slice(&buffer[..read]),
                }
            }
            fetches.fetch_add(1, Ordering::SeqCst);
            let set = JwkSet { keys: keys.lock().map(|keys| keys.clone()).unwrap_or_default() };
            let body = serde_json::to_vec(&set).unwrap_or_default();
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(&body).await;
            let _ = stream.shutdown().await;
        });
    }
}
