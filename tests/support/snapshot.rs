//! A database snapshot for restore drills: `pg_dump` of a live database to a
//! file (a consistent snapshot while the processes keep writing), restored by
//! dropping the database and loading the dump into a new one of the same
//! name, as an operator restoring a backup would.

use std::path::{Path, PathBuf};

use anyhow::Context;
use linebacker_testkit::postgres_admin_url;
use sqlx::Connection;

pub struct Snapshot {
    path: PathBuf,
}

async fn run(program: &str, args: &[&str]) -> anyhow::Result<()> {
    let output = tokio::process::Command::new(program)
        .args(args)
        .output()
        .await
        .with_context(|| format!("running {program} (is the PostgreSQL client installed?)"))?;
    anyhow::ensure!(
        output.status.success(),
        "{program} failed with {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

fn database_name(url: &str) -> anyhow::Result<&str> {
    url.rsplit_once('/').map(|(_, name)| name).context("the database URL names no database")
}

impl Snapshot {
    /// Dumps the database at `url` into `path` (custom format).
    pub async fn take(url: &str, path: &Path) -> anyhow::Result<Self> {
        let file = path.to_str().context("a snapshot path must be UTF-8")?;
        run("pg_dump", &["--format=custom", "--file", file, "--dbname", url]).await?;
        Ok(Self { path: path.to_owned() })
    }

    /// Replaces the database at `url` with the snapshot. Connections to it
    /// are ended (`WITH (FORCE)`): stop the processes first.
    pub async fn restore(&self, url: &str) -> anyhow::Result<()> {
        let name = database_name(url)?;
        let mut admin = sqlx::PgConnection::connect(&postgres_admin_url()).await?;
        for statement in [format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"), format!("CREATE DATABASE {name}")] {
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement)).execute(&mut admin).await?;
        }
        admin.close().await.ok();
        let file = self.path.to_str().context("a snapshot path must be UTF-8")?;
        run("pg_restore", &["--exit-on-error", "--no-owner", "--dbname", url, file]).await
    }
}
