//! Test support shared by the adapter tests and the end-to-end tests: every
//! test gets its own database and its own broker names, so tests run in
//! parallel against the real PostgreSQL and RabbitMQ without seeing each
//! other.

mod broker;
pub mod issuer;
mod proxy;
mod service;
pub mod tls;

use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use sqlx::Connection;

pub use broker::BrokerProbe;
pub use proxy::SwitchableProxy;
pub use service::{
    WAIT, config_dir, database_env, delete_broker_objects, free_port_run, request_body, request_ids, test_env,
    valid_body, wait_until_ready,
};

/// The PostgreSQL server tests run against (a maintenance database on it).
pub fn postgres_admin_url() -> String {
    std::env::var("LINEBACKER_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The RabbitMQ broker tests run against.
pub fn amqp_url() -> String {
    std::env::var("LINEBACKER_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

/// A name no other test uses: `prefix-<random>`.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// An event about a new request id, with a trace context, as a publisher
/// would emit it: what bus tests send through. Its data is what its type
/// carries (a just received request, or a `Failed` status of it), so that
/// every reader of envelopes takes it.
// The sample's values are constants that are valid.
#[allow(clippy::expect_used)]
pub fn sample_event(event_type: linebacker_domain::EventType) -> linebacker_domain::DomainEvent {
    use linebacker_domain::external::{API_VERSION, ResultTypeCode, StoreStatus};
    use linebacker_domain::request::{NewBackupRequest, now};
    use linebacker_domain::{
        BackupJobId, BackupRequest, DataDate, DomainEvent, EventType, PreparedDataPathName, RequesterId,
        TraceParent, TransportTypeCode,
    };

    let request = BackupRequest::receive(
        NewBackupRequest {
            backup_job_id: BackupJobId::try_from("job-17").expect("a valid job id"),
            data_date: DataDate::try_from("2022-05-30").expect("a valid date"),
            prepared_data_path_name: PreparedDataPathName::try_from("/prepared/job-17/2022-05-30")
                .expect("a valid path"),
            transport_type_code: TransportTypeCode::Http,
            requester_id: RequesterId::anonymous(),
        },
        now(),
    );
    let mut event = match event_type {
        EventType::StoreStatusReceived => DomainEvent::status_received(
            StoreStatus {
                api_version: API_VERSION.to_owned(),
                backup_request_id: request.backup_request_id().clone(),
                result_type_code: ResultTypeCode::Failed,
                storage_path_name: None,
                backup_byte_count: None,
                copy_start_timestamp: None,
                copy_end_timestamp: None,
                verify_start_timestamp: None,
                verify_end_timestamp: None,
                verified_hash: None,
                message_text: Some("sample failure".to_owned()),
            },
            None,
        ),
        _ => DomainEvent::about(event_type, &request, None),
    };
    event.traceparent = Some(TraceParent::new_root());
    event
}

/// An empty database of its own for one test. Test databases are named
/// `lb_test_*`; the test script drops the ones earlier runs left behind.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

pub async fn fresh_database() -> anyhow::Result<TestDatabase> {
    fresh_database_at(&postgres_admin_url()).await
}

/// An empty database of its own on the server of `admin_url` (a maintenance
/// database URL without parameters).
pub async fn fresh_database_at(admin_url: &str) -> anyhow::Result<TestDatabase> {
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .with_context(|| format!("connecting to {admin_url}"))?;
    let name = format!("lb_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .with_context(|| format!("creating database {name}"))?;
    admin.close().await.ok();
    let base = admin_url
        .rsplit_once('/')
        .map(|(base, _)| base.to_owned())
        .context("postgres url has no database part")?;
    Ok(TestDatabase { url: format!("{base}/{name}"), name })
}

/// Waits until `check` yields `Some`, polling every 50 ms, or fails after
/// `timeout` with `what` in the message.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return Ok(value);
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A queue of the test's own, bound to `routing_keys` on `exchange`, to see
/// what was published. Deleted by `delete`.
pub struct WatchQueue {
    pub name: String,
    channel: lapin::Channel,
    _connection: lapin::Connection,
}

impl WatchQueue {
    pub async fn bind(exchange: &str, routing_keys: &[&str]) -> anyhow::Result<Self> {
        use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
        use lapin::types::FieldTable;

        let connection = tokio::time::timeout(
            Duration::from_secs(10),
            lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default()),
        )
        .await
        .context("connecting to RabbitMQ timed out")??;
        let channel = connection.create_channel().await?;
        channel
            .exchange_declare(
                exchange.into(),
                lapin::ExchangeKind::Topic,
                ExchangeDeclareOptions { durable: true, ..Default::default() },
                FieldTable::default(),
            )
            .await?;
        let name = unique_name("watch");
        channel
            .queue_declare(name.as_str().into(), QueueDeclareOptions::default(), FieldTable::default())
            .await?;
        for key in routing_keys {
            channel
                .queue_bind(
                    name.as_str().into(),
                    exchange.into(),
                    (*key).into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        Ok(Self { name, channel, _connection: connection })
    }

    /// Takes every message now in the queue (acknowledging them).
    pub async fn drain(&self) -> anyhow::Result<Vec<lapin::message::BasicGetMessage>> {
        use lapin::options::BasicGetOptions;

        let mut messages = Vec::new();
        while let Some(message) = self
            .channel
            .basic_get(self.name.as_str().into(), BasicGetOptions { no_ack: true })
            .await?
        {
            messages.push(message);
        }
        Ok(messages)
    }

    /// Collects messages until `count` have arrived (or `timeout` passes),
    /// then waits `settle` longer to catch any that should not have come.
    pub async fn collect(
        &self,
        count: usize,
        timeout: Duration,
        settle: Duration,
    ) -> anyhow::Result<Vec<lapin::message::BasicGetMessage>> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut messages = Vec::new();
        while messages.len() < count && tokio::time::Instant::now() < deadline {
            messages.extend(self.drain().await?);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(settle).await;
        messages.extend(self.drain().await?);
        Ok(messages)
    }

    pub async fn delete(self) -> anyhow::Result<()> {
        use lapin::options::QueueDeleteOptions;
        self.channel
            .queue_delete(self.name.as_str().into(), QueueDeleteOptions::default())
            .await?;
        Ok(())
    }
}

/// Deletes an exchange a test declared (best effort: a test's own names).
pub async fn delete_exchange(exchange: &str) -> anyhow::Result<()> {
    use lapin::options::ExchangeDeleteOptions;
    let connection = lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    channel.exchange_delete(exchange.into(), ExchangeDeleteOptions::default()).await?;
    connection.close(200, "bye".into()).await.ok();
    Ok(())
}
