//! The adapter against an HTTPS job service run by the test (rustls, with a
//! certificate for `localhost` from `scripts/tls-servers.sh`): the test CA
//! given as `backup_job_service.ca_file` verifies it; another CA or another
//! host name is refused, transiently (a worker retries and its breaker
//! opens), with rustls' reason; and calls work again once the server's
//! certificate is fixed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use linebacker_backup_job_http::HttpBackupJobService;
use linebacker_domain::ports::BackupJobService;
use linebacker_domain::{BackupJobId, DomainError};
use linebacker_testkit::tls::tls_file;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

const JOB: &str = r#"{"backupJobId":"job-17","storagePathName":"/store/17","backupProviderCode":"CloudB","daysToKeep":30,"isActive":true,"holdFlag":false}"#;

/// A TLS server config presenting the certificate `name`.pem.
fn server_config(name: &str) -> Arc<ServerConfig> {
    let certs = CertificateDer::pem_file_iter(tls_file(&format!("{name}.pem")))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(tls_file(&format!("{name}.key"))).unwrap();
    Arc::new(ServerConfig::builder().with_no_client_auth().with_single_cert(certs, key).unwrap())
}

/// An HTTPS job service answering job-17 on 127.0.0.1, presenting whatever
/// certificate `current` holds when a connection comes.
async fn https_server(current: Arc<RwLock<Arc<ServerConfig>>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = TlsAcceptor::from(current.read().unwrap().clone());
            tokio::spawn(async move {
                let Ok(mut stream) = acceptor.accept(socket).await else { return };
                let mut buffer = [0u8; 4096];
                let _ = stream.read(&mut buffer).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{JOB}",
                    JOB.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    port
}

fn service(host: &str, port: u16, ca_file: Option<PathBuf>) -> HttpBackupJobService {
    HttpBackupJobService::new(&format!("https://{host}:{port}"), Duration::from_secs(5), ca_file.as_deref()).unwrap()
}

fn job_17() -> BackupJobId {
    BackupJobId::try_from("job-17").unwrap()
}

async fn refusal(service: &HttpBackupJobService) -> String {
    match service.find_job(&job_17()).await {
        Err(DomainError::Unavailable(error)) => format!("{error:#}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn the_test_ca_verifies_the_https_job_service() {
    let port = https_server(Arc::new(RwLock::new(server_config("server")))).await;
    let job = service("localhost", port, Some(tls_file("ca.pem"))).find_job(&job_17()).await.unwrap().unwrap();
    assert_eq!(job.storage_path_name, "/store/17");
}

#[tokio::test]
async fn without_the_ca_file_only_the_system_store_is_trusted_and_the_test_ca_is_not_in_it() {
    let port = https_server(Arc::new(RwLock::new(server_config("server")))).await;
    let reason = refusal(&service("localhost", port, None)).await;
    assert!(reason.contains("TLS certificate not accepted") && reason.contains("UnknownIssuer"), "{reason}");
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused_with_the_reason() {
    let port = https_server(Arc::new(RwLock::new(server_config("server")))).await;
    let reason = refusal(&service("localhost", port, Some(tls_file("wrong-ca.pem")))).await;
    assert!(reason.contains("backup job service") && reason.contains("UnknownIssuer"), "{reason}");
}

#[tokio::test]
async fn a_wrong_host_name_is_refused_with_the_reason() {
    let port = https_server(Arc::new(RwLock::new(server_config("server")))).await;
    let reason = refusal(&service("127.0.0.1", port, Some(tls_file("ca.pem")))).await;
    assert!(reason.contains("TLS certificate not accepted") && reason.contains(r#"not valid for name "127.0.0.1""#), "{reason}");
}

#[tokio::test]
async fn calls_work_again_once_the_server_presents_a_certificate_the_client_trusts() {
    let current = Arc::new(RwLock::new(server_config("wrong-server")));
    let port = https_server(current.clone()).await;
    let client = service("localhost", port, Some(tls_file("ca.pem")));
    let reason = refusal(&client).await;
    assert!(reason.contains("UnknownIssuer"), "{reason}");
    *current.write().unwrap() = server_config("server");
    assert!(client.find_job(&job_17()).await.unwrap().is_some());
}
