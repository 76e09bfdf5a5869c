//! The whole pipeline with every connection on TLS, each verified against
//! the test CA: the processes reach PostgreSQL, RabbitMQ and Azurite of
//! `scripts/tls-servers.sh` and the simulator's job service over HTTPS, and
//! requests reach `Succeeded`.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use linebacker_tests::{System, SystemOptions};

#[tokio::test]
async fn requests_reach_succeeded_with_every_connection_on_tls() {
    let system = System::start(SystemOptions { tls: true, failure_share: 0.0, ..SystemOptions::default() }).await.unwrap();
    let mut ids = Vec::new();
    for date in ["2022-05-28", "2022-05-29", "2022-05-30"] {
        ids.push(system.post("job-17", date).await.unwrap()["backupRequestId"].as_str().unwrap().to_owned());
    }
    system.wait_until_settled(3, Duration::from_secs(90)).await.unwrap();
    for id in &ids {
        let view = system.get(id).await.unwrap();
        assert_eq!(view["statusTypeCode"], "Succeeded", "{view}");
        assert!(view["backup"]["backupByteCount"].as_i64().is_some(), "{view}");
    }
    let encrypted: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
         WHERE ssl AND datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_one(&system.pool)
    .await
    .unwrap();
    let plaintext: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
         WHERE NOT ssl AND datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_one(&system.pool)
    .await
    .unwrap();
    assert!(encrypted > 0 && plaintext == 0, "{encrypted} TLS and {plaintext} plaintext database connections");
    system.stop().await.unwrap();
}
