//! The http-receiver process: startup recovery, the reconciliation sweep,
//! retention passes and the HTTP service on the platform's lifecycle.

use std::process::ExitCode;

use linebacker_platform::Process;
use linebacker_receiver::{HttpService, ReconciliationSweep, Retention, StartupRecovery};

#[tokio::main]
async fn main() -> ExitCode {
    Process::new("http-receiver")
        .with(StartupRecovery)
        .with(ReconciliationSweep)
        .with(Retention)
        .with(HttpService::default())
        .run()
        .await
}
