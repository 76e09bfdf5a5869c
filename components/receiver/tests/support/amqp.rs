//! Reading what the receiver published, and cleaning up after a test.
#![allow(clippy::unwrap_used)] // in a test, a failed step is the failure
#![allow(unused_imports)] // each test file uses a different part of this module

use lapin::message::BasicGetMessage;
use lapin::types::AMQPValue;
use linebacker_domain::ports::WorkQueue;
use linebacker_rabbitmq::{RabbitBus, RabbitSettings};
pub use linebacker_testkit::request_ids;

/// A text header of a message (AMQP strings arrive as short or long strings).
pub fn header(message: &BasicGetMessage, name: &str) -> Option<String> {
    let headers = message.delivery.properties.headers().as_ref()?;
    match headers.inner().get(name)? {
        AMQPValue::LongString(value) => Some(String::from_utf8_lossy(value.as_bytes()).into_owned()),
        AMQPValue::ShortString(value) => Some(value.as_str().to_owned()),
        _ => None,
    }
}

pub fn body(message: &BasicGetMessage) -> serde_json::Value {
    serde_json::from_slice(&message.delivery.data).unwrap()
}

/// Deletes the work queues the receiver declared and the test's exchange.
pub async fn delete_broker_objects(exchange: &str, queue_prefix: &str) {
    linebacker_testkit::delete_broker_objects(exchange, queue_names(queue_prefix)).await;
}

/// Every queue the bus declares under `queue_prefix` (work, dead, delay).
pub fn queue_names(queue_prefix: &str) -> Vec<String> {
    let settings = RabbitSettings { queue_prefix: queue_prefix.to_owned(), ..RabbitSettings::default() };
    let bus = RabbitBus::new(settings);
    WorkQueue::ALL.iter().flat_map(|queue| bus.queue_names(*queue)).collect()
}
