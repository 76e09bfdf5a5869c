//! The process builder: a process is a name and a list of components; the
//! builder owns what they share, once. It loads the settings and starts the
//! logs, builds the database pool and the bus, applies the migrations and
//! declares the broker topology in the background (retrying, so a dependency
//! that is down at start shows in `readyz` instead of a crash loop), serves
//! the zpages, runs the outbox relay and the heartbeats, then starts the
//! components in order. On SIGINT or SIGTERM (or when a component fails) it
//! stops them in reverse order within `shutdown.deadline_ms`, lets the relay
//! publish what they stored, says goodbye on the heartbeats and closes the
//! connections, the pool last.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use linebacker_postgres::OutboxRelay;
use linebacker_runtime::metrics::metrics;
use linebacker_runtime::settings::BusKind;
use linebacker_runtime::{Settings, shutdown_on_signals, telemetry};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::component::{Component, Needs};
use crate::host::{Bus, Host};
use crate::retry::retry_until_done;

/// How long closing each connection may take once everything else stopped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// A process: its name and its components, in start order.
pub struct Process {
    name: &'static str,
    components: Vec<Box<dyn Component>>,
    /// Dev mode: every component in this one process, so events travel on
    /// the in-memory bus unless the settings name a bus.
    in_memory: bool,
}

impl Process {
    pub fn new(name: &'static str) -> Self {
        Self { name, components: Vec::new(), in_memory: false }
    }

    /// Runs on the in-memory bus (dev mode): the process holds every
    /// consumer of its events. A `bus.kind` in the settings still chooses
    /// (`LINEBACKER__BUS__KIND=rabbitmq` puts it on the broker: the bench
    /// measures the whole pipeline that way, with the BZI in the process).
    pub fn in_memory(mut self) -> Self {
        self.in_memory = true;
        self
    }

    /// Adds a component; it starts after the ones before it and stops
    /// before them.
    pub fn with(mut self, component: impl Component) -> Self {
        self.components.push(Box::new(component));
        self
    }

    /// Runs the process as its `main`: 0 after a graceful stop, 2 for
    /// invalid configuration, 1 when it cannot start or stopped on an error.
    pub async fn run(self) -> ExitCode {
        let name = self.name;
        let settings = match Settings::load() {
            Ok(settings) => settings,
            Err(error) => {
                eprintln!("{name}: {error}");
                return ExitCode::from(2);
            }
        };
        telemetry::init(name, settings.instance);
        // Listen for signals before anything else, so that a stop during
        // start-up is graceful too.
        let outcome = match shutdown_on_signals() {
            Ok(shutdown) => match self.start(settings) {
                Ok(running) => running.run_until(shutdown).await,
                Err(error) => Err(error.context("cannot start")),
            },
            Err(error) => Err(anyhow::Error::from(error).context("cannot listen for shutdown signals")),
        };
        match outcome {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), "{name} failed");
                eprintln!("{name}: {error:#}");
                ExitCode::FAILURE
            }
        }
    }

    /// Builds the shared parts and starts every component, binding what
    /// they serve; connects to nothing yet. Tests run a process this way,
    /// with settings of their own.
    pub fn start(self, mut settings: Settings) -> anyhow::Result<RunningProcess> {
        if self.in_memory {
            settings.bus.kind.get_or_insert(BusKind::Memory);
        }
        let needs = self.components.iter().fold(Needs::default(), |all, component| {
            let needs = component.needs();
            Needs { broker: all.broker || needs.broker, serves_zpages: all.serves_zpages || needs.serves_zpages }
        });
        let background = CancellationToken::new();
        let schema_ready = schema_watch(settings.database.migrate_on_start);
        let host = Arc::new(Host::new(self.name, settings, schema_ready.1)?);
        host.set_needs_broker(needs.broker);
        prepare_dependencies(&host, schema_ready.0, &background);

        let zpages = if needs.serves_zpages {
            None
        } else {
            let server = crate::zpages::serve(host.clone())?;
            Some((server.handle(), tokio::spawn(server)))
        };

        let (failed_tx, failed) = mpsc::unbounded_channel();
        let mut components = Vec::with_capacity(self.components.len());
        for component in self.components {
            let name = component.name();
            let stop = CancellationToken::new();
            let work = component.start(&host, stop.clone())?;
            let (failed, stopped) = (failed_tx.clone(), stop.clone());
            let task = tokio::spawn(async move {
                let outcome = work.await;
                if outcome.is_err() {
                    let _ = failed.send(name);
                } else if !stopped.is_cancelled() {
                    tracing::info!(component = name, "done");
                }
                outcome
            });
            components.push(Started { name, stop, task });
        }

        spawn_pause_follower(&host, &background);
        let relay_stop = CancellationToken::new();
        let relay = spawn_relay(&host, relay_stop.clone());
        let beating_stop = CancellationToken::new();
        let beating = host.bus.rabbit().map(|rabbit| {
            let reporting = host.clone();
            let health = move || {
                let host = reporting.clone();
                async move { host.health().await }
            };
            crate::heartbeat::spawn_beating(rabbit.clone(), &host.settings.heartbeat, health, beating_stop.clone())
        });
        tracing::info!(instance = host.settings.instance, "{} started", host.process);
        Ok(RunningProcess { host, components, failed, zpages, relay_stop, relay, beating_stop, beating, background })
    }
}

