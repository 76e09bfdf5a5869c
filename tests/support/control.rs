//! Stopping and starting single processes of a running system, as an
//! operator (or PM2) would: to hold messages in a queue, or to restart
//! everything after a database restore.

use std::time::Duration;

use anyhow::Context;

use crate::System;

/// How long a stopping process may take (its shutdown deadline is 5 s).
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

impl System {
    fn process_mut(&mut self, name: &str) -> anyhow::Result<&mut crate::Process> {
        self.processes.iter_mut().find(|p| p.name == name).with_context(|| format!("no process {name}"))
    }

    /// Stops one process (`check-allowed-0`, `http-receiver-0`) with SIGINT;
    /// it must exit 0.
    pub async fn stop_process(&mut self, name: &str) -> anyhow::Result<()> {
        self.process_mut(name)?.interrupt_and_wait(STOP_TIMEOUT).await
    }

    /// Starts a stopped process again with its first environment and waits
    /// until it is ready.
    pub async fn restart_process(&mut self, name: &str) -> anyhow::Result<()> {
        let process = self.process_mut(name)?;
        process.restart()?;
        let ready = match process.zpages_url() {
            Some(url) => format!("{url}/readyz"),
            None if name.starts_with("http-receiver") => format!("{}/api/zpages/readyz", self.receiver_url),
            None => format!("{}/livez", self.simulator_url),
        };
        self.wait_ready(&ready).await
    }

    /// The URL of the run's database, as the processes reach it.
    pub fn database_url(&self) -> anyhow::Result<String> {
        self.processes
            .iter()
            .find_map(|p| p.env_var("LINEBACKER__DATABASE__URL"))
            .map(str::to_owned)
            .context("no process has a database URL")
    }
}
