//! `linebacker-admin prune [--dry-run]`: one retention pass (SPEC §10) run
//! from here, as a receiver runs them every `retention.interval_secs`, under
//! the same pruning lock; `--dry-run` counts what a pass would delete and
//! deletes nothing. One line per status: `Failed: 10`.

use std::sync::Arc;

use linebacker_domain::usecase::{PruneRequests, PrunedCounts, Pruning};
use linebacker_postgres::Database;
use linebacker_runtime::{Settings, TokioTimer};

pub async fn run(settings: &Settings, database: &Database, dry_run: bool) -> anyhow::Result<()> {
    let prune = PruneRequests::new(Arc::new(database.store()), Arc::new(TokioTimer), settings.retention.policy());
    let now = chrono::Utc::now();
    let counts = if dry_run {
        prune.preview(now).await?
    } else {
        match prune.execute(now).await? {
            Pruning::Completed(counts) => counts,
            Pruning::Busy => anyhow::bail!("another process is pruning right now; nothing was deleted, try again later"),
        }
    };
    print!("{}", lines(&counts));
    Ok(())
}

fn lines(counts: &PrunedCounts) -> String {
    counts.iter().map(|(status, count)| format!("{}: {count}\n", status.as_str())).collect()
}
