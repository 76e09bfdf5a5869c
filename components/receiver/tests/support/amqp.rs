//! Reading what the receiver published, and cleaning up after a test.
#![allow(clippy::unwrap_used)] // in a test, a failed step is the failure

use lapin::message::BasicGetMessage;
use lapin::types::AMQPValue;
use linebacker_domain::ports::WorkQueue;
use linebacker_rabbitmq::{RabbitBus, RabbitSettings};
use linebacker_testkit::{amqp_url, delete_exchange};

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

/// The `backupRequestId` of each message's envelope.
pub fn request_ids(messages: &[BasicGetMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|message| body(message)["backupRequestId"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Deletes the work queues the receiver declared and the test's exchange
/// (best effort: a leftover only costs broker memory).
pub async fn delete_broker_objects(exchange: &str, queue_prefix: &str) {
    use lapin::options::QueueDeleteOptions;

    if let Ok(connection) = lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default()).await {
        for queue in WorkQueue::ALL {
            // The bus knows every name it declares (work, dead, delay queues).
            let settings = RabbitSettings { queue_prefix: queue_prefix.to_owned(), ..RabbitSettings::default() };
            for name in RabbitBus::new(settings).queue_names(*queue) {
                // A fresh channel each time: deleting a missing queue may close it.
                if let Ok(channel) = connection.create_channel().await {
                    let _ = channel.queue_delete(name.as_str().into(), QueueDeleteOptions::default()).await;
                }
            }
        }
        let _ = connection.close(200, "bye".into()).await;
    }
    let _ = delete_exchange(&format!("{exchange}.heartbeats")).await;
    let _ = delete_exchange(exchange).await;
}
