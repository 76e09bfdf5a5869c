//! A worker whose database and broker certificates do not verify keeps
//! running and says so on `readyz` (503, both down), retrying with backoff,
//! and turns ready by itself once its CA files are fixed: the real
//! `receive-status` binary against the TLS PostgreSQL cluster and the AMQPS
//! node of `scripts/tls-servers.sh`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use linebacker_testkit::tls::{AMQPS_PORT, POSTGRES_TLS_PORT, own_copy, replace_file, tls_file};
use linebacker_testkit::unique_name;
use serde_json::Value;
use sqlx::{Connection, PgConnection};
use linebacker_tests::{Process, delete_tls_broker_names, free_port_run, target_dir};

fn tls_admin_url(database: &str) -> String {
    let ca = tls_file("ca.pem");
    format!("postgres://postgres@localhost:{POSTGRES_TLS_PORT}/{database}?sslmode=verify-full&sslrootcert={}", ca.display())
}

async fn readyz(http: &reqwest::Client, url: &str) -> Option<(u16, Value)> {
    let response = http.get(url).send().await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.json().await.ok()?))
}

#[tokio::test]
async fn a_worker_with_untrusted_certificates_is_not_ready_and_recovers_once_its_ca_files_are_fixed() {
    let database = format!("lb_test_{}", uuid_like());
    let mut admin = PgConnection::connect(&tls_admin_url("postgres")).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}"))).execute(&mut admin).await.unwrap();

    let (database_ca, broker_ca) = (own_copy("wrong-ca.pem"), own_copy("wrong-ca.pem"));
    let exchange = unique_name("lb-test");
    let prefix = format!("{}.", unique_name("lb-test"));
    let zpages = free_port_run(0).unwrap();
    let log_dir = target_dir().unwrap().join("e2e-logs").join(unique_name("tls"));
    std::fs::create_dir_all(&log_dir).unwrap();
    let env: Vec<(String, String)> = [
        ("LINEBACKER_CONFIG_DIR", linebacker_tests::config_dir().display().to_string()),
        ("APP_ENV", "test".to_owned()),
        ("LINEBACKER__DATABASE__URL", format!("postgres://postgres@localhost:{POSTGRES_TLS_PORT}/{database}?sslmode=verify-full")),
        ("LINEBACKER__DATABASE__CA_FILE", database_ca.display().to_string()),
        ("LINEBACKER__RABBITMQ__URL", format!("amqps://guest:guest@localhost:{AMQPS_PORT}/%2f")),
        ("LINEBACKER__RABBITMQ__CA_FILE", broker_ca.display().to_string()),
        ("LINEBACKER__RABBITMQ__EXCHANGE", exchange.clone()),
        ("LINEBACKER__RABBITMQ__QUEUE_PREFIX", prefix.clone()),
        ("LINEBACKER__ZPAGES__BASE_PORT", zpages.to_string()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect();
    let mut worker = Process::spawn("receive-status", 0, &env, &log_dir).unwrap();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let url = format!("http://127.0.0.1:{zpages}/readyz");

    // Not ready, and still running, while neither certificate verifies.
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = loop {
        if let Some((503, body)) = readyz(&http, &url).await {
            break body;
        }
        assert!(Instant::now() < deadline, "readyz never answered 503");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(body["dependencies"]["database"], "down", "{body}");
    assert_eq!(body["dependencies"]["broker"], "down", "{body}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(worker.exited().is_none(), "the worker must not exit over a certificate");
    assert_eq!(readyz(&http, &url).await.map(|(status, _)| status), Some(503));

    replace_file(&database_ca, "ca.pem");
    replace_file(&broker_ca, "ca.pem");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match readyz(&http, &url).await {
            Some((200, body)) => {
                assert_eq!(body["dependencies"]["database"], "up", "{body}");
                assert_eq!(body["dependencies"]["broker"], "up", "{body}");
                break;
            }
            other => assert!(Instant::now() < deadline, "not ready 60 s after the CA files were fixed: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    worker.interrupt_and_wait(Duration::from_secs(15)).await.unwrap();

    delete_tls_broker_names(&exchange, &prefix).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {database} WITH (FORCE)"))).execute(&mut admin).await.unwrap();
    for file in [database_ca, broker_ca] {
        std::fs::remove_file(file).ok();
    }
}

fn uuid_like() -> String {
    unique_name("x").trim_start_matches("x-").to_owned()
}
