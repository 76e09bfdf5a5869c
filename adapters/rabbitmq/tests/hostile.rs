//! Hostile messages on the work queues: whatever headers a publisher with
//! access to the vhost sets, the worker keeps its connection, handles every
//! valid event once and parks every hostile message once, with its reason
//! and without its hostile headers.

// A test that cannot set up fails at once; a panic is the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use common::worker::{Outcome, Worker};
use common::{Fixture, header, take_all};
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldArray, FieldTable, LongString};
use linebacker_domain::ports::{MessageBus, WorkQueue};
use linebacker_rabbitmq::routing_key;
use linebacker_testkit::{BrokerProbe, eventually, sample_event as event};
use tokio_util::sync::CancellationToken;

const VALID: usize = 100;
const PREFETCH: u16 = 20;
/// How long the whole run may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(60);

fn headers(entries: Vec<(&str, AMQPValue)>) -> FieldTable {
    let mut table = FieldTable::default();
    for (key, value) in entries {
        table.insert(key.into(), value);
    }
    table
}

fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(value.into())
}

fn not_utf8() -> AMQPValue {
    AMQPValue::LongString(LongString::from(vec![0xc3, 0x28, 0xff, b'x']))
}

fn nested(depth: usize) -> AMQPValue {
    (0..depth).fold(text("bottom"), |inner, _| AMQPValue::FieldTable(headers(vec![("n", inner)])))
}

fn forged_death(queue: &str, reason: &str, count: i64) -> AMQPValue {
    let death = headers(vec![
        ("count", AMQPValue::LongLongInt(count)),
        ("reason", text(reason)),
        ("queue", text(queue)),
        ("exchange", text("")),
        ("routing-keys", AMQPValue::FieldArray(FieldArray::from(vec![text(queue)]))),
    ]);
    AMQPValue::FieldArray(FieldArray::from(vec![AMQPValue::FieldTable(death)]))
}

/// The headers of the 29 hostile messages that reach a work queue: each
/// kind of hostility, in turn.
fn hostile_headers(work: &str) -> Vec<FieldTable> {
    let kinds: Vec<FieldTable> = vec![
        headers(vec![("x-linebacker-last-error", text(&"e".repeat(60_000)))]),
        headers(vec![("x-operator-note", text(&"n".repeat(60_000)))]),
        headers(vec![("x-nested", nested(100))]),
        headers(vec![("traceparent", not_utf8())]),
        headers(vec![("x-backup-request-id", not_utf8())]),
        headers(vec![("x-linebacker-last-error", not_utf8())]),
        headers(vec![("x-death", text("forged"))]),
        headers(vec![("x-death", forged_death(&format!("{work}.dead"), "rejected", 1))]),
        headers(vec![("x-death", forged_death(&format!("{work}.retry.1s"), "expired", i64::MAX))]),
        headers(vec![("x-linebacker-attempt", AMQPValue::LongLongInt(i64::MAX))]),
        headers(vec![("x-linebacker-attempt", AMQPValue::LongLongInt(-1))]),
        headers(vec![("x-linebacker-attempt", text("2"))]),
        headers(vec![("x-delivery-count", AMQPValue::LongLongInt(1_000_000))]),
    ];
    kinds.into_iter().cycle().take(29).collect()
}

fn hostile_properties(id: &str, headers: FieldTable) -> BasicProperties {
    BasicProperties::default().with_message_id(id.into()).with_delivery_mode(2).with_headers(headers)
}

/// Publishes a message whose headers alone take 1 MB, on a connection of
/// its own, and returns the broker's refusal.
async fn publish_one_megabyte_of_headers(exchange: &str, queue: WorkQueue) -> String {
    let publisher = BrokerProbe::connect().await.unwrap();
    let headers = headers(vec![("x-operator-note", text(&"m".repeat(1_000_000)))]);
    let properties = hostile_properties(&format!("hostile-1mb-{}", queue.name()), headers);
    let body = event(queue.source()).to_json();
    let published = tokio::time::timeout(
        Duration::from_secs(10),
        publisher.publish_raw(exchange, routing_key(queue.source()), &body, properties),
    )
    .await
    .expect("the broker answers a 1 MB header frame within 10 s");
    let refusal = format!("{:#}", published.expect_err("the broker takes no frame larger than its frame_max"));
    publisher.close().await;
    refusal
}

