//! The topology of SPEC §4 as the broker sees it.

// A test that cannot set up fails at once; a panic is the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Fixture;
use linebacker_domain::ports::WorkQueue;
use linebacker_rabbitmq::RabbitBus;
use serde_json::Value;

/// `rabbitmqctl list_<what> <columns>` as JSON rows.
async fn rabbitmqctl(what: &str, columns: &[&str]) -> Vec<Value> {
    let output = tokio::process::Command::new("rabbitmqctl")
        .arg(format!("list_{what}"))
        .args(columns)
        .args(["--formatter", "json", "--quiet"])
        .output()
        .await
        .expect("rabbitmqctl runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("rabbitmqctl prints JSON")
}

fn row<'a>(rows: &'a [Value], key: &str, value: &str) -> &'a Value {
    rows.iter().find(|r| r[key] == value).unwrap_or_else(|| panic!("no {key} {value} in {rows:#?}"))
}

/// A queue argument's value; rabbitmqctl lists them as `[name, type, value]`.
fn argument(queue: &Value, name: &str) -> Value {
    let arguments = queue["arguments"].as_array().cloned().unwrap_or_default();
    arguments.into_iter().find(|a| a[0] == name).map_or(Value::Null, |a| a[2].clone())
}

#[tokio::test]
async fn declaring_the_topology_twice_makes_quorum_work_dead_and_delay_queues_bound_to_their_events() {
    let fixture = Fixture::new().await;
    assert!(!fixture.bus.is_connected(), "the bus must not connect before it is used");

    fixture.bus.declare_topology().await.unwrap();
    fixture.bus.declare_topology().await.unwrap();
    // Another process starting declares the same topology.
    let other = RabbitBus::new(fixture.settings.clone());
    other.declare_topology().await.unwrap();
    other.close().await;
    assert!(fixture.bus.is_connected());

    let queues = rabbitmqctl("queues", &["name", "type", "durable", "arguments"]).await;
    for queue in WorkQueue::ALL {
        let (work, dead) = (fixture.work_queue(*queue), fixture.dead_queue(*queue));
        let declared = row(&queues, "name", &work);
        assert_eq!(declared["type"], "quorum", "{declared}");
        assert_eq!(declared["durable"], true, "{declared}");
        assert_eq!(argument(declared, "x-dead-letter-exchange"), "", "{declared}");
        assert_eq!(argument(declared, "x-dead-letter-routing-key"), dead.as_str(), "{declared}");
        assert_eq!(argument(declared, "x-quorum-initial-group-size"), 3, "rabbitmq.quorum_replicas: {declared}");
        let delays = ["400ms", "1s", "2s"].map(|level| row(&queues, "name", &format!("{work}.retry.{level}")));
        for (delay, ttl) in delays.iter().zip([400, 1000, 2000]) {
            assert_eq!(delay["type"], "classic", "{delay}");
            assert_eq!(delay["durable"], true, "{delay}");
            assert_eq!(argument(delay, "x-message-ttl"), ttl, "{delay}");
            assert_eq!(argument(delay, "x-dead-letter-exchange"), "", "{delay}");
            assert_eq!(argument(delay, "x-dead-letter-routing-key"), work.as_str(), "{delay}");
        }
        let declared_dead = row(&queues, "name", &dead);
        assert_eq!(declared_dead["type"], "quorum", "{declared_dead}");
        assert_eq!(declared_dead["durable"], true, "{declared_dead}");
        assert_eq!(argument(declared_dead, "x-delivery-limit"), 2_147_483_647, "{declared_dead}");
        assert_eq!(argument(declared_dead, "x-quorum-initial-group-size"), 3, "{declared_dead}");
    }

    let bindings = rabbitmqctl("bindings", &["source_name", "destination_name", "routing_key"]).await;
    let ours: Vec<_> =
        bindings.into_iter().filter(|b| b["source_name"] == fixture.settings.exchange.as_str()).collect();
    assert_eq!(ours.len(), WorkQueue::ALL.len(), "{ours:#?}");
    for queue in WorkQueue::ALL {
        let binding = row(&ours, "destination_name", &fixture.work_queue(*queue));
        assert_eq!(binding["routing_key"], linebacker_rabbitmq::routing_key(queue.source()));
    }

    fixture.bus.close().await;
    assert!(!fixture.bus.is_connected());
    fixture.cleanup().await;
}

#[tokio::test]
async fn queues_declared_earlier_without_a_delivery_limit_or_replication_factor_are_kept_and_the_topology_still_declared() {
    let fixture = Fixture::new().await;
    let dead = fixture.dead_queue(WorkQueue::CheckAllowed);
    let work = fixture.work_queue(WorkQueue::SendToInterface);
    let earlier = lapin::Connection::connect(&linebacker_testkit::amqp_url(), Default::default()).await.unwrap();
    let channel = earlier.create_channel().await.unwrap();
    let mut quorum = lapin::types::FieldTable::default();
    quorum.insert("x-queue-type".into(), lapin::types::AMQPValue::LongString("quorum".into()));
    channel
        .queue_declare(dead.as_str().into(), lapin::options::QueueDeclareOptions::durable(), quorum.clone())
        .await
        .unwrap();
    let mut old_work = quorum;
    old_work.insert("x-dead-letter-exchange".into(), lapin::types::AMQPValue::LongString("".into()));
    old_work.insert(
        "x-dead-letter-routing-key".into(),
        lapin::types::AMQPValue::LongString(fixture.dead_queue(WorkQueue::SendToInterface).into()),
    );
    channel.queue_declare(work.as_str().into(), lapin::options::QueueDeclareOptions::durable(), old_work).await.unwrap();
    earlier.close(200, "declared".into()).await.unwrap();

    fixture.bus.declare_topology().await.unwrap();

    let queues = rabbitmqctl("queues", &["name", "arguments"]).await;
    assert_eq!(argument(row(&queues, "name", &dead), "x-delivery-limit"), Value::Null);
    assert_eq!(argument(row(&queues, "name", &work), "x-quorum-initial-group-size"), Value::Null, "kept as it was");
    let other_dead = fixture.dead_queue(WorkQueue::ReceiveStatus);
    assert_eq!(argument(row(&queues, "name", &other_dead), "x-delivery-limit"), 2_147_483_647);
    row(&queues, "name", &fixture.work_queue(WorkQueue::ReceiveStatus));
    fixture.cleanup().await;
}
