//! `linebacker-admin`: operator commands. `migrate` applies the database
//! migrations for operators who prefer not to let processes migrate at start
//! (`database.migrate_on_start = false`); `dead-letters list|show|replay|purge`
//! operates the parking queues; `clients add|list|remove` manages which
//! clients hold which scopes (SPEC §8).

mod clients;
mod dead_letters;

use std::process::ExitCode;
use clap::{Parser, Subcommand};
use linebacker_postgres::{Database, PgConfig};
use linebacker_runtime::{Settings, telemetry};

/// Operator commands for linebacker. Settings come from the same files and
/// `LINEBACKER__*` variables as the processes (APP_ENV, LINEBACKER_CONFIG_DIR).
#[derive(Debug, Parser)]
#[command(name = "linebacker-admin", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply pending database migrations (idempotent; safe beside running processes).
    Migrate,
    /// List, show, replay or purge the dead letters of a work queue or the poison queue.
    #[command(subcommand)]
    DeadLetters(dead_letters::DeadLetterCommand),
    /// Register, list or remove the clients allowed in with bearer tokens, and their scopes.
    #[command(subcommand)]
    Clients(clients::ClientCommand),
}

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
    telemetry::init("linebacker-admin", settings.instance);
    let outcome = match cli.command {
        Command::Migrate => migrate(&settings).await,
        Command::DeadLetters(command) => dead_letters::run(&settings, command).await,
        Command::Clients(command) => match connect(&settings) {
            Ok(database) => {
                let outcome = clients::run(&database.store(), command).await;
                database.pool().close().await;
                outcome
            }
            Err(error) => Err(error),
        },
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("linebacker-admin: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// One connection to `database.url`: all a command needs.
fn connect(settings: &Settings) -> anyhow::Result<Database> {
    Ok(Database::connect_lazy(&PgConfig { max_connections: 1, ..settings.database.pool_options()? })?)
}

async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let database = connect(settings)?;
    database
        .migrate()
        .await
        .map_err(|error| anyhow::anyhow!("cannot apply migrations (is the database at database.url reachable?): {error:#}"))?;
    database.pool().close().await;
    println!("migrations applied");
    Ok(())
}
