//! Driving a linebacker process under test as every test does: the
//! environment of the `test` profile, a valid request body, free ports, the
//! wait until it is ready, and clean-up of what it declared on the broker.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::{delete_exchange, eventually};

/// Every wait of a test is bounded by this (or a shorter bound of its own).
pub const WAIT: Duration = Duration::from_secs(30);

/// The repository's configuration directory (`config/`).
pub fn config_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../config"))
}

/// The environment of a process under test on `database_url`: the `test`
/// profile, and a database given up on after a second, so that an outage
/// shows at once.
pub fn database_env(database_url: &str) -> HashMap<String, String> {
    [
        ("APP_ENV", "test"),
        ("LINEBACKER__DATABASE__URL", database_url),
        ("LINEBACKER__DATABASE__ACQUIRE_TIMEOUT_MS", "1000"),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value.to_owned()))
    .collect()
}

/// `database_env` with this test's broker names.
pub fn test_env(database_url: &str, exchange: &str, queue_prefix: &str) -> HashMap<String, String> {
    let mut env = database_env(database_url);
    env.insert("LINEBACKER__RABBITMQ__EXCHANGE".into(), exchange.into());
    env.insert("LINEBACKER__RABBITMQ__QUEUE_PREFIX".into(), queue_prefix.into());
    env
}

/// A valid body of `POST /api/backup-requests` (SPEC §3): `backup_job_id`'s
/// data of `data_date`, prepared under `/prepared/{job}/{date}`.
pub fn request_body(backup_job_id: &str, data_date: &str) -> Value {
    json!({
        "apiVersion": "2022-05-22",
        "backupJobId": backup_job_id,
        "dataDate": data_date,
        "backupDataLocation": format!("/prepared/{backup_job_id}/{data_date}"),
    })
}

/// The body of SPEC §3's example.
pub fn valid_body() -> Value {
    request_body("job-17", "2022-05-30")
}

/// A free TCP port on loopback, with `also_free` more free ports after it.
pub fn free_port_run(also_free: u16) -> anyhow::Result<u16> {
    for _ in 0..200 {
        let first = std::net::TcpListener::bind("127.0.0.1:0")?;
        let base = first.local_addr()?.port();
        if base.checked_add(also_free).is_none() {
            continue;
        }
        let rest: Result<Vec<_>, _> =
            (1..=also_free).map(|i| std::net::TcpListener::bind(("127.0.0.1", base + i))).collect();
        if rest.is_ok() {
            return Ok(base);
        }
    }
    anyhow::bail!("no run of {} free ports found", also_free + 1)
}

/// Waits until `url` answers with a success status, for at most `timeout`.
pub async fn wait_until_ready(client: &reqwest::Client, url: &str, timeout: Duration) -> anyhow::Result<()> {
    eventually(timeout, &format!("{url} to answer 2xx"), || async {
        let response = client.get(url).send().await.ok()?;
        response.status().is_success().then_some(())
    })
    .await
}

/// The `backupRequestId` of each message's envelope.
pub fn request_ids(messages: &[lapin::message::BasicGetMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|message| {
            let body: Value = serde_json::from_slice(&message.delivery.data).unwrap_or_default();
            body["backupRequestId"].as_str().unwrap_or_default().to_owned()
        })
        .collect()
}

/// Deletes what a process under test declared on the broker: `queues`, the
/// heartbeats exchange and `exchange` itself (best effort: a leftover only
/// costs broker memory).
pub async fn delete_broker_objects(exchange: &str, queues: impl IntoIterator<Item = String>) {
    use lapin::options::QueueDeleteOptions;

    if let Ok(connection) = lapin::Connection::connect(&crate::amqp_url(), lapin::ConnectionProperties::default()).await {
        for name in queues {
            // A fresh channel each time: deleting a missing queue may close it.
            if let Ok(channel) = connection.create_channel().await {
                let _ = channel.queue_delete(name.as_str().into(), QueueDeleteOptions::default()).await;
            }
        }
        let _ = connection.close(200, "bye".into()).await;
    }
    let _ = delete_exchange(&format!("{exchange}.heartbeats")).await;
    let _ = delete_exchange(exchange).await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_valid_body_is_the_example_of_spec_section_3() {
        let example = json!({ "apiVersion": "2022-05-22", "backupJobId": "job-17",
            "dataDate": "2022-05-30", "backupDataLocation": "/prepared/job-17/2022-05-30" });
        assert_eq!(valid_body(), example);
    }

    #[test]
    fn the_test_env_is_the_test_profile_on_the_tests_own_database_and_broker_names() {
        let env = test_env("postgres://db", "tx-1", "tq-1.");
        assert_eq!(env["APP_ENV"], "test");
        assert_eq!(env["LINEBACKER__DATABASE__URL"], "postgres://db");
        assert_eq!(env["LINEBACKER__RABBITMQ__EXCHANGE"], "tx-1");
        assert_eq!(env["LINEBACKER__RABBITMQ__QUEUE_PREFIX"], "tq-1.");
        assert!(config_dir().join("test.toml").is_file(), "{}", config_dir().display());
    }

    #[test]
    fn a_free_port_run_can_be_bound() {
        let base = free_port_run(2).unwrap();
        let bound: Vec<_> = (0..3).map(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).unwrap()).collect();
        assert_eq!(bound.len(), 3);
    }
}
