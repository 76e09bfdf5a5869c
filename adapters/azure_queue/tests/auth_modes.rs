//! The three ways to authorize against the Queue service, each through the
//! whole put / get / delete path, against the Azurite of
//! `scripts/tls-servers.sh` (HTTPS on 10011, `--oauth basic`):
//! - Shared Key, as before;
//! - a SAS token: an account SAS signed with Azurite's key, as the portal or
//!   `az storage account generate-sas` makes one;
//! - Entra ID client credentials, from a token server the test runs that
//!   signs JWTs with the claims Azurite checks (issuer, audience, lifetime).
//!   A token near its expiry is renewed before a call needs it.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use linebacker_azure_queue::testing::{AZURITE_ACCOUNT, AZURITE_KEY, account_sas, azurite_config, unique_queue_name};
use linebacker_azure_queue::{EntraIdCredentials, QueueAuth, QueueClient, QueueServiceConfig};
use linebacker_domain::DomainError;
use linebacker_testkit::tls::{AZURITE_HTTPS_PORT, tls_file};
use secrecy::SecretString;
use sha2::Sha256;
use support::get_within;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const TENANT: &str = "7f1c2b9e-0000-4000-8000-00000000c0de";
const CLIENT_ID: &str = "linebacker-test-app";
const CLIENT_SECRET: &str = "client-s3cret";

fn https_config(auth: QueueAuth) -> QueueServiceConfig {
    QueueServiceConfig {
        account_uri: format!("https://localhost:{AZURITE_HTTPS_PORT}/{AZURITE_ACCOUNT}"),
        ca_file: Some(tls_file("ca.pem")),
        auth,
        ..azurite_config()
    }
}

