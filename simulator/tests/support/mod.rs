//! A simulator of each test's own: port 0, request and status queues with
//! random names on the local Azurite, the job list of config/simulator.toml.
#![allow(dead_code)] // each test file uses a different part of this module
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::time::Duration;

use linebacker_azure_queue::QueueClient;
use linebacker_azure_queue::testing::{require_azurite, unique_queue_name};
use linebacker_simulator::{Simulator, SimulatorSettings};
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub struct TestSimulator {
    pub address: String,
    pub client: reqwest::Client,
    pub requests: QueueClient,
    pub statuses: QueueClient,
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

pub async fn spawn_simulator(failure_share: f64) -> TestSimulator {
    spawn_simulator_with(failure_share, None).await
}

/// With `account_uri`, the simulator reaches the queue service there (for
/// example through a proxy); the test's own clients go to Azurite directly.
pub async fn spawn_simulator_with(failure_share: f64, account_uri: Option<String>) -> TestSimulator {
    linebacker_runtime::telemetry::init_for_tests();
    let azure = require_azurite().await.unwrap_or_else(|reason| panic!("{reason}"));
    let env: HashMap<String, String> = HashMap::from([
        ("SIMULATOR__PORT".into(), "0".into()),
        ("SIMULATOR__REPLY_DELAY_MS".into(), "100".into()),
        ("SIMULATOR__FAILURE_SHARE".into(), failure_share.to_string()),
        ("SIMULATOR__REQUESTS_QUEUE".into(), unique_queue_name("requests")),
        ("SIMULATOR__STATUSES_QUEUE".into(), unique_queue_name("statuses")),
    ]);
    let mut settings =
        SimulatorSettings::load_from(&linebacker_runtime::settings::config_dir().unwrap(), &env).unwrap();
    settings.azure = azure;
    let requests = QueueClient::new(&settings.azure, &settings.requests_queue).unwrap();
    let statuses = QueueClient::new(&settings.azure, &settings.statuses_queue).unwrap();
    // Created here too, so that a test can put before the simulator runs.
    requests.create_if_missing().await.unwrap();
    statuses.create_if_missing().await.unwrap();
    if let Some(account_uri) = account_uri {
        settings.azure.account_uri = account_uri;
    }
    let simulator = Simulator::build(settings).unwrap();
    let address = format!("http://127.0.0.1:{}", simulator.port());
    let stop = CancellationToken::new();
    let task = tokio::spawn(simulator.run_until_stopped(stop.clone()));
    TestSimulator { address, client: reqwest::Client::new(), requests, statuses, stop, task }
}

impl TestSimulator {
    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let response = self.client.get(format!("{}{path}", self.address)).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// Stops the simulator (it must stop cleanly and soon) and deletes its
    /// queues.
    pub async fn stop(self) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task).await.unwrap().unwrap().unwrap();
        self.requests.delete_queue().await.unwrap();
        self.statuses.delete_queue().await.unwrap();
    }
}
