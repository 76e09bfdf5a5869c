//! The backup job service adapter (SPEC §5): `GET {url}/backup-jobs/{id}`
//! with a timeout. A 404 is an answer (no such job); timeouts, refused
//! connections and 5xx are transient; a 200 that breaks the contract is
//! unexpected, never a panic. An `https://` URL is verified against the
//! system's certificates plus `backup_job_service.ca_file`; a certificate
//! that does not verify is transient too (the breaker opens, `readyz` says
//! so) and its error says why.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use linebacker_domain::external::BackupJob;
use linebacker_domain::ports::BackupJobService;
use linebacker_domain::{BackupJobId, DomainError};
use reqwest::StatusCode;
use tracing::instrument;

pub struct HttpBackupJobService {
    client: reqwest::Client,
    base_url: String,
}

impl HttpBackupJobService {
    /// `ca_file` adds certificate authorities to the system's for `https://`.
    pub fn new(base_url: &str, timeout: Duration, ca_file: Option<&Path>) -> Result<Self, DomainError> {
        let client = linebacker_tls::http_client(timeout, ca_file).map_err(|reason| {
            DomainError::Unexpected(anyhow::anyhow!("backup_job_service.ca_file: {reason}"))
        })?;
        Ok(Self { client, base_url: base_url.trim_end_matches('/').to_owned() })
    }

    fn job_url(&self, id: &BackupJobId) -> String {
        // Job ids are opaque text: escape them into one path segment.
        let segment: String = id
            .as_str()
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                other => format!("%{other:02X}"),
            })
            .collect();
        format!("{}/backup-jobs/{segment}", self.base_url)
    }
}

fn transient(what: impl Into<anyhow::Error>) -> DomainError {
    DomainError::unavailable(what.into().context("backup job service"))
}

/// A call that got no answer; a refused certificate says so and why.
fn no_answer(error: reqwest::Error) -> DomainError {
    let chain = linebacker_tls::cause_chain(&error);
    if linebacker_tls::is_certificate_error(&chain) {
        transient(anyhow::anyhow!("TLS certificate not accepted: {chain}"))
    } else {
        transient(anyhow::anyhow!(chain))
    }
}

#[async_trait]
impl BackupJobService for HttpBackupJobService {
    #[instrument(skip(self), fields(backup_job_id = %id))]
    async fn find_job(&self, id: &BackupJobId) -> Result<Option<BackupJob>, DomainError> {
        let response = self.client.get(self.job_url(id)).send().await.map_err(no_answer)?;
        let status = response.status();
        match status {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Ok(None),
            s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS || s == StatusCode::REQUEST_TIMEOUT => {
                return Err(transient(anyhow::anyhow!("answered {s}")));
            }
            s => {
                return Err(DomainError::Unexpected(anyhow::anyhow!("backup job service answered {s} for job {id}")));
            }
        }
        let body = response.bytes().await.map_err(no_answer)?;
        let job: BackupJob = serde_json::from_slice(&body).map_err(|e| {
            DomainError::Unexpected(anyhow::anyhow!("backup job service sent a malformed job {id}: {e}"))
        })?;
        if job.backup_job_id != *id {
            return Err(DomainError::Unexpected(anyhow::anyhow!(
                "asked for job {id}, the backup job service answered with job {}",
                job.backup_job_id
            )));
        }
        Ok(Some(job))
    }
}
