//! A test's own view of the broker, beside the code under test: raw
//! publishes (to feed a consumer what the code would never send), looks into
//! queues, and clean-up of the names a test declared.

use std::time::Duration;

use anyhow::Context;
use lapin::message::BasicGetMessage;
use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

use crate::amqp_url;

pub struct BrokerProbe {
    connection: Connection,
    channel: Channel,
}

impl BrokerProbe {
    pub async fn connect() -> anyhow::Result<Self> {
        let connection = tokio::time::timeout(
            Duration::from_secs(10),
            Connection::connect(&amqp_url(), ConnectionProperties::default()),
        )
        .await
        .context("connecting to RabbitMQ timed out")??;
        let channel = connection.create_channel().await?;
        channel.confirm_select(ConfirmSelectOptions::default()).await?;
        Ok(Self { connection, channel })
    }

    /// Publishes `body` as is and waits for the broker's confirm.
    pub async fn publish_raw(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: BasicProperties,
    ) -> anyhow::Result<()> {
        let confirm = self
            .channel
            .basic_publish(exchange.into(), routing_key.into(), BasicPublishOptions::default(), body, properties)
            .await?;
        let confirmation =
            tokio::time::timeout(Duration::from_secs(10), confirm).await.context("publish confirm timed out")??;
        anyhow::ensure!(confirmation.is_ack(), "the broker did not ack the raw publish");
        Ok(())
    }

    /// Takes the next message of `queue` (acknowledged), waiting up to
    /// `timeout` for one to arrive.
    pub async fn get(&self, queue: &str, timeout: Duration) -> anyhow::Result<BasicGetMessage> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let message = self.channel.basic_get(queue.into(), BasicGetOptions { no_ack: true }).await?;
            if let Some(message) = message {
                return Ok(message);
            }
            anyhow::ensure!(tokio::time::Instant::now() < deadline, "no message on {queue} within {timeout:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// How many messages are ready in `queue`; fails when it does not exist.
    pub async fn message_count(&self, queue: &str) -> anyhow::Result<u32> {
        Ok(self.counts(queue).await?.0)
    }

    /// How many messages are ready in `queue`, and how many consumers it
    /// has; fails when it does not exist.
    pub async fn counts(&self, queue: &str) -> anyhow::Result<(u32, u32)> {
        // A passive declare of a missing queue closes its channel: a fresh one.
        let channel = self.connection.create_channel().await?;
        let options = QueueDeclareOptions { passive: true, ..Default::default() };
        let declared = channel
            .queue_declare(queue.into(), options, FieldTable::default())
            .await
            .with_context(|| format!("queue {queue} does not exist"))?;
        channel.close(200, "done".into()).await.ok();
        Ok((declared.message_count(), declared.consumer_count()))
    }

    /// Deletes queues a test declared; missing ones are fine.
    pub async fn delete_queues(&self, names: &[String]) -> anyhow::Result<()> {
        for name in names {
            self.channel.queue_delete(name.as_str().into(), QueueDeleteOptions::default()).await?;
        }
        Ok(())
    }

    pub async fn close(self) {
        self.connection.close(200, "bye".into()).await.ok();
    }
}
