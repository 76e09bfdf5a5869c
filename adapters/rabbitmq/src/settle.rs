//! Settling a RabbitMQ delivery: ack, a delayed requeue, or a confirmed copy
//! on the dead-letter queue followed by an ack.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use lapin::Acker;
use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel};
use linebacker_domain::DomainError;
use linebacker_domain::ports::{Settle, WorkQueue};

use crate::consume::DELIVERY_COUNT_HEADER;
use crate::errors::{unavailable, within};
use crate::link::Shared;
use crate::publish::Outgoing;
use crate::topology::text;

pub(crate) struct RabbitSettle {
    pub acker: Acker,
    /// Keeps the consumer's channel open until this delivery is settled,
    /// even when the subscription is dropped first.
    pub _channel: Channel,
    pub shared: Arc<Shared>,
    pub queue: WorkQueue,
    pub attempt: u32,
    pub body: Vec<u8>,
    pub properties: BasicProperties,
    /// For the logs; `None` when the message did not say.
    pub backup_request_id: Option<String>,
}

impl RabbitSettle {
    async fn ack_now(&self) -> Result<(), DomainError> {
        let acked =
            within(self.shared.settings.confirm_timeout, "acknowledging", self.acker.ack(BasicAckOptions::default()))
                .await?;
        settled(acked)
    }

    /// Hands the message back to the broker after `retry_pause`, without
    /// holding up the caller: a message that fails at once every time must
    /// not spin, nor stall the other deliveries.
    fn requeue_later(&self) -> Result<(), DomainError> {
        settled(self.acker.usable())?;
        let acker = self.acker.clone();
        let pause = self.shared.settings.retry_pause;
        let queue = self.queue.name();
        tokio::spawn(async move {
            tokio::time::sleep(pause).await;
            match acker.nack(BasicNackOptions { requeue: true, ..Default::default() }).await {
                Ok(true) => {}
                // The channel closed meanwhile: the broker redelivers anyway.
                Ok(false) => tracing::debug!(queue, "retried message's channel closed before requeue"),
                Err(error) => tracing::warn!(queue, %error, "requeueing a retried message failed"),
            }
        });
        Ok(())
    }

    /// The original headers plus why, from where and when; without the
    /// delivery count, which would otherwise skew the attempt count of a
    /// message an operator replays.
    fn dead_letter_headers(&self, reason: &str, queue_name: &str) -> FieldTable {
        let mut headers: BTreeMap<_, _> =
            self.properties.headers().as_ref().map(|h| h.inner().clone()).unwrap_or_default();
        headers.remove(DELIVERY_COUNT_HEADER);
        headers.insert("x-linebacker-reason".into(), text(reason));
        headers.insert("x-linebacker-queue".into(), text(queue_name));
        headers.insert("x-linebacker-attempt".into(), AMQPValue::LongUInt(self.attempt));
        headers.insert("x-linebacker-dead-lettered-at".into(), text(&chrono::Utc::now().to_rfc3339()));
        headers.into()
    }
}

/// lapin answers `false` when the delivery can no longer be settled: its
/// channel closed, and the broker will deliver the message again.
fn settled(done: bool) -> Result<(), DomainError> {
    if done { Ok(()) } else { Err(unavailable("the delivery's channel is closed; the broker will deliver it again")) }
}

#[async_trait]
impl Settle for RabbitSettle {
    #[tracing::instrument(skip_all, fields(queue = self.queue.name(), backup_request_id = self.backup_request_id))]
    async fn ack(self: Box<Self>) -> Result<(), DomainError> {
        self.ack_now().await
    }

    #[tracing::instrument(skip_all, fields(queue = self.queue.name(), backup_request_id = self.backup_request_id))]
    async fn retry(self: Box<Self>, reason: &str) -> Result<(), DomainError> {
        tracing::info!(reason, attempt = self.attempt, pause = ?self.shared.settings.retry_pause, "message will be retried");
        self.requeue_later()
    }

    #[tracing::instrument(skip_all, fields(queue = self.queue.name(), backup_request_id = self.backup_request_id))]
    async fn dead_letter(self: Box<Self>, reason: &str) -> Result<(), DomainError> {
        let names = self.shared.topology()?.queue(self.queue);
        let copy = Outgoing {
            // The default exchange routes by queue name.
            exchange: "".into(),
            routing_key: names.dead.clone(),
            // A missing dead-letter queue must fail the copy, not drop it.
            mandatory: true,
            body: &self.body,
            properties: self.properties.clone().with_headers(self.dead_letter_headers(reason, names.work.as_str())),
        };
        match self.shared.publish_confirmed(vec![copy]).await {
            Ok(()) => {
                tracing::warn!(reason, attempt = self.attempt, "message dead-lettered");
                self.ack_now().await
            }
            Err(error) => {
                tracing::warn!(reason, %error, "dead-lettering failed; the message will come back");
                // Keep it: back on its queue after a pause, never lost.
                self.requeue_later()?;
                Err(error)
            }
        }
    }
}
