//! The broker out of reach: callers are told `Unavailable` in bounded time,
//! and the bus reconnects by itself once the broker is back.

// A test that cannot set up fails at once; a panic is the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::worker::{Outcome, Worker};
use common::{Fixture, RECEIVE_TIMEOUT, delivers_within, next_delivery, take_all};
use futures::StreamExt;
use linebacker_domain::ports::{MessageBus, WorkQueue};
use linebacker_domain::{DomainError, EventType};
use linebacker_testkit::{SwitchableProxy, eventually, sample_event as event};
use tokio_util::sync::CancellationToken;

/// Generous for a loaded machine, far below "hangs".
const MARGIN: Duration = Duration::from_secs(2);

fn assert_unavailable<T>(result: Result<T, DomainError>) {
    match result {
        Err(DomainError::Unavailable(_)) => {}
        Err(other) => panic!("expected Unavailable, got {other:#}"),
        Ok(_) => panic!("expected Unavailable, got Ok"),
    }
}

fn broker_addr() -> SocketAddr {
    let url = linebacker_testkit::amqp_url();
    let host_port = url.split('@').next_back().and_then(|rest| rest.split('/').next()).unwrap();
    host_port.parse().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 5672)))
}

/// A bus that reaches the broker through a proxy the test can cut, and has
/// published one event on `queue` through it.
async fn published_through_proxy(queue: WorkQueue) -> (SwitchableProxy, Fixture) {
    let proxy = SwitchableProxy::start(broker_addr()).await.unwrap();
    let fixture = Fixture::at(format!("amqp://guest:guest@127.0.0.1:{}/%2f", proxy.port())).await;
    fixture.bus.publish(&[event(queue.source())]).await.unwrap();
    assert!(fixture.bus.is_connected());
    (proxy, fixture)
}

#[tokio::test]
async fn a_broker_on_a_closed_port_is_unavailable_within_the_connect_timeout() {
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let fixture = Fixture::at(format!("amqp://guest:guest@127.0.0.1:{closed_port}/%2f")).await;

    let started = Instant::now();
    assert_unavailable(fixture.bus.publish(&[event(EventType::BackupRequestReceived)]).await);
    assert_unavailable(fixture.bus.declare_topology().await);
    assert_unavailable(fixture.bus.subscribe(WorkQueue::CheckAllowed, 1).await);

    assert!(started.elapsed() < 3 * fixture.settings.connect_timeout + MARGIN, "took {:?}", started.elapsed());
    assert!(!fixture.bus.is_connected());
    fixture.cleanup().await;
}

#[tokio::test]
async fn a_cut_network_makes_publish_unavailable_and_the_next_publish_after_restore_reconnects() {
    let (proxy, fixture) = published_through_proxy(WorkQueue::CheckAllowed).await;

    proxy.cut();
    let started = Instant::now();
    assert_unavailable(fixture.bus.publish(&[event(EventType::BackupRequestReceived)]).await);
    let limit = fixture.settings.connect_timeout.max(fixture.settings.confirm_timeout) + MARGIN;
    assert!(started.elapsed() < limit, "took {:?}", started.elapsed());

    proxy.restore();
    fixture.bus.publish(&[event(EventType::BackupRequestReceived)]).await.unwrap();
    assert!(fixture.bus.is_connected());

    // The first and the last event made it; the refused one did not.
    let mut subscription = fixture.bus.subscribe(WorkQueue::CheckAllowed, 5).await.unwrap();
    for _ in 0..2 {
        next_delivery(&mut subscription).await.settle.ack().await.unwrap();
    }
    assert!(!delivers_within(&mut subscription, Duration::from_millis(500)).await);
    fixture.cleanup().await;
}

