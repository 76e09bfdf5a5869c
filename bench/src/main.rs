//! `linebacker-bench`: the measurements behind `scripts/bench.sh`. Each
//! subcommand measures one thing against a running system (or one of the
//! servers it stands on) and prints one JSON object; `report` joins them into
//! the report and its markdown summary. The script starts and stops the
//! system; this binary only measures.

mod bounds;
mod load;
mod pipeline;
mod process;
mod recovery;
mod retention;
mod report;
mod stats;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Measures linebacker and the bounds of the machine it runs on")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// POSTs from N concurrent clients for a while, at each concurrency.
    Intake {
        #[arg(long)]
        url: String,
        #[arg(long)]
        database_url: String,
        #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
        clients: Vec<usize>,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
    /// POSTs N requests as fast as 64 clients can, then follows them to
    /// `Sent` and to their terminal status.
    Pipeline {
        #[arg(long)]
        url: String,
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value_t = 20_000)]
        requests: usize,
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// Pids of the processes to charge CPU to, as name=pid.
        #[arg(long = "pid", value_parser = process::parse_named_pid)]
        pids: Vec<(String, u32)>,
        /// Azure queues (of the development account) whose depth to sample.
        #[arg(long, value_delimiter = ',')]
        azure_queues: Vec<String>,
    },
    /// POSTs at a steady rate and measures POST → `Sent` (or `Succeeded`).
    Steady {
        #[arg(long)]
        url: String,
        #[arg(long)]
        database_url: String,
        #[arg(long)]
        rate: u32,
        #[arg(long)]
        seconds: u64,
        #[arg(long, value_enum, default_value = "sent")]
        until: pipeline::Stage,
        /// The name of this measurement in the report.
        #[arg(long)]
        name: String,
    },
    /// The receiver's transaction under pgbench, at each concurrency.
    Pgbench {
        #[arg(long)]
        database_url: String,
        #[arg(long)]
        script: PathBuf,
        #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
        clients: Vec<usize>,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
    /// Raw persistent publishes with confirms and consumes with acks on a
    /// quorum queue of its own.
    Broker {
        #[arg(long)]
        amqp_url: String,
        #[arg(long, default_value_t = 50_000)]
        messages: usize,
    },
    /// Raw put + get + delete cycles on an Azure queue of its own.
    Azurite {
        #[arg(long, default_value_t = 5_000)]
        cycles: usize,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
    },
    /// Stores requests `Received` an hour ago, as a crash leaves them, for
    /// the receiver's startup recovery to find.
    Stall {
        #[arg(long)]
        database_url: String,
        /// The start of their `preparedDataPathName`.
        #[arg(long)]
        mark: String,
        #[arg(long, default_value_t = 100_000)]
        requests: u32,
    },
    /// Waits for startup recovery to re-emit the stalled requests while
    /// live clients post, and measures both.
    Recovery {
        #[arg(long)]
        url: String,
        #[arg(long)]
        database_url: String,
        #[arg(long)]
        mark: String,
        #[arg(long, default_value_t = 100_000)]
        requests: u32,
        /// Live requests a second meanwhile.
        #[arg(long, default_value_t = 200)]
        live_rate: u32,
    },
    /// Stores terminal requests past every retention, with their history
    /// and Backups (a tenth still due), for a pruning pass to delete.
    Terminal {
        #[arg(long)]
        database_url: String,
        #[arg(long)]
        mark: String,
        #[arg(long, default_value_t = 1_000_000)]
        requests: u32,
    },
    /// Live requests before and during a pruning pass (`--`, then the
    /// command that runs one), and what the pass deleted and kept.
    Prune {
        #[arg(long)]
        url: String,
        #[arg(long)]
        database_url: String,
        #[arg(long)]
        mark: String,
        #[arg(long, default_value_t = 1_000_000)]
        requests: u32,
        #[arg(long, default_value_t = 200)]
        live_rate: u32,
        /// Seconds of live requests before the pass, for comparison.
        #[arg(long, default_value_t = 10)]
        baseline_seconds: u64,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Resident memory (now and peak) and CPU time of each process.
    Processes {
        #[arg(long = "pid", value_parser = process::parse_named_pid)]
        pids: Vec<(String, u32)>,
    },
    /// Joins the measurements of a run directory into report.json and
    /// summary.md.
    Report {
        #[arg(long)]
        dir: PathBuf,
    },
    /// Joins the reports of the runs in a directory (run-1/, run-2/, ...)
    /// into report.json and summary.md: each target's median.
    Medians {
        #[arg(long)]
        dir: PathBuf,
    },
    /// Fails unless a report of runs holds every measurement of each run and
    /// a median for every target (its form, not its timings).
    Check {
        #[arg(long)]
        report: PathBuf,
    },
    /// Deletes Azure queues of the development account (a run's own).
    DeleteQueues {
        #[arg(long, value_delimiter = ',')]
        names: Vec<String>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let value = match Cli::parse().command {
        Command::Intake { url, database_url, clients, seconds } => {
            load::intake(&url, &database_url, &clients, Duration::from_secs(seconds)).await?
        }
        Command::Pipeline { url, database_url, requests, clients, pids, azure_queues } => {
            pipeline::run(&url, &database_url, requests, clients, &pids, azure_queues).await?
        }
        Command::Steady { url, database_url, rate, seconds, until, name } => {
            pipeline::steady(&url, &database_url, rate, Duration::from_secs(seconds), until, &name).await?
        }
        Command::Pgbench { database_url, script, clients, seconds } => {
            bounds::pgbench(&database_url, &script, &clients, seconds)?
        }
        Command::Broker { amqp_url, messages } => bounds::broker(&amqp_url, messages).await?,
        Command::Azurite { cycles, concurrency } => bounds::azurite(cycles, concurrency).await?,
        Command::Stall { database_url, mark, requests } => recovery::stall(&database_url, &mark, requests).await?,
        Command::Recovery { url, database_url, mark, requests, live_rate } => {
            recovery::watch(&url, &database_url, &mark, requests, live_rate).await?
        }
        Command::Terminal { database_url, mark, requests } => retention::terminal(&database_url, &mark, requests).await?,
        Command::Prune { url, database_url, mark, requests, live_rate, baseline_seconds, command } => {
            let baseline = Duration::from_secs(baseline_seconds);
            retention::prune(&url, &database_url, &mark, requests, live_rate, baseline, &command).await?
        }
        Command::Processes { pids } => process::sample_all(&pids)?,
        Command::Report { dir } => report::write(&dir)?,
        Command::Medians { dir } => report::write_medians(&dir)?,
        Command::Check { report } => report::check(&report)?,
        Command::DeleteQueues { names } => bounds::delete_queues(&names).await?,
    };
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}
