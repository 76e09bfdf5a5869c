//! The send-to-interface process: the SendToInterface worker on the platform's lifecycle.

use std::process::ExitCode;

use linebacker_platform::Process;
use linebacker_workers::SendToInterface;

#[tokio::main]
async fn main() -> ExitCode {
    Process::new("send-to-interface").with(SendToInterface).run().await
}
