//! The whole linebacker system for end-to-end tests: the real binaries
//! (`http-receiver`, the four workers, the simulator) started as processes
//! against the real PostgreSQL, RabbitMQ and Azurite, with a database,
//! exchange, queue prefix and Azure queue names of their own, so runs do not
//! see each other. Each process logs to `target/e2e-logs/<run>/`.

mod control;
mod process;
mod snapshot;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use linebacker_azure_queue::testing::{AZURITE_ACCOUNT, azurite_config, unique_queue_name};
use linebacker_azure_queue::{QueueClient, QueueServiceConfig};
use linebacker_testkit::fresh_database_at;
use linebacker_testkit::tls::{AMQPS_PORT, AZURITE_HTTPS_PORT, POSTGRES_TLS_PORT, tls_file};
use linebacker_testkit::{SwitchableProxy, eventually, fresh_database, request_body, unique_name, wait_until_ready};
use sqlx::PgPool;

pub use linebacker_testkit::{config_dir, free_port_run};
pub use process::{Process, target_dir};
pub use snapshot::Snapshot;

/// The worker processes of SPEC §1, each consuming from its own source.
pub const WORKERS: &[&str] = &["check-allowed", "send-to-interface", "interface-listener", "receive-status"];

pub struct SystemOptions {
    /// Instances of each worker.
    pub instances: u16,
    /// Route the processes' PostgreSQL, RabbitMQ and Azurite connections
    /// through switchable proxies (`System::database_link`,
    /// `System::broker_link`, `System::azure_link`).
    pub through_proxies: bool,
    /// The share of requests the simulated interface fails.
    pub failure_share: f64,
    pub reply_delay_ms: u64,
    /// More `LINEBACKER__*` settings for every process, the simulator's
    /// included (TLS, Azure encoding, ...).
    pub extra_env: Vec<(String, String)>,
    /// Every connection on TLS, verified against the test CA: PostgreSQL,
    /// RabbitMQ and Azurite of `scripts/tls-servers.sh`, and the
    /// simulator's job service over HTTPS.
    pub tls: bool,
    /// The processes log in to PostgreSQL as this role with this password.
    pub database_login: Option<(String, String)>,
    /// A config directory of the test's own (e.g. with `[auth]` on) instead
    /// of the repository's.
    pub config_dir: Option<PathBuf>,
    /// Sent as `Authorization: Bearer` with every request of `System::http`.
    pub bearer_token: Option<String>,
}

impl Default for SystemOptions {
    fn default() -> Self {
        Self {
            instances: 1,
            through_proxies: false,
            failure_share: 0.1,
            reply_delay_ms: 50,
            extra_env: Vec::new(),
            tls: false,
            database_login: None,
            config_dir: None,
            bearer_token: None,
        }
    }
}

pub struct System {
    pub pool: PgPool,
    pub http: reqwest::Client,
    pub receiver_url: String,
    pub simulator_url: String,
    pub exchange: String,
    pub queue_prefix: String,
    pub requests_queue: QueueClient,
    pub statuses_queue: QueueClient,
    pub poison_queue: QueueClient,
    pub processes: Vec<Process>,
    pub log_dir: PathBuf,
    /// Stands between the workers and the simulator's backup job service,
    /// so a test can take the service away and give it back.
    pub job_service: SwitchableProxy,
    /// With `through_proxies`: the processes' way to PostgreSQL, RabbitMQ
    /// and the BZI's queue service (Azurite).
    pub database_link: Option<SwitchableProxy>,
    pub broker_link: Option<SwitchableProxy>,
    pub azure_link: Option<SwitchableProxy>,
    /// Runs on the TLS servers (`SystemOptions::tls`).
    pub tls: bool,
}

/// A switchable proxy in front of the Azurite endpoint of `account_uri`.
async fn azure_proxy(account_uri: &str) -> anyhow::Result<SwitchableProxy> {
    use std::net::ToSocketAddrs;

    let url = reqwest::Url::parse(account_uri).context("the Azurite account URI")?;
    let host = url.host_str().context("the Azurite account URI has no host")?;
    let port = url.port_or_known_default().context("the Azurite account URI has no port")?;
    let target = (host, port).to_socket_addrs()?.next().context("the Azurite host resolves to no address")?;
    SwitchableProxy::start(target).await
}