#[tokio::test]
async fn a_worker_handles_every_valid_event_once_and_parks_every_hostile_message_once_without_losing_its_connection() {
    let fixture = Fixture::new().await;
    fixture.bus.declare_topology().await.unwrap();
    let queues = WorkQueue::ALL;

    // A 1 MB header cannot even reach a work queue: the broker refuses the
    // publisher's frame, larger than the frame_max it allows (131072).
    for queue in queues {
        let refusal = publish_one_megabyte_of_headers(&fixture.settings.exchange, *queue).await;
        assert!(refusal.contains("frame_too_large"), "{refusal}");
    }

    let workers: Vec<Arc<Worker>> = queues.iter().map(|_| Arc::new(Worker::default())).collect();
    let stop = CancellationToken::new();
    let mut running = Vec::new();
    for (queue, worker) in queues.iter().zip(&workers) {
        let (bus, worker, stop) = (fixture.bus.clone(), worker.clone(), stop.clone());
        running.push(tokio::spawn(async move {
            // About one event in 16 fails once, so that retry copies are made
            // among the hostile messages.
            let decide = |event: &linebacker_domain::DomainEvent, attempt: u32| {
                if attempt == 1 && event.message_id.to_string().ends_with('0') { Outcome::Retry("flaky") } else { Outcome::Ack }
            };
            worker.run(&bus, *queue, PREFETCH, decide, stop).await;
        }));
    }

    let mut valid: HashMap<WorkQueue, Vec<String>> = HashMap::new();
    let mut hostile: HashMap<WorkQueue, Vec<String>> = HashMap::new();
    for queue in queues {
        let events: Vec<_> = (0..VALID).map(|_| event(queue.source())).collect();
        let work = fixture.work_queue(*queue);
        let mut ids = Vec::new();
        for (n, (headers, valid_event)) in hostile_headers(&work).into_iter().zip(&events).enumerate() {
            let id = format!("hostile-{}-{n}", queue.name());
            let key = routing_key(queue.source());
            let properties = hostile_properties(&id, headers);
            fixture.probe.publish_raw(&fixture.settings.exchange, key, &valid_event.to_json(), properties).await.unwrap();
            ids.push(id);
        }
        fixture.bus.publish(&events).await.unwrap();
        valid.insert(*queue, events.iter().map(|e| e.message_id.to_string()).collect());
        hostile.insert(*queue, ids);
    }

    eventually(DEADLINE, "every valid event handled", || async {
        queues.iter().zip(&workers).all(|(queue, worker)| worker.handled().len() == valid[queue].len()).then_some(())
    })
    .await
    .unwrap();
    for queue in queues {
        let dead = fixture.dead_queue(*queue);
        eventually(DEADLINE, &format!("29 messages on {dead}"), || async {
            (fixture.probe.message_count(&dead).await.ok()? >= 29).then_some(())
        })
        .await
        .unwrap();
    }
    // Room for a duplicate to show up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.cancel();
    for worker in running {
        worker.await.unwrap();
    }

    for (queue, worker) in queues.iter().zip(&workers) {
        let handled = worker.handled();
        for id in &valid[queue] {
            assert_eq!(handled.get(id), Some(&1), "{id} on {}", queue.name());
        }
        assert_eq!(worker.lost_subscriptions(), 0, "the connection of {} dropped", queue.name());

        let parked = take_all(&fixture.probe, &fixture.dead_queue(*queue)).await;
        let mut parked_ids: Vec<String> =
            parked.iter().map(|m| m.properties.message_id().as_ref().unwrap().to_string()).collect();
        parked_ids.sort();
        let mut expected = hostile[queue].clone();
        expected.sort();
        assert_eq!(parked_ids, expected, "each hostile message parked once on {}", queue.name());
        for message in &parked {
            let reason = header(&message.properties, "x-linebacker-reason").unwrap();
            assert!(reason.contains("headers are refused"), "{reason}");
            // x-delivery-count is the broker's, set as it hands a message out.
            let headers = message.properties.headers().as_ref().unwrap().inner();
            let kept: Vec<_> = headers.keys().map(|k| k.to_string()).filter(|k| k != "x-delivery-count").collect();
            assert_eq!(
                kept,
                ["x-linebacker-attempt", "x-linebacker-dead-lettered-at", "x-linebacker-queue", "x-linebacker-reason"],
                "a parked copy keeps only linebacker's marks"
            );
        }
        for name in fixture.bus.queue_names(*queue).iter().filter(|name| !name.ends_with(".dead")) {
            assert_eq!(fixture.probe.message_count(name).await.unwrap(), 0, "{name} is not empty");
        }
    }
    assert!(fixture.bus.is_connected());
    fixture.cleanup().await;
}
