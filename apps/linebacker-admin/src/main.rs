//! `linebacker-admin`: operator commands. `migrate` applies the database
//! migrations for operators who prefer not to let processes migrate at start
//! (`database.migrate_on_start = false`); `dead-letters list|show|replay|purge`
//! operates the parking queues; `clients add|list|remove` manages which
//! clients hold which scopes (SPEC §8); `prune [--dry-run]` runs a retention
//! pass (SPEC §10).

mod clients;
mod commands;
mod dead_letters;
mod prune;

use std::process::ExitCode;

use clap::Parser;
use linebacker_runtime::{Settings, telemetry};

use crate::commands::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("linebacker-admin: {error}");
            return ExitCode::from(2);
        }
    };
    telemetry::init_for_command("linebacker-admin");
    match cli.run(&settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("linebacker-admin: {error:#}");
            ExitCode::FAILURE
        }
    }
}