/// Every connection of every process on TLS, verified against the test CA,
/// with host names the certificates are for.
fn tls_env(database_url: &str, job_service_port: u16) -> Vec<(String, String)> {
    let ca = tls_file("ca.pem").display().to_string();
    [
        ("LINEBACKER__DATABASE__URL", format!("{database_url}?sslmode=verify-full")),
        ("LINEBACKER__DATABASE__CA_FILE", ca.clone()),
        ("LINEBACKER__RABBITMQ__URL", format!("amqps://guest:guest@localhost:{AMQPS_PORT}/%2f")),
        ("LINEBACKER__RABBITMQ__CA_FILE", ca.clone()),
        ("LINEBACKER__BACKUP_JOB_SERVICE__URL", format!("https://localhost:{job_service_port}")),
        ("LINEBACKER__BACKUP_JOB_SERVICE__CA_FILE", ca.clone()),
        ("LINEBACKER__AZURE_QUEUE__ACCOUNT_URI", format!("https://localhost:{AZURITE_HTTPS_PORT}/{AZURITE_ACCOUNT}")),
        ("LINEBACKER__AZURE_QUEUE__CA_FILE", ca),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect()
}

/// Deletes the queues named `prefix*` and the exchanges of `exchange` on
/// the AMQPS node of `scripts/tls-servers.sh`.
pub async fn delete_tls_broker_names(exchange: &str, prefix: &str) -> anyhow::Result<()> {
    use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
    let tls = lapin::tcp::OwnedTLSConfig { identity: None, cert_chain: Some(std::fs::read_to_string(tls_file("ca.pem"))?) };
    let url = format!("amqps://guest:guest@localhost:{AMQPS_PORT}/%2f");
    let runtime = lapin::runtime::default_runtime()?;
    let connection = lapin::Connection::connect_with_config(&url, Default::default(), tls, runtime).await?;
    let channel = connection.create_channel().await?;
    let output = std::process::Command::new("rabbitmqctl")
        .args(["-q", "-n", "lbtls@localhost", "list_queues", "--no-table-headers", "name"])
        .env("HOME", "/var/lib/rabbitmq")
        .output()?;
    for name in String::from_utf8_lossy(&output.stdout).lines().map(str::trim).filter(|name| name.starts_with(prefix)) {
        channel.queue_delete(name.into(), QueueDeleteOptions::default()).await?;
    }
    for name in [format!("{exchange}.heartbeats"), exchange.to_owned()] {
        channel.exchange_delete(name.as_str().into(), ExchangeDeleteOptions::default()).await.ok();
    }
    connection.close(200, "bye".into()).await.ok();
    Ok(())
}

impl System {
    pub async fn start(options: SystemOptions) -> anyhow::Result<Self> {
        let database = if options.tls {
            fresh_database_at(&format!("postgres://postgres@localhost:{POSTGRES_TLS_PORT}/postgres")).await?
        } else {
            fresh_database().await?
        };
        let pool = PgPool::connect(&database.url).await?;
        let run = unique_name("e2e");
        let log_dir = process::target_dir()?.join("e2e-logs").join(&run);
        std::fs::create_dir_all(&log_dir)?;

        let azure = if options.tls {
            QueueServiceConfig {
                account_uri: format!("https://localhost:{AZURITE_HTTPS_PORT}/{AZURITE_ACCOUNT}"),
                ca_file: Some(tls_file("ca.pem")),
                ..azurite_config()
            }
        } else {
            azurite_config()
        };
        let queue = |prefix: &str| QueueClient::new(&azure, &unique_queue_name(prefix));
        let (requests_queue, statuses_queue, poison_queue) = (queue("req")?, queue("sts")?, queue("poi")?);
        for queue in [&requests_queue, &statuses_queue, &poison_queue] {
            queue.create_if_missing().await.context("is Azurite running on 127.0.0.1:10001?")?;
        }

        let receiver_port = free_port_run(0)?;
        let simulator_port = free_port_run(0)?;
        let job_service = SwitchableProxy::start(([127, 0, 0, 1], simulator_port).into()).await?;
        let (database_link, broker_link) = if options.through_proxies {
            (
                Some(SwitchableProxy::start(([127, 0, 0, 1], 5432).into()).await?),
                Some(SwitchableProxy::start(([127, 0, 0, 1], 5672).into()).await?),
            )
        } else {
            (None, None)
        };
        let azure_link = if options.through_proxies { Some(azure_proxy(&azure.account_uri).await?) } else { None };
        let mut process_database_url = match &database_link {
            Some(link) => database.url.replace("127.0.0.1:5432", &format!("127.0.0.1:{}", link.port())),
            None => database.url.clone(),
        };
        if let Some((role, password)) = &options.database_login {
            let mut url = reqwest::Url::parse(&process_database_url).context("the test database URL")?;
            url.set_username(role).ok().context("setting the database role")?;
            url.set_password(Some(password)).ok().context("setting the database password")?;
            process_database_url = url.to_string();
        }
        let config_dir = options.config_dir.clone().unwrap_or_else(config_dir);
        let exchange = unique_name("e2ex");
        let queue_prefix = format!("{}.", unique_name("e2eq"));
        let common: Vec<(String, String)> = vec![
            ("APP_ENV".into(), "test".into()),
            ("RUST_LOG".into(), "info".into()),
            ("LINEBACKER_CONFIG_DIR".into(), config_dir.display().to_string()),
            ("LINEBACKER__DATABASE__URL".into(), process_database_url),
            ("LINEBACKER__RABBITMQ__EXCHANGE".into(), exchange.clone()),
            ("LINEBACKER__RABBITMQ__QUEUE_PREFIX".into(), queue_prefix.clone()),
            ("LINEBACKER__BACKUP_JOB_SERVICE__URL".into(), format!("http://127.0.0.1:{}", job_service.port())),
            ("LINEBACKER__AZURE_QUEUE__REQUESTS_QUEUE".into(), requests_queue.name().into()),
            ("LINEBACKER__AZURE_QUEUE__STATUSES_QUEUE".into(), statuses_queue.name().into()),
            ("LINEBACKER__AZURE_QUEUE__POISON_QUEUE".into(), poison_queue.name().into()),
            ("LINEBACKER__HTTP__PORT".into(), receiver_port.to_string()),
        ];
        let mut common = common;
        if let Some(link) = &broker_link {
            common.push(("LINEBACKER__RABBITMQ__URL".into(), format!("amqp://guest:guest@127.0.0.1:{}/%2f", link.port())));
        }
        if let Some(link) = &azure_link {
            let uri = reqwest::Url::parse(&azure.account_uri)
                .ok()
                .and_then(|mut url| url.set_port(Some(link.port())).ok().map(|()| url.to_string()))
                .context("the Azurite account URI")?;
            common.push(("LINEBACKER__AZURE_QUEUE__ACCOUNT_URI".into(), uri.trim_end_matches('/').to_owned()));
        }
        if options.tls {
            common.extend(tls_env(&database.url, job_service.port()));
        }
        common.extend(options.extra_env.iter().cloned());
        let mut processes = Vec::new();

        let mut simulator_env = common.clone();
        simulator_env.extend([
            ("SIMULATOR__PORT".into(), simulator_port.to_string()),
            ("SIMULATOR__REQUESTS_QUEUE".into(), requests_queue.name().into()),
            ("SIMULATOR__STATUSES_QUEUE".into(), statuses_queue.name().into()),
            ("SIMULATOR__FAILURE_SHARE".into(), options.failure_share.to_string()),
            ("SIMULATOR__REPLY_DELAY_MS".into(), options.reply_delay_ms.to_string()),
        ]);
        if options.tls {
            simulator_env.extend([
                ("SIMULATOR__TLS_CERT_FILE".into(), tls_file("server.pem").display().to_string()),
                ("SIMULATOR__TLS_KEY_FILE".into(), tls_file("server.key").display().to_string()),
            ]);
        }
        processes.push(Process::spawn("backup-system-simulator", 0, &simulator_env, &log_dir)?);
        processes.push(Process::spawn("http-receiver", 0, &common, &log_dir)?);

        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(token) = &options.bearer_token {
            let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        let mut http = reqwest::Client::builder().timeout(Duration::from_secs(30)).default_headers(headers);
        if options.tls {
            http = http.add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(tls_file("ca.pem"))?)?);
        }
        let http = http.build()?;
        let simulator_scheme = if options.tls { "https://localhost" } else { "http://127.0.0.1" };
        let system = Self {
            pool,
            http,
            receiver_url: format!("http://127.0.0.1:{receiver_port}"),
            simulator_url: format!("{simulator_scheme}:{simulator_port}"),
            exchange,
            queue_prefix,
            requests_queue,
            statuses_queue,
            poison_queue,
            processes,
            log_dir,
            job_service,
            database_link,
            broker_link,
            azure_link,
            tls: options.tls,
        };
        // The receiver migrates the database; workers start once it has.
        system.wait_ready(&format!("{}/api/zpages/readyz", system.receiver_url)).await?;
        system.wait_ready(&format!("{}/livez", system.simulator_url)).await?;

        let mut system = system;
        for worker in WORKERS {
            let zpages_base = free_port_run(options.instances)?;
            for instance in 0..options.instances {
                let mut env = common.clone();
                env.push(("LINEBACKER__ZPAGES__BASE_PORT".into(), zpages_base.to_string()));
                env.push(("NODE_APP_INSTANCE".into(), instance.to_string()));
                let process = Process::spawn(worker, instance, &env, &system.log_dir)?;
                system.processes.push(process.with_zpages(zpages_base + instance));
            }
        }
        let zpages: Vec<String> = system.processes.iter().filter_map(Process::zpages_url).collect();
        for url in zpages {
            system.wait_ready(&format!("{url}/readyz")).await?;
        }
        Ok(system)
    }

    async fn wait_ready(&self, url: &str) -> anyhow::Result<()> {
        wait_until_ready(&self.http, url, Duration::from_secs(60))
            .await
            .with_context(|| format!("logs are in {}", self.log_dir.display()))
    }

    pub async fn post(&self, backup_job_id: &str, data_date: &str) -> anyhow::Result<serde_json::Value> {
        let response = self
            .http
            .post(format!("{}/api/backup-requests", self.receiver_url))
            .json(&request_body(backup_job_id, data_date))
            .send()
            .await?;
        anyhow::ensure!(response.status().as_u16() == 202, "POST answered {}", response.status());
        Ok(response.json().await?)
    }

    pub async fn get(&self, id: &str) -> anyhow::Result<serde_json::Value> {
        let response = self.http.get(format!("{}/api/backup-requests/{id}", self.receiver_url)).send().await?;
        anyhow::ensure!(response.status().is_success(), "GET {id} answered {}", response.status());
        Ok(response.json().await?)
    }

    /// The simulator's record of what it received and answered.
    pub async fn simulator_stats(&self) -> anyhow::Result<serde_json::Value> {
        Ok(self.http.get(format!("{}/stats", self.simulator_url)).send().await?.json().await?)
    }

    /// Waits until `count` requests are in a terminal status for this run.
    pub async fn wait_until_settled(&self, count: i64, timeout: Duration) -> anyhow::Result<()> {
        eventually(timeout, &format!("{count} settled requests"), || async {
            let settled: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM backup_requests WHERE status_type_code IN ('NotAllowed', 'Succeeded', 'Failed')",
            )
            .fetch_one(&self.pool)
            .await
            .ok()?;
            (settled >= count).then_some(())
        })
        .await
        .with_context(|| format!("logs are in {}", self.log_dir.display()))
    }

    /// The `/healthz` of the first instance of `worker`.
    pub async fn worker_health(&self, worker: &str) -> anyhow::Result<serde_json::Value> {
        let process = self
            .processes
            .iter()
            .find(|p| p.name == format!("{worker}-0"))
            .with_context(|| format!("no {worker} runs"))?;
        let url = process.zpages_url().with_context(|| format!("{worker} has no zpages"))?;
        Ok(self.http.get(format!("{url}/healthz")).send().await?.json().await?)
    }

    /// Messages waiting on the work queue `queue` or its dead-letter queue
    /// (`check-allowed`, `check-allowed.dead`, ...).
    pub async fn queue_depth(&self, queue: &str) -> anyhow::Result<u32> {
        let probe = linebacker_testkit::BrokerProbe::connect().await?;
        let depth = probe.message_count(&format!("{}{queue}", self.queue_prefix)).await;
        probe.close().await;
        depth
    }

    /// The broker's counts of every queue of this run (work, dead-letter
    /// and delay queues), by name: `(messages_ready, consumers)`, as
    /// `rabbitmqctl list_queues` reports them.
    pub fn rabbitmqctl_counts(&self) -> anyhow::Result<std::collections::HashMap<String, (u64, u64)>> {
        let output = std::process::Command::new("rabbitmqctl")
            .args(["list_queues", "--quiet", "--formatter", "json", "name", "messages_ready", "consumers"])
            .stdin(std::process::Stdio::null())
            .output()
            .context("running rabbitmqctl")?;
        anyhow::ensure!(output.status.success(), "rabbitmqctl: {}", String::from_utf8_lossy(&output.stderr));
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).context("rabbitmqctl's JSON")?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let name = row["name"].as_str()?.strip_prefix(&self.queue_prefix)?;
                Some((name.to_owned(), (row["messages_ready"].as_u64()?, row["consumers"].as_u64()?)))
            })
            .collect())
    }

    /// Every queue of this run on the broker, delay queues included.
    fn broker_queues(&self) -> Vec<String> {
        let mut names: Vec<String> = ["check-allowed", "send-to-interface", "receive-status"]
            .iter()
            .flat_map(|q| [format!("{}{q}", self.queue_prefix), format!("{}{q}.dead", self.queue_prefix)])
            .collect();
        if let Ok(counts) = self.rabbitmqctl_counts() {
            names.extend(counts.into_keys().map(|name| format!("{}{name}", self.queue_prefix)));
        }
        names.sort();
        names.dedup();
        names
    }

    /// The receiver's `healthz/all`.
    pub async fn health_of_all(&self) -> anyhow::Result<serde_json::Value> {
        let url = format!("{}/api/zpages/healthz/all", self.receiver_url);
        let response = self.http.get(&url).send().await?;
        anyhow::ensure!(response.status().is_success(), "{url} answered {}", response.status());
        Ok(response.json().await?)
    }

    /// Every process still running (none crashed).
    pub fn all_running(&mut self) -> Vec<String> {
        self.processes.iter_mut().filter_map(|p| p.exited()).collect()
    }

    /// Stops every process with SIGINT and checks each exits 0; removes the
    /// run's queues.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let mut failures = Vec::new();
        for process in self.processes.iter_mut().rev() {
            if let Err(error) = process.interrupt_and_wait(Duration::from_secs(15)).await {
                failures.push(format!("{error:#}"));
            }
        }
        for queue in [&self.requests_queue, &self.statuses_queue, &self.poison_queue] {
            let _ = queue.delete_queue().await;
        }
        let names = self.broker_queues();
        if let Ok(probe) = linebacker_testkit::BrokerProbe::connect().await {
            let _ = probe.delete_queues(&names).await;
            probe.close().await;
        }
        let _ = linebacker_testkit::delete_exchange(&format!("{}.heartbeats", self.exchange)).await;
        let _ = linebacker_testkit::delete_exchange(&self.exchange).await;
        if self.tls {
            delete_tls_broker_names(&self.exchange, &self.queue_prefix).await?;
        }
        anyhow::ensure!(failures.is_empty(), "{} (logs in {})", failures.join("; "), self.log_dir.display());
        Ok(())
    }
}
