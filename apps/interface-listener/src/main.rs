//! The interface-listener process: the InterfaceListener worker on the platform's lifecycle.

use std::process::ExitCode;

use linebacker_platform::Process;
use linebacker_workers::InterfaceListener;

#[tokio::main]
async fn main() -> ExitCode {
    Process::new("interface-listener").with(InterfaceListener).run().await
}
