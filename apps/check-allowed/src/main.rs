//! The check-allowed process: the CheckAllowed worker on the platform's lifecycle.

use std::process::ExitCode;

use linebacker_platform::Process;
use linebacker_workers::CheckAllowed;

#[tokio::main]
async fn main() -> ExitCode {
    Process::new("check-allowed").with(CheckAllowed).run().await
}
