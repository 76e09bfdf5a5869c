//! Runs the real `linebacker-admin` binary, bounded in time.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a failed step is the failure

use std::process::{Command, Output};
use std::time::Duration;

use linebacker_testkit::{config_dir, database_env};

/// Runs the binary with `args` against `database_url`, in the test profile.
pub async fn admin(args: &[&str], database_url: &str) -> Output {
    let mut command = tokio::process::Command::from(Command::new(env!("CARGO_BIN_EXE_linebacker-admin")));
    command
        .args(args)
        .envs(database_env(database_url))
        .env("LINEBACKER_CONFIG_DIR", config_dir())
        .kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("linebacker-admin did not finish in time")
        .unwrap()
}
