//! PostgreSQL over TLS, against the TLS cluster of `scripts/tls-servers.sh`
//! (port 5433, a certificate for `localhost` signed by the test CA): the
//! `sslmode` of `database.url` and `database.ca_file` decide, verification
//! fails with rustls' reason, and a pool recovers once its CA file is fixed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use linebacker_domain::DomainError;
use linebacker_postgres::{Database, PgConfig, map_sqlx_error};
use linebacker_runtime::settings::DatabaseSettings;
use linebacker_testkit::tls::{POSTGRES_TLS_PORT, own_copy, replace_file, tls_file};
use secrecy::SecretString;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

fn options(host: &str, port: u16, sslmode: &str, ca_file: Option<PathBuf>) -> PgConnectOptions {
    DatabaseSettings {
        url: SecretString::from(format!("postgres://postgres@{host}:{port}/postgres?sslmode={sslmode}")),
        ca_file,
        max_connections: 2,
        acquire_timeout_ms: 1000,
        migrate_on_start: false,
    }
    .connect_options()
    .unwrap()
}

async fn connection_error(options: &PgConnectOptions) -> String {
    let error = PgConnection::connect_with(options).await.map(drop).expect_err("the connection must be refused");
    let text = error.to_string();
    assert!(matches!(map_sqlx_error(error), DomainError::Unavailable(_)), "a worker retries it: {text}");
    text
}

#[tokio::test]
async fn verify_full_with_the_test_ca_connects_over_tls() {
    let options = options("localhost", POSTGRES_TLS_PORT, "verify-full", Some(tls_file("ca.pem")));
    let mut connection = PgConnection::connect_with(&options).await.unwrap();
    let encrypted: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    assert!(encrypted, "the server sees a TLS connection");
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused_with_the_reason() {
    let options = options("localhost", POSTGRES_TLS_PORT, "verify-full", Some(tls_file("wrong-ca.pem")));
    let error = connection_error(&options).await;
    assert!(error.contains("UnknownIssuer"), "{error}");
}

#[tokio::test]
async fn a_wrong_host_name_is_refused_with_the_reason() {
    let full = options("127.0.0.1", POSTGRES_TLS_PORT, "verify-full", Some(tls_file("ca.pem")));
    let error = connection_error(&full).await;
    assert!(error.contains(r#"not valid for name "127.0.0.1""#), "{error}");
}

#[tokio::test]
async fn verify_ca_and_require_with_a_ca_file_verify_the_certificate() {
    for mode in ["verify-ca", "require"] {
        let right = options("localhost", POSTGRES_TLS_PORT, mode, Some(tls_file("ca.pem")));
        PgConnection::connect_with(&right).await.unwrap().close().await.unwrap();
        let wrong = options("localhost", POSTGRES_TLS_PORT, mode, Some(tls_file("wrong-ca.pem")));
        let error = connection_error(&wrong).await;
        assert!(error.contains("UnknownIssuer"), "{mode}: {error}");
    }
}

#[tokio::test]
async fn sslmode_require_never_falls_back_to_plaintext() {
    // A server that answers the TLS request with "N", as one without TLS does.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = [0u8; 8];
            if socket.read_exact(&mut request).await.is_ok() {
                let _ = socket.write_all(b"N").await;
                // Whatever comes next would be in clear: it must not come.
                let mut rest = Vec::new();
                let _ = socket.read_to_end(&mut rest).await;
                assert!(rest.is_empty(), "the client went on in plaintext");
            }
        }
    });
    let error = connection_error(&options("127.0.0.1", port, "require", None)).await;
    assert!(error.contains("server does not support TLS"), "{error}");
}

#[tokio::test]
async fn a_pool_recovers_once_its_ca_file_is_replaced() {
    let ca_file = own_copy("wrong-ca.pem");
    let options = options("localhost", POSTGRES_TLS_PORT, "verify-full", Some(ca_file.clone()));
    let database =
        Database::connect_lazy(&PgConfig { options, max_connections: 2, acquire_timeout: Duration::from_secs(1) })
            .unwrap();
    assert!(!database.is_ready().await, "the wrong CA cannot verify the server");
    replace_file(&ca_file, "ca.pem");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !database.is_ready().await {
        assert!(std::time::Instant::now() < deadline, "still not ready after the CA file was fixed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    std::fs::remove_file(&ca_file).ok();
}