#[tokio::test]
async fn a_subscription_ends_with_unavailable_when_the_network_is_cut_and_a_new_one_works_after_restore() {
    let (proxy, fixture) = published_through_proxy(WorkQueue::SendToInterface).await;
    let mut subscription = fixture.bus.subscribe(WorkQueue::SendToInterface, 1).await.unwrap();
    let in_flight = next_delivery(&mut subscription).await;

    proxy.cut();
    let ended = tokio::time::timeout(RECEIVE_TIMEOUT, subscription.next()).await.expect("the stream reacts to the cut");
    assert!(matches!(ended, Some(Err(DomainError::Unavailable(_)))), "{:?}", ended.map(|r| r.map(|_| ())));
    let after = tokio::time::timeout(RECEIVE_TIMEOUT, subscription.next()).await.expect("the stream ends");
    assert!(after.is_none(), "the stream goes on after Unavailable");
    assert_unavailable(in_flight.settle.ack().await);

    proxy.restore();
    let mut again = fixture.bus.subscribe(WorkQueue::SendToInterface, 1).await.unwrap();
    let redelivered = next_delivery(&mut again).await;
    assert_eq!(redelivered.attempt, 2, "the unacked message comes back");
    redelivered.settle.ack().await.unwrap();
    fixture.cleanup().await;
}

#[tokio::test]
async fn connections_cut_while_deliveries_are_retried_and_dead_lettered_make_no_duplicate_copy() {
    const COUNT: usize = 200;
    let queue = WorkQueue::ReceiveStatus;
    let proxy = SwitchableProxy::start(broker_addr()).await.unwrap();
    let fixture = Fixture::at(format!("amqp://guest:guest@127.0.0.1:{}/%2f", proxy.port())).await;
    let events: Vec<_> = (0..COUNT).map(|_| event(queue.source())).collect();
    fixture.bus.publish(&events).await.unwrap();

    // Every settlement makes a copy: a retry on the first attempt, the
    // dead-letter queue on any later one (a redelivery after a cut too).
    let worker = Arc::new(Worker::default());
    let stop = CancellationToken::new();
    let running = {
        let (bus, worker, stop) = (fixture.bus.clone(), worker.clone(), stop.clone());
        tokio::spawn(async move {
            let decide = |_: &linebacker_domain::DomainEvent, attempt: u32| {
                if attempt == 1 { Outcome::Retry("first attempt fails") } else { Outcome::DeadLetter("later attempts fail") }
            };
            worker.run(&bus, queue, 20, decide, stop).await;
        })
    };
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        proxy.cut();
        tokio::time::sleep(Duration::from_millis(300)).await;
        proxy.restore();
    }
    let dead = fixture.dead_queue(queue);
    eventually(Duration::from_secs(60), &format!("{COUNT} messages on {dead}"), || async {
        (fixture.probe.message_count(&dead).await.ok()? >= u32::try_from(COUNT).ok()?).then_some(())
    })
    .await
    .unwrap();
    // Room for a duplicate to show up.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.cancel();
    running.await.unwrap();

    assert!(worker.lost_subscriptions() > 0, "the cuts must have hit the worker's connection");
    let mut parked: HashMap<String, usize> = HashMap::new();
    for message in take_all(&fixture.probe, &dead).await {
        *parked.entry(message.properties.message_id().as_ref().unwrap().to_string()).or_default() += 1;
    }
    let duplicated: Vec<_> = parked.iter().filter(|(_, count)| **count > 1).collect();
    assert!(duplicated.is_empty(), "parked more than once: {duplicated:?}");
    let missing: Vec<_> = events.iter().filter(|e| !parked.contains_key(&e.message_id.to_string())).collect();
    assert!(missing.is_empty() && parked.len() == COUNT, "{} missing, {} parked", missing.len(), parked.len());
    for name in fixture.bus.queue_names(queue).iter().filter(|name| !name.ends_with(".dead")) {
        assert_eq!(fixture.probe.message_count(name).await.unwrap(), 0, "{name} is not empty");
    }
    fixture.cleanup().await;
}