fn hmac_base64(key: &[u8], text: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    mac.update(text.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

async fn put_get_delete(config: &QueueServiceConfig) -> Result<(), DomainError> {
    let queue = QueueClient::new(config, &unique_queue_name("auth"))?;
    queue.create_if_missing().await?;
    queue.put(r#"{"auth":"ok"}"#).await?;
    let messages = get_within(&queue, Duration::from_secs(5)).await;
    assert_eq!(messages[0].text, r#"{"auth":"ok"}"#);
    queue.delete(&messages[0]).await?;
    queue.delete_queue().await
}

#[tokio::test]
async fn shared_key_works_over_https() {
    put_get_delete(&https_config(QueueAuth::SharedKey)).await.unwrap();
}

#[tokio::test]
async fn a_sas_token_azurite_accepts_carries_the_whole_path() {
    let config = QueueServiceConfig {
        // Not used with a SAS: the key a SAS holder does not have.
        account_key: SecretString::from("bm90LXRoZS1rZXk="),
        ..https_config(QueueAuth::Sas(SecretString::from(format!("?{}", account_sas(AZURITE_KEY, "https").unwrap()))))
    };
    put_get_delete(&config).await.unwrap();
}

#[tokio::test]
async fn a_sas_token_signed_with_another_key_is_refused() {
    let forged = account_sas(&STANDARD.encode(b"some other key"), "https").unwrap();
    let config = https_config(QueueAuth::Sas(SecretString::from(forged)));
    let queue = QueueClient::new(&config, &unique_queue_name("auth")).unwrap();
    let error = queue.create_if_missing().await.unwrap_err().to_string();
    assert!(error.contains("403"), "{error}");
    assert!(!error.contains("sig="), "the signature stays out of errors: {error}");
}

/// A JWT with the claims Azurite's `--oauth basic` checks, signed (HS256)
/// by this token server's own key, valid for `lifetime`.
fn jwt(lifetime: Duration) -> String {
    let now = chrono::Utc::now().timestamp();
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = serde_json::json!({
        "aud": "https://storage.azure.com",
        "iss": format!("https://sts.windows.net/{TENANT}/"),
        "iat": now,
        "nbf": now - 5,
        "exp": now + lifetime.as_secs() as i64,
        "appid": CLIENT_ID,
        "tid": TENANT,
    });
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signature = hmac_base64(b"token-server-signing-key", &format!("{header}.{payload}"));
    let signature = URL_SAFE_NO_PAD.encode(STANDARD.decode(signature).unwrap());
    format!("{header}.{payload}.{signature}")
}

/// A token endpoint (`/{tenant}/oauth2/v2.0/token`) for the client
/// credentials of this test's app, issuing tokens valid for `lifetime`;
/// returns its base URL and how many tokens it issued.
async fn token_server(lifetime: Duration) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let issued = Arc::new(AtomicUsize::new(0));
    let counter = issued.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                // The whole form fits one small request; read until its body.
                while !String::from_utf8_lossy(&request).contains("scope=") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let request = String::from_utf8_lossy(&request).into_owned();
                let expected_path = format!("POST /{TENANT}/oauth2/v2.0/token ");
                let secret = form_urlencoded::Serializer::new(String::new()).append_pair("client_secret", CLIENT_SECRET).finish();
                let (status, body) = if request.starts_with(&expected_path)
                    && request.contains("grant_type=client_credentials")
                    && request.contains(&format!("client_id={CLIENT_ID}"))
                    && request.contains(&secret)
                    && request.contains("scope=https%3A%2F%2Fstorage.azure.com%2F.default")
                {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let token = serde_json::json!({
                        "token_type": "Bearer",
                        "expires_in": lifetime.as_secs(),
                        "access_token": jwt(lifetime),
                    });
                    ("200 OK", token.to_string())
                } else {
                    ("401 Unauthorized", r#"{"error":"invalid_client","error_description":"AADSTS7000215"}"#.to_owned())
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    (format!("http://{address}"), issued)
}

fn entra(authority_url: &str, secret: &str) -> QueueAuth {
    QueueAuth::EntraId(EntraIdCredentials {
        tenant_id: TENANT.to_owned(),
        client_id: CLIENT_ID.to_owned(),
        client_secret: SecretString::from(secret),
        authority_url: authority_url.to_owned(),
    })
}

#[tokio::test]
async fn entra_id_client_credentials_carry_the_whole_path_with_one_cached_token() {
    let (authority, issued) = token_server(Duration::from_secs(3600)).await;
    let config = QueueServiceConfig {
        account_key: SecretString::from("bm90LXRoZS1rZXk="),
        ..https_config(entra(&authority, CLIENT_SECRET))
    };
    put_get_delete(&config).await.unwrap();
    assert_eq!(issued.load(Ordering::SeqCst), 1, "one token serves every call while it is fresh");
}

#[tokio::test]
async fn a_wrong_client_secret_is_refused_without_repeating_it() {
    let (authority, _) = token_server(Duration::from_secs(3600)).await;
    let queue = QueueClient::new(&https_config(entra(&authority, "not-the-secret")), &unique_queue_name("auth")).unwrap();
    let error = queue.create_if_missing().await.unwrap_err().to_string();
    assert!(error.contains("invalid_client") && !error.contains("not-the-secret"), "{error}");
}

#[tokio::test]
async fn a_token_close_to_expiry_is_renewed_before_a_call_needs_it() {
    // 4 s tokens are renewed once half their life is gone.
    let lifetime = Duration::from_secs(4);
    let (authority, issued) = token_server(lifetime).await;
    let queue = QueueClient::new(&https_config(entra(&authority, CLIENT_SECRET)), &unique_queue_name("auth")).unwrap();
    queue.create_if_missing().await.unwrap();
    assert_eq!(issued.load(Ordering::SeqCst), 1);

    // Azurite refuses an expired token: renewal is what keeps calls working.
    let expired = jwt(Duration::ZERO);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(tls_file("ca.pem")).unwrap()).unwrap())
        .build()
        .unwrap();
    let refused = http
        .get(format!("https://localhost:{AZURITE_HTTPS_PORT}/{AZURITE_ACCOUNT}/{}?comp=metadata", queue.name()))
        .header("x-ms-version", "2021-12-02")
        .bearer_auth(&expired)
        .send()
        .await
        .unwrap();
    assert!(refused.status().is_client_error(), "Azurite took an expired token: {}", refused.status());

    let mut calls = 0;
    let started = std::time::Instant::now();
    while started.elapsed() < lifetime * 2 {
        queue.approximate_count().await.unwrap();
        calls += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let tokens = issued.load(Ordering::SeqCst);
    assert!(tokens >= 3, "{calls} calls over two lifetimes took {tokens} tokens");
    queue.delete_queue().await.unwrap();
}
