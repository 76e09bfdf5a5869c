//! The receive-status process: the ReceiveStatus worker on the platform's lifecycle.

use std::process::ExitCode;

use linebacker_platform::Process;
use linebacker_workers::ReceiveStatus;

#[tokio::main]
async fn main() -> ExitCode {
    Process::new("receive-status").with(ReceiveStatus).run().await
}
