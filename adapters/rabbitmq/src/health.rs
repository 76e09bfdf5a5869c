//! What the broker tells about the system's health (SPEC §7,
//! `healthz/all`): the heartbeats every process sends to the fanout exchange
//! `<exchange>.heartbeats`, and each work queue's depth, consumers,
//! dead letters and waiting retries.
//!
//! Heartbeats are transient and short-lived: a beat nobody reads in time is
//! worth nothing, so the broker drops it rather than keep it. Each listener
//! (every receiver) has an exclusive queue of its own, so every receiver
//! hears every process.

use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel};
use linebacker_domain::DomainError;
use linebacker_domain::ports::WorkQueue;

use crate::RabbitBus;
use crate::errors::within;
use crate::publish::Outgoing;

/// AMQP delivery mode 1: kept in memory only.
const TRANSIENT: u8 = 1;

/// A listener's backlog limit: beats beyond it push out the oldest.
const MAX_WAITING_BEATS: i64 = 10_000;

/// How long closing a channel may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// One work queue as the broker counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStats {
    pub queue: WorkQueue,
    /// Its name on the broker (with the configured prefix).
    pub name: String,
    /// Messages ready for a consumer (not counting those being handled).
    pub ready: u32,
    pub consumers: u32,
    /// Messages parked on `<name>.dead`.
    pub dead_letters: u32,
    /// Messages waiting in its delay queues for their next attempt.
    pub retrying: u32,
}

impl RabbitBus {
    /// Publishes one heartbeat (a JSON body) to every listener, waiting for
    /// the broker's confirm; `max_age` later, an unread beat is dropped.
    pub async fn publish_heartbeat(&self, body: &[u8], max_age: Duration) -> Result<(), DomainError> {
        let exchange = self.shared.topology()?.heartbeats.clone();
        let properties = BasicProperties::default()
            .with_delivery_mode(TRANSIENT)
            .with_content_type("application/json".into())
            .with_expiration(max_age.as_millis().to_string().into());
        let beat = Outgoing { exchange, routing_key: ShortString::from(""), mandatory: false, body, properties };
        self.shared.publish_confirmed(vec![beat]).await
    }

    /// The heartbeats of every process, from now on, through a queue of this
    /// listener's own that goes away with it. The stream ends when the
    /// connection does; listen again then.
    pub async fn listen_heartbeats(&self, max_age: Duration) -> Result<BoxStream<'static, Vec<u8>>, DomainError> {
        let link = self.shared.link().await?;
        let exchange = self.shared.topology()?.heartbeats.clone();
        let mut arguments = FieldTable::default();
        let ttl = i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
        arguments.insert("x-message-ttl".into(), AMQPValue::LongLongInt(ttl));
        arguments.insert("x-max-length".into(), AMQPValue::LongLongInt(MAX_WAITING_BEATS));
        let (channel, consumer) = within(self.shared.settings.connect_timeout, "listening to heartbeats", async {
            let channel = link.connection.create_channel().await?;
            let options = QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() };
            let queue = channel.queue_declare(ShortString::from(""), options, arguments).await?;
            let name = queue.name().clone();
            channel.queue_bind(name.clone(), exchange, "".into(), QueueBindOptions::default(), FieldTable::default()).await?;
            let options = BasicConsumeOptions { no_ack: true, exclusive: true, ..Default::default() };
            let consumer = channel.basic_consume(name, "".into(), options, FieldTable::default()).await?;
            Ok::<_, lapin::Error>((channel, consumer))
        })
        .await?;
        // The channel lives as long as the stream.
        let beats = consumer.map(move |delivery| {
            let _listening: &Channel = &channel;
            delivery.map(|delivery| delivery.data)
        });
        Ok(beats.take_while(|beat| std::future::ready(beat.is_ok())).filter_map(|beat| async { beat.ok() }).boxed())
    }

    /// Every work queue's counts, as the broker has them now.
    pub async fn queue_stats(&self) -> Result<Vec<QueueStats>, DomainError> {
        let link = self.shared.link().await?;
        let topology = self.shared.topology()?;
        let limit = self.shared.settings.confirm_timeout;
        let channel = within(self.shared.settings.connect_timeout, "opening a channel", link.connection.create_channel())
            .await?;
        let mut stats = Vec::with_capacity(WorkQueue::ALL.len());
        let counted = async {
            for queue in WorkQueue::ALL {
                let names = topology.queue(*queue);
                let (ready, consumers) = count(&channel, &names.work, limit).await?;
                let (dead_letters, _) = count(&channel, &names.dead, limit).await?;
                let mut retrying = 0;
                for delay in &names.delays {
                    retrying += count(&channel, &delay.name, limit).await?.0;
                }
                stats.push(QueueStats {
                    queue: *queue,
                    name: names.work.to_string(),
                    ready,
                    consumers,
                    dead_letters,
                    retrying,
                });
            }
            Ok::<_, DomainError>(())
        }
        .await;
        if let Ok(Err(error)) = tokio::time::timeout(CLOSE_TIMEOUT, channel.close(200, "counted".into())).await {
            tracing::debug!(%error, "closing the counting channel");
        }
        counted.map(|()| stats)
    }
}

/// A queue's ready messages and consumers, by a passive declaration.
async fn count(channel: &Channel, queue: &ShortString, limit: Duration) -> Result<(u32, u32), DomainError> {
    let options = QueueDeclareOptions { passive: true, ..Default::default() };
    let what = format!("counting the messages of {queue}");
    let declared = within(limit, what, channel.queue_declare(queue.clone(), options, FieldTable::default())).await?;
    Ok((declared.message_count(), declared.consumer_count()))
}
