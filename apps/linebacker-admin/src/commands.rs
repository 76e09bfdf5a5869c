//! The commands of `linebacker-admin` and what each runs.

use clap::{Parser, Subcommand};
use linebacker_postgres::{Database, PgConfig};
use linebacker_runtime::Settings;

use crate::{clients, dead_letters, prune};

/// Operator commands for linebacker. Settings come from the same files and
/// `LINEBACKER__*` variables as the processes (APP_ENV, LINEBACKER_CONFIG_DIR).
#[derive(Debug, Parser)]
#[command(name = "linebacker-admin", version)]
pub struct Cli {
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
    /// Delete the terminal requests past retention.days now, as a receiver's pass does.
    Prune {
        /// Print what a pass would delete, one line per status, and delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

impl Cli {
    /// Runs the command against the system `settings` describe.
    pub async fn run(self, settings: &Settings) -> anyhow::Result<()> {
        match self.command {
            Command::Migrate => migrate(settings).await,
            Command::DeadLetters(command) => dead_letters::run(settings, command).await,
            Command::Clients(command) => {
                let database = connect(settings)?;
                let outcome = clients::run(&database.store(), &settings.auth, command).await;
                database.pool().close().await;
                outcome
            }
            Command::Prune { dry_run } => {
                let database = connect(settings)?;
                let outcome = prune::run(settings, &database, dry_run).await;
                database.pool().close().await;
                outcome
            }
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
