//! A dead letter replayed once its cause is fixed is processed normally:
//! the consumer edge, the check-allowed use case, PostgreSQL and RabbitMQ,
//! all real; only the backup job service is a stand-in.

// A test that cannot set up fails at once; a panic is the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use linebacker_domain::backoff::RetryPolicy;
use linebacker_domain::dead_letter::DeadLetters;
use linebacker_domain::external::BackupJob;
use linebacker_domain::ports::{BackupJobService, BackupRequestRepository, MessageBus, WorkQueue};
use linebacker_domain::testing::fixtures;
use linebacker_domain::usecase::CheckAllowed;
use linebacker_domain::{BackupJobId, DomainError, DomainEvent, EventType, StatusTypeCode};
use linebacker_postgres::{Database, PgConfig};
use linebacker_rabbitmq::{RabbitBus, RabbitSettings};
use linebacker_testkit::{amqp_url, delete_broker_objects, eventually, fresh_database, unique_name};
use linebacker_platform::{ConsumerConfig, ConsumerStats, consume};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(15);

/// Every job exists and is active.
struct EveryJob;

#[async_trait]
impl BackupJobService for EveryJob {
    async fn find_job(&self, id: &BackupJobId) -> Result<Option<BackupJob>, DomainError> {
        Ok(Some(fixtures::job(id.as_str(), true)))
    }
}

#[tokio::test]
async fn a_message_dead_lettered_for_an_unknown_request_is_processed_once_the_request_exists_and_it_is_replayed() {
    let database = fresh_database().await.unwrap();
    let database = Database::connect_lazy(&PgConfig {
        options: database.url.parse().unwrap(),
        max_connections: 4,
        acquire_timeout: Duration::from_secs(5),
    })
    .unwrap();
    database.migrate().await.unwrap();
    let store = Arc::new(database.store());
    let short = Duration::from_millis(200);
    let exchange = unique_name("lb-test");
    let bus = RabbitBus::new(RabbitSettings {
        urls: vec![amqp_url()],
        exchange: exchange.clone(),
        queue_prefix: format!("{}.", unique_name("lb-test")),
        connect_timeout: Duration::from_secs(2),
        confirm_timeout: Duration::from_secs(3),
        retry: RetryPolicy { base: short, cap: short, jitter: 0.0 },
        retry_levels: vec![short],
        ..RabbitSettings::default()
    });
    bus.declare_topology().await.unwrap();

    // The event names a request the database does not have (as after a
    // restore from an older backup): it is dead-lettered.
    let request = fixtures::received("job-17");
    bus.publish(&[DomainEvent::about(EventType::BackupRequestReceived, &request, None)]).await.unwrap();
    let shutdown = CancellationToken::new();
    let config = ConsumerConfig {
        queue: WorkQueue::CheckAllowed,
        prefetch: 4,
        max_attempts: 3,
        not_found_grace: Duration::ZERO,
    };
    let handler = Arc::new(CheckAllowed::new(store.clone(), Arc::new(EveryJob)));
    let stats = Arc::new(ConsumerStats::default());
    let consumer = tokio::spawn(consume(Arc::new(bus.clone()), handler, config, stats, Vec::new(), shutdown.clone()));
    let dead_letters = bus.dead_letters(WorkQueue::CheckAllowed);
    let parked = eventually(WAIT, "the message dead-lettered", || async {
        dead_letters.list(10).await.ok().filter(|items| !items.is_empty())
    })
    .await
    .unwrap();
    assert!(parked[0].reason.as_deref().unwrap().contains("not found"), "{parked:?}");
    assert_eq!(parked[0].backup_request_id, Some(request.backup_request_id().to_string()));

    // The cause is fixed: the request exists. Replayed, it is processed.
    store.create(&request, None, &[]).await.unwrap();
    assert_eq!(dead_letters.replay(Some(&parked[0].message_id)).await.unwrap().count, 1);
    eventually(WAIT, "the request allowed", || async {
        let stored = store.find(request.backup_request_id()).await.ok()??;
        (stored.status() == StatusTypeCode::Allowed).then_some(())
    })
    .await
    .unwrap();
    assert!(dead_letters.list(10).await.unwrap().is_empty());

    shutdown.cancel();
    consumer.await.unwrap();
    let queues: Vec<String> = WorkQueue::ALL.iter().flat_map(|q| bus.queue_names(*q)).collect();
    bus.close().await;
    delete_broker_objects(&exchange, queues).await;
}
