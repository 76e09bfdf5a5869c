//! The outbox relay against the real PostgreSQL and RabbitMQ: each test has
//! its own database, exchange and queue names.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use linebacker_domain::ports::{BackupRequestRepository, WorkQueue};
use linebacker_domain::EventType;
use linebacker_domain::testing::fixtures::{event, received};
use linebacker_postgres::{Database, OutboxRelay, RelayConfig};
use linebacker_rabbitmq::{RabbitBus, RabbitSettings};
use linebacker_testkit::{SwitchableProxy, WatchQueue, amqp_url, eventually, unique_name};
use tokio_util::sync::CancellationToken;

struct Fixture {
    database: Database,
    exchange: String,
    queue_prefix: String,
    watch: WatchQueue,
}

impl Fixture {
    async fn new() -> Self {
        let database = common::migrated_database(20).await;
        let exchange = unique_name("tx");
        let watch = WatchQueue::bind(&exchange, &[linebacker_rabbitmq::routing_key(EventType::BackupRequestReceived)]).await.unwrap();
        Self { database, queue_prefix: format!("{}.", unique_name("tq")), exchange, watch }
    }

    fn bus(&self, url: String) -> Arc<RabbitBus> {
        Arc::new(RabbitBus::new(RabbitSettings {
            urls: vec![url],
            exchange: self.exchange.clone(),
            queue_prefix: self.queue_prefix.clone(),
            connect_timeout: Duration::from_secs(2),
            confirm_timeout: Duration::from_secs(5),
            ..RabbitSettings::default()
        }))
    }

    fn relay(&self, bus: Arc<RabbitBus>, poll_interval: Duration) -> OutboxRelay {
        OutboxRelay::new(self.database.clone(), bus, RelayConfig { batch_size: 100, poll_interval })
    }

    /// Stores `count` requests, each with its `BackupRequestReceived` event.
    async fn store_requests(&self, count: usize) -> HashSet<String> {
        let store = self.database.store();
        let mut ids = HashSet::new();
        for _ in 0..count {
            let request = received("job-1");
            store.create(&request, None, &[event(EventType::BackupRequestReceived, &request)]).await.unwrap();
            ids.insert(request.backup_request_id().to_string());
        }
        ids
    }

    async fn outbox_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM outbox").fetch_one(self.database.pool()).await.unwrap()
    }

    /// The request ids of the messages that reach the watch queue, expecting
    /// `count` of them, and asserting that each came exactly once.
    async fn delivered_once(&self, count: usize) -> HashSet<String> {
        let messages = self.watch.collect(count, Duration::from_secs(60), Duration::from_secs(1)).await.unwrap();
        let ids: Vec<String> = messages
            .iter()
            .map(|m| {
                let body: serde_json::Value = serde_json::from_slice(&m.delivery.data).unwrap();
                body["backupRequestId"].as_str().unwrap().to_owned()
            })
            .collect();
        let unique: HashSet<String> = ids.iter().cloned().collect();
        assert_eq!(ids.len(), unique.len(), "an event was published twice");
        unique
    }

    async fn clean_up(self) {
        let mut queues: Vec<String> = Vec::new();
        for queue in WorkQueue::ALL {
            queues.push(format!("{}{}", self.queue_prefix, queue.name()));
            queues.push(format!("{}{}.dead", self.queue_prefix, queue.name()));
        }
        if let Ok(connection) = lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default()).await {
            if let Ok(channel) = connection.create_channel().await {
                for queue in queues {
                    let _ = channel.queue_delete(queue.as_str().into(), Default::default()).await;
                }
            }
        }
        let _ = self.watch.delete().await;
        let _ = linebacker_testkit::delete_exchange(&self.exchange).await;
    }
}

async fn stop(shutdown: CancellationToken, relays: Vec<tokio::task::JoinHandle<()>>) {
    shutdown.cancel();
    for relay in relays {
        tokio::time::timeout(Duration::from_secs(20), relay).await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn two_relays_publish_each_of_1000_events_exactly_once() {
    let fixture = Fixture::new().await;
    let expected = fixture.store_requests(1000).await;
    let shutdown = CancellationToken::new();
    let relays: Vec<_> = (0..2)
        .map(|_| {
            let relay = fixture.relay(fixture.bus(amqp_url()), Duration::from_millis(200));
            tokio::spawn(relay.run(shutdown.clone(), Duration::from_secs(5)))
        })
        .collect();

    let delivered = fixture.delivered_once(1000).await;
    assert_eq!(delivered, expected);
    assert_eq!(fixture.outbox_count().await, 0);
    stop(shutdown, relays).await;
    fixture.clean_up().await;
}

#[tokio::test]
async fn events_wait_in_the_outbox_while_the_broker_is_away_and_go_out_once_when_it_returns() {
    let fixture = Fixture::new().await;
    let proxy = SwitchableProxy::start("127.0.0.1:5672".parse().unwrap()).await.unwrap();
    proxy.cut();
    let bus = fixture.bus(format!("amqp://guest:guest@127.0.0.1:{}/%2f", proxy.port()));
    let shutdown = CancellationToken::new();
    let relay = tokio::spawn(fixture.relay(bus, Duration::from_millis(200)).run(shutdown.clone(), Duration::from_secs(2)));

    let expected = fixture.store_requests(5).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(fixture.outbox_count().await, 5, "nothing leaves the outbox without a confirm");
    assert!(fixture.watch.drain().await.unwrap().is_empty());

    proxy.restore();
    assert_eq!(fixture.delivered_once(5).await, expected);
    eventually(Duration::from_secs(10), "an empty outbox", || async {
        (fixture.outbox_count().await == 0).then_some(())
    })
    .await
    .unwrap();
    stop(shutdown, vec![relay]).await;
    fixture.clean_up().await;
}

#[tokio::test]
async fn a_committed_event_wakes_the_relay_without_waiting_for_the_poll() {
    let fixture = Fixture::new().await;
    let shutdown = CancellationToken::new();
    // A poll far longer than the test: only the notification can deliver in time.
    let relay = fixture.relay(fixture.bus(amqp_url()), Duration::from_secs(600));
    let relay = tokio::spawn(relay.run(shutdown.clone(), Duration::from_secs(2)));
    tokio::time::sleep(Duration::from_millis(500)).await;

    let expected = fixture.store_requests(1).await;
    let messages = fixture.watch.collect(1, Duration::from_secs(10), Duration::ZERO).await.unwrap();
    assert_eq!(messages.len(), 1, "the relay did not wake on NOTIFY");
    let body: serde_json::Value = serde_json::from_slice(&messages[0].delivery.data).unwrap();
    assert!(expected.contains(body["backupRequestId"].as_str().unwrap()));
    stop(shutdown, vec![relay]).await;
    fixture.clean_up().await;
}

#[tokio::test]
async fn a_stopping_relay_flushes_what_is_pending() {
    let fixture = Fixture::new().await;
    let expected = fixture.store_requests(20).await;
    let shutdown = CancellationToken::new();
    shutdown.cancel();
    fixture
        .relay(fixture.bus(amqp_url()), Duration::from_secs(600))
        .run(shutdown, Duration::from_secs(10))
        .await;
    assert_eq!(fixture.outbox_count().await, 0);
    assert_eq!(fixture.delivered_once(20).await, expected);
    fixture.clean_up().await;
}
