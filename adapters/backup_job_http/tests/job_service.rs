//! The adapter against HTTP servers that answer the way the real service can:
//! a job, 404, 5xx, a malformed body, or nothing at all in time.

use std::time::{Duration, Instant};

use linebacker_backup_job_http::HttpBackupJobService;
use linebacker_domain::ports::BackupJobService;
use linebacker_domain::{BackupJobId, BackupProviderCode, DomainError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves every connection with `status` and `body`, after `delay`.
async fn server(status: &'static str, body: &'static str, delay: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                tokio::time::sleep(delay).await;
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{address}")
}

fn service(url: &str) -> HttpBackupJobService {
    HttpBackupJobService::new(url, Duration::from_millis(500), None).unwrap()
}

fn job_17() -> BackupJobId {
    BackupJobId::try_from("job-17").unwrap()
}

const JOB: &str = r#"{"backupJobId":"job-17","storagePathName":"/store/17","backupProviderCode":"CloudB","daysToKeep":30,"isActive":true,"holdFlag":false}"#;

#[tokio::test]
async fn a_known_job_is_returned_with_its_settings() {
    let url = server("200 OK", JOB, Duration::ZERO).await;
    let job = service(&url).find_job(&job_17()).await.unwrap().unwrap();
    assert_eq!(job.storage_path_name, "/store/17");
    assert_eq!(job.backup_provider_code, BackupProviderCode::CloudB);
    assert_eq!(job.days_to_keep, 30);
    assert!(job.is_active);
}

#[tokio::test]
async fn a_404_means_the_job_does_not_exist() {
    let url = server("404 Not Found", "{}", Duration::ZERO).await;
    assert_eq!(service(&url).find_job(&job_17()).await.unwrap(), None);
}

#[tokio::test]
async fn server_errors_are_transient() {
    for status in ["500 Internal Server Error", "502 Bad Gateway", "503 Service Unavailable"] {
        let url = server(status, "{}", Duration::ZERO).await;
        let error = service(&url).find_job(&job_17()).await.unwrap_err();
        assert!(matches!(error, DomainError::Unavailable(_)), "{status}: {error:?}");
    }
}

#[tokio::test]
async fn a_slow_service_times_out_as_transient() {
    let url = server("200 OK", JOB, Duration::from_secs(5)).await;
    let started = Instant::now();
    let error = service(&url).find_job(&job_17()).await.unwrap_err();
    assert!(matches!(error, DomainError::Unavailable(_)), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let error = service(&url).find_job(&job_17()).await.unwrap_err();
    assert!(matches!(error, DomainError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn a_malformed_or_mismatched_job_is_unexpected() {
    for body in [
        "not json",
        r#"{"backupJobId":"job-17"}"#,
        r#"{"backupJobId":"job-17","storagePathName":"/s","backupProviderCode":"Tape","daysToKeep":1,"isActive":true,"holdFlag":false}"#,
        r#"{"backupJobId":"job-99","storagePathName":"/s","backupProviderCode":"Local","daysToKeep":1,"isActive":true,"holdFlag":false}"#,
    ] {
        let url = server("200 OK", body, Duration::ZERO).await;
        let error = service(&url).find_job(&job_17()).await.unwrap_err();
        assert!(matches!(error, DomainError::Unexpected(_)), "{body}: {error:?}");
    }
}
