//! AMQPS against the TLS-only node of `scripts/tls-servers.sh` (port 5671, a
//! certificate for `localhost` signed by the test CA): an `amqps://` URL
//! always speaks TLS and verifies the broker, a client certificate is
//! offered when configured, a refused certificate says why, and the bus
//! recovers once its CA file is fixed, since it reads it at every
//! connection.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use linebacker_domain::DomainError;
use linebacker_domain::ports::{MessageBus, WorkQueue};
use linebacker_rabbitmq::{RabbitBus, RabbitSettings, RabbitTls};
use linebacker_testkit::tls::{AMQPS_PORT, own_copy, replace_file, tls_file};
use linebacker_testkit::unique_name;
use lapin::tcp::OwnedTLSConfig;

fn settings(host: &str, port: u16, tls: RabbitTls) -> RabbitSettings {
    RabbitSettings {
        urls: vec![format!("amqps://guest:guest@{host}:{port}/%2f")],
        exchange: unique_name("lb-test"),
        queue_prefix: format!("{}.", unique_name("lb-test")),
        connect_timeout: Duration::from_secs(5),
        connection_name: "linebacker-rabbitmq-tls-test".to_owned(),
        tls,
        ..RabbitSettings::default()
    }
}

fn trusting(ca: PathBuf) -> RabbitTls {
    RabbitTls { ca_file: Some(ca), ..RabbitTls::default() }
}

/// Declares the topology through `bus`, publishes one event on it, then
/// deletes what it declared.
async fn round_trip(bus: &RabbitBus, settings: &RabbitSettings) -> Result<(), DomainError> {
    let outcome = async {
        bus.declare_topology().await?;
        bus.publish(&[linebacker_testkit::sample_event(WorkQueue::CheckAllowed.source())]).await
    }
    .await;
    bus.close().await;
    delete_topology(bus, settings).await;
    outcome
}

/// The TLS node is this suite's own, but it is kept clean all the same.
async fn delete_topology(bus: &RabbitBus, settings: &RabbitSettings) {
    use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
    let tls = OwnedTLSConfig { identity: None, cert_chain: Some(std::fs::read_to_string(tls_file("ca.pem")).unwrap()) };
    let url = format!("amqps://guest:guest@localhost:{AMQPS_PORT}/%2f");
    let runtime = lapin::runtime::default_runtime().unwrap();
    let connection = lapin::Connection::connect_with_config(&url, Default::default(), tls, runtime).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    for name in WorkQueue::ALL.iter().flat_map(|queue| bus.queue_names(*queue)) {
        channel.queue_delete(name.as_str().into(), QueueDeleteOptions::default()).await.unwrap();
    }
    for exchange in [format!("{}.heartbeats", settings.exchange), settings.exchange.clone()] {
        channel.exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default()).await.unwrap();
    }
    connection.close(200, "bye".into()).await.ok();
}

fn unavailable_reason(outcome: Result<(), DomainError>) -> String {
    match outcome {
        Err(DomainError::Unavailable(error)) => format!("{error:#}"),
        other => panic!("expected Unavailable (a worker retries it), got {other:?}"),
    }
}

#[tokio::test]
async fn amqps_with_the_test_ca_publishes_with_confirms() {
    let settings = settings("localhost", AMQPS_PORT, trusting(tls_file("ca.pem")));
    round_trip(&RabbitBus::new(settings.clone()), &settings).await.unwrap();
}

#[tokio::test]
async fn a_client_certificate_is_offered_when_configured() {
    let tls = RabbitTls {
        ca_file: Some(tls_file("ca.pem")),
        cert_file: Some(tls_file("client.pem")),
        key_file: Some(tls_file("client.key")),
    };
    let settings = settings("localhost", AMQPS_PORT, tls);
    round_trip(&RabbitBus::new(settings.clone()), &settings).await.unwrap();
}

#[tokio::test]
async fn a_broker_certificate_from_another_ca_is_refused_with_the_reason() {
    let bus = RabbitBus::new(settings("localhost", AMQPS_PORT, trusting(tls_file("wrong-ca.pem"))));
    let reason = unavailable_reason(bus.declare_topology().await);
    assert!(reason.contains("certificate not accepted") && reason.contains("UnknownIssuer"), "{reason}");
}

#[tokio::test]
async fn a_wrong_host_name_is_refused_with_the_reason() {
    let bus = RabbitBus::new(settings("127.0.0.1", AMQPS_PORT, trusting(tls_file("ca.pem"))));
    let reason = unavailable_reason(bus.declare_topology().await);
    assert!(reason.contains(r#"not valid for name "127.0.0.1""#), "{reason}");
}

#[tokio::test]
async fn an_amqps_url_is_never_downgraded_to_plain_amqp() {
    // The shared broker's 5672 speaks plain AMQP only: a TLS client must not
    // get a session there (and so never sends its credentials in clear).
    let bus = RabbitBus::new(settings("127.0.0.1", 5672, trusting(tls_file("ca.pem"))));
    let reason = unavailable_reason(bus.declare_topology().await);
    assert!(!bus.is_connected(), "{reason}");
    assert!(reason.contains("TLS"), "{reason}");
}

#[tokio::test]
async fn the_bus_recovers_once_its_ca_file_is_replaced() {
    let ca_file = own_copy("wrong-ca.pem");
    let settings = settings("localhost", AMQPS_PORT, trusting(ca_file.clone()));
    let bus = RabbitBus::new(settings.clone());
    unavailable_reason(bus.declare_topology().await);
    replace_file(&ca_file, "ca.pem");
    round_trip(&bus, &settings).await.unwrap();
    std::fs::remove_file(&ca_file).ok();
}
