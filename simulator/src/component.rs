//! Dev mode's simulated systems as a component: named before the workers, it
//! provides the in-process job service and BZI to them, unless
//! `backup_job_service.url` or `azure_queue.account_uri` is configured
//! (set to something other than `config/default.toml`'s value), and answers
//! the BZI's requests until the process stops.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use futures::FutureExt;
use linebacker_platform::{Component, Host, InProcessInterface, Work};
use linebacker_runtime::settings::config_dir;
use tokio_util::sync::CancellationToken;

use linebacker_memory::InMemoryInterface;

use crate::in_process::{InProcessJobs, answer};
use crate::settings::SimulatorSettings;
use crate::stats::Stats;

pub struct SimulatedSystems;

impl Component for SimulatedSystems {
    fn name(&self) -> &'static str {
        "simulated-systems"
    }

    fn start(self: Box<Self>, host: &Arc<Host>, stop: CancellationToken) -> anyhow::Result<Work> {
        let dir = config_dir()?;
        let simulator = SimulatorSettings::load().context("the simulated systems' settings (config/simulator.toml)")?;
        let configured = Configured::read(&dir, &host.settings)?;
        if configured.job_service {
            tracing::info!(url = host.settings.backup_job_service.url, "using the configured backup job service");
        } else {
            tracing::info!(jobs = simulator.jobs.len(), "simulating the backup job service in this process");
            host.externals.provide_jobs(Arc::new(InProcessJobs::new(simulator.jobs)));
        }
        if configured.interface {
            tracing::info!(account = host.settings.azure_queue.account_uri, "using the configured BZI queues");
            return Ok(async { Ok(()) }.boxed());
        }
        tracing::info!(reply_delay_ms = simulator.reply_delay.as_millis() as u64, "simulating the BZI in this process");
        let bzi = InMemoryInterface::new();
        host.externals.provide_interface(InProcessInterface {
            requests: Arc::new(bzi.clone()),
            statuses: Arc::new(bzi.clone()),
            poison: Arc::new(bzi.poison_letters()),
        });
        let stats = Arc::new(Stats::default());
        Ok(async move {
            answer(bzi, simulator.reply_delay, simulator.failure_share, stats, stop).await;
            Ok(())
        }
        .boxed())
    }
}

/// Which external systems the settings point elsewhere than the defaults.
struct Configured {
    job_service: bool,
    interface: bool,
}

impl Configured {
    fn read(dir: &Path, settings: &linebacker_runtime::Settings) -> anyhow::Result<Self> {
        let defaults = config::Config::builder()
            .add_source(config::File::from(dir.join("default.toml")))
            .build()
            .context("reading config/default.toml")?;
        let default = |key: &str| defaults.get_string(key).with_context(|| format!("config/default.toml has no {key}"));
        Ok(Self {
            job_service: settings.backup_job_service.url != default("backup_job_service.url")?,
            interface: settings.azure_queue.account_uri != default("azure_queue.account_uri")?,
        })
    }
}
