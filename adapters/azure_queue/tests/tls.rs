//! The queue client over HTTPS against the Azurite of
//! `scripts/tls-servers.sh` (port 10011, started with `--cert`/`--key`, a
//! certificate for `localhost` from the test CA): `azure_queue.ca_file`
//! verifies it; another CA or another host name is refused, transiently,
//! with rustls' reason.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::PathBuf;
use std::time::Duration;

use linebacker_azure_queue::testing::{azurite_config, unique_queue_name};
use linebacker_azure_queue::{QueueClient, QueueServiceConfig};
use linebacker_domain::DomainError;
use linebacker_testkit::tls::{AZURITE_HTTPS_PORT, tls_file};
use support::get_within;

async fn https_queue(host: &str, ca_file: PathBuf) -> QueueClient {
    let config = QueueServiceConfig {
        account_uri: format!("https://{host}:{AZURITE_HTTPS_PORT}/devstoreaccount1"),
        ca_file: Some(ca_file),
        timeout: Duration::from_secs(5),
        ..azurite_config()
    };
    QueueClient::new(&config, &unique_queue_name("tls")).unwrap()
}

async fn refusal(queue: &QueueClient) -> String {
    match queue.create_if_missing().await {
        Err(DomainError::Unavailable(error)) => format!("{error:#}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn the_test_ca_verifies_azurite_over_https() {
    let queue = https_queue("localhost", tls_file("ca.pem")).await;
    queue.create_if_missing().await.unwrap();
    queue.put(r#"{"over":"tls"}"#).await.unwrap();
    let messages = get_within(&queue, Duration::from_secs(5)).await;
    assert_eq!(messages[0].text, r#"{"over":"tls"}"#);
    queue.delete_queue().await.unwrap();
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused_with_the_reason() {
    let reason = refusal(&https_queue("localhost", tls_file("wrong-ca.pem")).await).await;
    assert!(reason.contains("TLS certificate not accepted") && reason.contains("UnknownIssuer"), "{reason}");
}

#[tokio::test]
async fn a_wrong_host_name_is_refused_with_the_reason() {
    let reason = refusal(&https_queue("127.0.0.1", tls_file("ca.pem")).await).await;
    assert!(reason.contains("TLS certificate not accepted") && reason.contains(r#"not valid for name "127.0.0.1""#), "{reason}");
}