struct Started {
    name: &'static str,
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

/// A started process.
pub struct RunningProcess {
    host: Arc<Host>,
    components: Vec<Started>,
    /// Names the components whose work failed.
    failed: mpsc::UnboundedReceiver<&'static str>,
    zpages: Option<(ServerHandle, JoinHandle<std::io::Result<()>>)>,
    relay_stop: CancellationToken,
    relay: JoinHandle<()>,
    beating_stop: CancellationToken,
    beating: Option<JoinHandle<()>>,
    /// Stops the start-up retries (migrations, topology) if they still run.
    background: CancellationToken,
}

impl RunningProcess {
    pub fn host(&self) -> &Arc<Host> {
        &self.host
    }

    /// Runs until `shutdown` is cancelled or a component fails, then stops
    /// in order; the first component's error, if any, is the outcome.
    pub async fn run_until(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        tokio::select! {
            () = shutdown.cancelled() => {}
            Some(name) = self.failed.recv() => tracing::error!(component = name, "a component failed; stopping"),
        }
        tracing::info!("stopping: finishing the work in flight");
        self.host.stopping.cancel();
        let budget = StopBudget::split(self.host.settings.shutdown_deadline());
        let work_until = Instant::now() + budget.work;
        let mut outcome = Ok(());
        for component in self.components.into_iter().rev() {
            component.stop.cancel();
            match tokio::time::timeout_at(work_until, component.task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(error))) => {
                    if outcome.is_ok() {
                        outcome = Err(error.context(component.name));
                    }
                }
                Ok(Err(panic)) => tracing::error!(component = component.name, error = %panic, "a component panicked"),
                Err(_) => tracing::warn!(component = component.name, "its work did not finish within the shutdown deadline"),
            }
        }

        // The relay outlives the work, so the events of the last steps go out.
        self.relay_stop.cancel();
        if tokio::time::timeout(budget.relay_flush + CLOSE_TIMEOUT, self.relay).await.is_err() {
            tracing::warn!("the outbox relay did not finish its last pass in time; the outbox keeps the rest");
        }
        self.background.cancel();
        self.beating_stop.cancel();
        if let Some(beating) = self.beating {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, beating).await;
        }
        if let Bus::Rabbit(rabbit) = &self.host.bus {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, rabbit.close()).await;
        }
        if let Some((handle, task)) = self.zpages {
            handle.stop(true).await;
            let _ = task.await;
        }
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.host.database.pool().close()).await;
        tracing::info!("{} stopped", self.host.process);
        outcome
    }
}

/// The stop deadline split between its phases: the components' work in
/// flight first, then the relay's last pass; closing the connections takes
/// what is left of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StopBudget {
    work: Duration,
    relay_flush: Duration,
}

impl StopBudget {
    fn split(deadline: Duration) -> Self {
        let work = deadline * 3 / 4;
        let relay_flush = deadline.saturating_sub(work).saturating_sub(CLOSE_TIMEOUT / 2).max(Duration::from_millis(200));
        Self { work, relay_flush }
    }
}

/// Whether the schema is in place: at once when this process does not
/// apply the migrations, else once they are applied.
fn schema_watch(migrate: bool) -> (watch::Sender<bool>, watch::Receiver<bool>) {
    watch::channel(!migrate)
}

/// Readies the database and the broker in the background, retrying with
/// backoff until they answer.
fn prepare_dependencies(host: &Arc<Host>, schema_ready: watch::Sender<bool>, stop: &CancellationToken) {
    if host.settings.database.migrate_on_start {
        let database = host.database.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            if retry_until_done("applying database migrations", stop, || database.migrate()).await {
                schema_ready.send_replace(true);
            }
        });
    }
    if let Some(rabbit) = host.bus.rabbit().cloned() {
        let stop = stop.clone();
        tokio::spawn(async move {
            retry_until_done("declaring the broker topology", stop, || rabbit.declare_topology()).await
        });
    }
}

/// Waits until the migrations are applied: false when `stop` came first.
async fn schema_in_place(mut schema_ready: watch::Receiver<bool>, stop: &CancellationToken) -> bool {
    tokio::select! {
        ready = schema_ready.wait_for(|ready| *ready) => ready.is_ok(),
        () = stop.cancelled() => false,
    }
}

