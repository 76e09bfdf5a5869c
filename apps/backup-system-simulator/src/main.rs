//! The backup system simulator process: settings, logs, the simulator, until
//! SIGINT or SIGTERM.

use std::process::ExitCode;

use linebacker_simulator::{Simulator, SimulatorSettings};
use linebacker_runtime::{shutdown_on_signals, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match SimulatorSettings::load() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("backup-system-simulator: {error}");
            return ExitCode::from(2);
        }
    };
    telemetry::init("backup-system-simulator", 0);
    let run = async {
        let shutdown = shutdown_on_signals()?;
        Simulator::build(settings)?.run_until_stopped(shutdown).await
    };
    match run.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "backup system simulator failed");
            eprintln!("backup-system-simulator: {error:#}");
            ExitCode::FAILURE
        }
    }
}
