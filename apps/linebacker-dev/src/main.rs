//! Dev mode (SPEC §7): every component of linebacker in one process, with
//! the simulated job service and BZI named first so that the workers use
//! them, on the in-memory bus: it needs PostgreSQL alone.
//! `LINEBACKER__BUS__KIND=rabbitmq` puts it on the broker instead.

use std::process::ExitCode;

use linebacker_platform::Process;
use linebacker_receiver::{HttpService, ReconciliationSweep, Retention, StartupRecovery};
use linebacker_simulator::SimulatedSystems;
use linebacker_workers::{CheckAllowed, InterfaceListener, ReceiveStatus, SendToInterface};

#[tokio::main]
async fn main() -> ExitCode {
    Process::new("linebacker-dev")
        .in_memory()
        .with(SimulatedSystems)
        .with(CheckAllowed)
        .with(SendToInterface)
        .with(InterfaceListener)
        .with(ReceiveStatus)
        .with(StartupRecovery)
        .with(ReconciliationSweep)
        .with(Retention)
        .with(HttpService::default())
        .run()
        .await
}
