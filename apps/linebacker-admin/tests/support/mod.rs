//! Runs the real `linebacker-admin` binary, bounded in time.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a failed step is the failure
#![allow(dead_code)] // each test file uses a part

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use linebacker_testkit::{config_dir, database_env, unique_name};

/// Runs the binary with `args` against `database_url`, in the test profile.
pub async fn admin(args: &[&str], database_url: &str) -> Output {
    admin_in(&config_dir(), args, database_url).await
}

/// The same, with settings from `dir`.
pub async fn admin_in(dir: &Path, args: &[&str], database_url: &str) -> Output {
    let mut command = tokio::process::Command::from(Command::new(env!("CARGO_BIN_EXE_linebacker-admin")));
    command
        .args(args)
        .envs(database_env(database_url))
        .env("LINEBACKER_CONFIG_DIR", dir)
        .kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("linebacker-admin did not finish in time")
        .unwrap()
}

/// A config directory of its own: the real files, with `auth.issuers` set
/// to `issuers` (a list, which no variable can set). Removed on drop.
pub struct IssuersConfig {
    pub dir: PathBuf,
}

impl IssuersConfig {
    pub fn new(issuers: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(unique_name("lb-admin-config"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(config_dir().join("default.toml"), dir.join("default.toml")).unwrap();
        let listed: Vec<String> = issuers
            .iter()
            .map(|issuer| format!("{{ issuer = \"{issuer}\", jwks_url = \"{issuer}/jwks\" }}"))
            .collect();
        let test = std::fs::read_to_string(config_dir().join("test.toml")).unwrap();
        let test = test.replacen("[auth]\n", &format!("[auth]\nissuers = [{}]\n", listed.join(", ")), 1);
        std::fs::write(dir.join("test.toml"), test).unwrap();
        Self { dir }
    }
}

impl Drop for IssuersConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
