//! check-allowed: asks the backup job service whether each received request
//! is allowed, and records `Allowed` or `NotAllowed`.

use std::process::ExitCode;
use std::sync::Arc;

use linebacker_backup_job_http::HttpBackupJobService;
use linebacker_domain::ports::WorkQueue;
use linebacker_domain::usecase::CheckAllowed;
use linebacker_platform::run_worker;

#[tokio::main]
async fn main() -> ExitCode {
    run_worker("check-allowed", |host| async move {
        let service = &host.settings.backup_job_service;
        let jobs = HttpBackupJobService::new(&service.url, service.timeout(), service.ca_file.as_deref())?;
        let check = CheckAllowed::new(host.store(), host.guarded("backup-job-service", jobs));
        host.consume(WorkQueue::CheckAllowed, Arc::new(check)).await;
        Ok(())
    })
    .await
}
