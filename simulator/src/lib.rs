//! The backup system simulator (SPEC §5): plays the backup job service over
//! HTTP and the BZI on the Azure queues, for the quick start, the end-to-end
//! tests and the benchmarks.
//!
//! [`Simulator::build`] binds the listener (port 0 picks a free one) and
//! connects to nothing; [`Simulator::run_until_stopped`] serves until the
//! token is cancelled.

mod bzi;
mod component;
mod in_process;
mod http;
pub mod settings;
mod stats;

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::{App, HttpServer, web};
use anyhow::Context;
use linebacker_azure_queue::QueueClient;
use tokio_util::sync::CancellationToken;

pub use component::SimulatedSystems;
pub use in_process::{InProcessJobs, answer};
pub use settings::{SettingsError, SimulatorSettings};
pub use stats::StatsSnapshot;

use crate::bzi::Bzi;
use crate::http::HttpState;
use crate::stats::Stats;

/// Seconds actix gives requests in flight once stopping.
const HTTP_STOP_SECS: u64 = 2;

pub struct Simulator {
    port: u16,
    listener: std::net::TcpListener,
    state: web::Data<HttpState>,
    bzi: Arc<Bzi>,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
}

impl Simulator {
    pub fn build(settings: SimulatorSettings) -> anyhow::Result<Self> {
        let address = (settings.host.as_str(), settings.port);
        let listener = std::net::TcpListener::bind(address)
            .with_context(|| format!("binding simulator.host:simulator.port = {}:{}", address.0, address.1))?;
        let port = listener.local_addr()?.port();
        let stats = Arc::new(Stats::default());
        let jobs: HashMap<String, _> =
            settings.jobs.into_iter().map(|job| (job.backup_job_id.to_string(), job)).collect();
        let state = web::Data::new(HttpState { jobs, stats: stats.clone() });
        let bzi = Arc::new(Bzi {
            requests: QueueClient::new(&settings.azure, &settings.requests_queue).context("simulator.requests_queue")?,
            statuses: QueueClient::new(&settings.azure, &settings.statuses_queue).context("simulator.statuses_queue")?,
            reply_delay: settings.reply_delay,
            failure_share: settings.failure_share,
            stats,
        });
        Ok(Self { port, listener, state, bzi, tls: settings.tls })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves the job service and plays the BZI until `stop` is cancelled,
    /// then lets both finish what they started.
    pub async fn run_until_stopped(self, stop: CancellationToken) -> anyhow::Result<()> {
        let state = self.state;
        let server = HttpServer::new(move || App::new().app_data(state.clone()).configure(http::configure))
            // The process's own signal handling decides when to stop.
            .disable_signals()
            .shutdown_timeout(HTTP_STOP_SECS)
            .workers(2);
        let https = self.tls.is_some();
        let server = match self.tls {
            Some(tls) => server.listen_rustls_0_23(self.listener, (*tls).clone())?,
            None => server.listen(self.listener)?,
        }
        .run();
        let handle = server.handle();
        let mut server = tokio::spawn(server);
        let bzi = tokio::spawn(self.bzi.run(stop.clone()));
        tracing::info!(port = self.port, https, "backup system simulator listening");

        let early_end = tokio::select! {
            _ = stop.cancelled() => None,
            ended = &mut server => Some(ended),
        };
        stop.cancel();
        let served = match early_end {
            Some(ended) => ended,
            None => {
                handle.stop(true).await;
                server.await
            }
        };
        bzi.await.context("the BZI loop panicked")?;
        served.context("the HTTP server panicked")?.context("the HTTP server failed")
    }
}
