//! One linebacker process started from its built binary.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use tokio::process::{Child, Command};

pub struct Process {
    pub name: String,
    child: Child,
    zpages_port: Option<u16>,
    /// What started it, to start it again (`restart`).
    program: String,
    env: Vec<(String, String)>,
    log: PathBuf,
}

/// `target/` of this checkout, found from the test binary's own path
/// (`target/debug/deps/<test>`).
pub fn target_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    exe.ancestors()
        .find(|dir| dir.file_name().is_some_and(|name| name == "target"))
        .map(Path::to_path_buf)
        .context("the test binary is not under a target/ directory")
}

/// The binary `name` of the same build profile as this test.
fn binary(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let profile_dir = exe.parent().and_then(Path::parent).context("unexpected test binary location")?;
    let path = profile_dir.join(name);
    anyhow::ensure!(
        path.is_file(),
        "{} is not built: run `cargo build --workspace --bins` first (scripts/test.sh does)",
        path.display()
    );
    Ok(path)
}

/// Starts the binary `name` with `env`, its output appended to `log`.
fn start(name: &str, env: &[(String, String)], log: &Path) -> anyhow::Result<Child> {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
    Command::new(binary(name)?)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {name}"))
}

impl Process {
    pub fn spawn(name: &str, instance: u16, env: &[(String, String)], log_dir: &Path) -> anyhow::Result<Self> {
        let log = log_dir.join(format!("{name}-{instance}.log"));
        let child = start(name, env, &log)?;
        Ok(Self {
            name: format!("{name}-{instance}"),
            child,
            zpages_port: None,
            program: name.to_owned(),
            env: env.to_vec(),
            log,
        })
    }

    /// Starts the process again as it was first started (after it stopped),
    /// appending to its log.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(self.exited().is_some(), "{} is still running", self.name);
        self.child = start(&self.program, &self.env, &self.log)?;
        Ok(())
    }

    pub fn with_zpages(mut self, port: u16) -> Self {
        self.zpages_port = Some(port);
        self
    }

    pub fn zpages_url(&self) -> Option<String> {
        self.zpages_port.map(|port| format!("http://127.0.0.1:{port}"))
    }

    /// SIGKILL: nothing is finished or flushed.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        self.child.start_kill()?;
        self.child.wait().await?;
        Ok(())
    }

    /// A variable of the environment it was started with.
    pub fn env_var(&self, key: &str) -> Option<&str> {
        self.env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// `Some(description)` when the process has exited.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!("{} exited with {status}", self.name)),
            Ok(None) => None,
            Err(error) => Some(format!("{}: {error}", self.name)),
        }
    }

    pub fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let pid = self.pid().context("process already exited")?;
        let status = std::process::Command::new("kill").args([&format!("-{signal}"), &pid.to_string()]).status()?;
        anyhow::ensure!(status.success(), "kill -{signal} {pid} failed");
        Ok(())
    }

    /// Sends SIGINT (as PM2 does) and requires exit code 0 within `timeout`.
    pub async fn interrupt_and_wait(&mut self, timeout: Duration) -> anyhow::Result<()> {
        if let Some(exited) = self.exited() {
            anyhow::bail!("{exited} before it was stopped");
        }
        self.signal("INT")?;
        self.wait_for_exit_0(timeout).await
    }

    /// Waits for the process to exit (it was told to stop) and requires
    /// exit code 0 within `timeout`.
    pub async fn wait_for_exit_0(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let status = tokio::time::timeout(timeout, self.child.wait())
            .await
            .with_context(|| format!("{} did not stop within {timeout:?}", self.name))??;
        anyhow::ensure!(status.success(), "{} stopped with {status}", self.name);
        Ok(())
    }
}
