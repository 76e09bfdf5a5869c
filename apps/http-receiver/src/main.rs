//! The http-receiver process: startup recovery and the HTTP service on the
//! platform's lifecycle.

use std::process::ExitCode;

use linebacker_platform::Process;
use linebacker_receiver::{HttpService, StartupRecovery};

#[tokio::main]
async fn main() -> ExitCode {
    Process::new("http-receiver").with(StartupRecovery).with(HttpService::default()).run().await
}
