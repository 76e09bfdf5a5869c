//! receive-status: records the backup zone interface's replies and, on the
//! first success, the Backup.

use std::process::ExitCode;
use std::sync::Arc;

use linebacker_backup_job_http::HttpBackupJobService;
use linebacker_domain::ports::WorkQueue;
use linebacker_domain::usecase::ReceiveStatus;
use linebacker_platform::run_worker;

#[tokio::main]
async fn main() -> ExitCode {
    run_worker("receive-status", |host| async move {
        let service = &host.settings.backup_job_service;
        let jobs = HttpBackupJobService::new(&service.url, service.timeout(), service.ca_file.as_deref())?;
        let store = host.store();
        let receive = ReceiveStatus::new(store.clone(), store, host.guarded("backup-job-service", jobs));
        host.consume(WorkQueue::ReceiveStatus, Arc::new(receive)).await;
        Ok(())
    })
    .await
}