/// Follows the paused stages, once their table exists, for the stages the
/// components run, until the process stops.
fn spawn_pause_follower(host: &Arc<Host>, stop: &CancellationToken) {
    let (host, stop) = (host.clone(), stop.clone());
    tokio::spawn(async move {
        if !schema_in_place(host.schema_ready.clone(), &stop).await {
            return;
        }
        host.pauses.follow(&host.database, &stop).await;
    });
}

/// The outbox relay of the process, once the outbox table exists; on
/// `stop` it makes its last pass within a quarter of the deadline.
fn spawn_relay(host: &Arc<Host>, stop: CancellationToken) -> JoinHandle<()> {
    let relay = OutboxRelay::new(host.database.clone(), host.message_bus(), host.settings.outbox.relay_config())
    .observing(Arc::new(|events| metrics().observe_published(events)));
    let flush = StopBudget::split(host.settings.shutdown_deadline()).relay_flush;
    let schema_ready = host.schema_ready.clone();
    tokio::spawn(async move {
        if !schema_in_place(schema_ready, &stop).await {
            return;
        }
        relay.run(stop, flush).await;
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::HashMap;
    use std::sync::Mutex;

    use futures::FutureExt;

    use super::*;
    use crate::component::Work;

    /// Test settings on the in-memory bus, a free zpages port and a
    /// database nobody connects to (no migrations).
    fn settings() -> Settings {
        let env: HashMap<String, String> = [
            ("APP_ENV", "test"),
            ("LINEBACKER__BUS__KIND", "memory"),
            ("LINEBACKER__ZPAGES__BASE_PORT", "0"),
            ("LINEBACKER__DATABASE__MIGRATE_ON_START", "false"),
            ("LINEBACKER__SHUTDOWN__DEADLINE_MS", "2000"),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect();
        Settings::load_from(&linebacker_runtime::settings::config_dir().unwrap(), &env).unwrap()
    }

    type Log = Arc<Mutex<Vec<String>>>;

    /// Logs its start and its stop; fails on start of work when asked.
    struct Step {
        name: &'static str,
        log: Log,
        fail: bool,
    }

    impl Component for Step {
        fn name(&self) -> &'static str {
            self.name
        }

        fn start(self: Box<Self>, _host: &Arc<Host>, stop: CancellationToken) -> anyhow::Result<Work> {
            self.log.lock().unwrap().push(format!("start {}", self.name));
            Ok(async move {
                if self.fail {
                    anyhow::bail!("{} broke", self.name);
                }
                stop.cancelled().await;
                self.log.lock().unwrap().push(format!("stop {}", self.name));
                Ok(())
            }
            .boxed())
        }
    }

    fn step(name: &'static str, log: &Log, fail: bool) -> Step {
        Step { name, log: log.clone(), fail }
    }

    #[test]
    fn the_stop_deadline_leaves_time_for_the_relay_and_for_closing() {
        let budget = StopBudget::split(Duration::from_millis(8000));
        assert_eq!(budget, StopBudget { work: Duration::from_millis(6000), relay_flush: Duration::from_millis(1500) });
        assert!(budget.work + budget.relay_flush + CLOSE_TIMEOUT / 2 <= Duration::from_millis(8000));
        assert!(StopBudget::split(Duration::from_millis(100)).relay_flush >= Duration::from_millis(200));
    }

    #[tokio::test]
    async fn components_start_in_the_order_named_and_stop_in_reverse() {
        let log = Log::default();
        let running = Process::new("test")
            .with(step("first", &log, false))
            .with(step("second", &log, false))
            .start(settings())
            .unwrap();
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        running.run_until(shutdown).await.unwrap();
        assert_eq!(*log.lock().unwrap(), ["start first", "start second", "stop second", "stop first"]);
    }

    #[tokio::test]
    async fn a_failing_component_stops_the_process_with_its_error() {
        let log = Log::default();
        let running = Process::new("test")
            .with(step("steady", &log, false))
            .with(step("broken", &log, true))
            .start(settings())
            .unwrap();
        let never = CancellationToken::new();
        let outcome = tokio::time::timeout(Duration::from_secs(10), running.run_until(never)).await.unwrap();
        let error = outcome.unwrap_err();
        assert!(format!("{error:#}").contains("broken broke"), "{error:#}");
        assert!(log.lock().unwrap().contains(&"stop steady".to_owned()));
    }

    #[tokio::test]
    async fn the_host_says_stopping_once_the_stop_begins() {
        let running = Process::new("test").with(step("only", &Log::default(), false)).start(settings()).unwrap();
        let host = running.host().clone();
        assert!(!host.stopping.is_cancelled());
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        running.run_until(shutdown).await.unwrap();
        assert!(host.stopping.is_cancelled());
    }
}
