//! Settling a RabbitMQ delivery: ack; retry as a confirmed copy on one of
//! the queue's delay queues (attempt raised, last error noted) followed by an
//! ack; or a confirmed copy on the dead-letter queue followed by an ack. When
//! the broker does not confirm a copy, the original goes back to its queue
//! after a pause instead: never lost.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lapin::Acker;
use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel};
use linebacker_domain::DomainError;
use linebacker_domain::backoff::retry_delay;
use linebacker_domain::ports::{Settle, WorkQueue};

use crate::errors::{unavailable, within};
use crate::headers::{
    ATTEMPT_HEADER, DEAD_LETTERED_AT_HEADER, LAST_ERROR_HEADER, QUEUE_HEADER, REASON_HEADER, copied_headers, text,
};
use crate::link::Shared;
use crate::publish::Outgoing;

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

    /// The original headers plus why, from where, when and after how many
    /// attempts. A last error from an earlier retry stays.
    fn dead_letter_headers(&self, reason: &str, queue_name: &str) -> FieldTable {
        let set = vec![
            (REASON_HEADER, text(reason)),
            (QUEUE_HEADER, text(queue_name)),
            (ATTEMPT_HEADER, AMQPValue::LongUInt(self.attempt)),
            (DEAD_LETTERED_AT_HEADER, text(&chrono::Utc::now().to_rfc3339())),
        ];
        copied_headers(&self.properties, &[], set)
    }

    /// Publishes a copy of the message to `queue` (default exchange) with
    /// `headers` and waits for the broker's confirm; then acks the original.
    /// Unconfirmed, the original goes back to its queue after a pause.
    async fn move_to(&self, queue: &ShortString, headers: FieldTable, expiration: Option<Duration>) -> Result<(), DomainError> {
        let mut properties = self.properties.clone().with_headers(headers);
        if let Some(expiration) = expiration {
            properties = properties.with_expiration(expiration.as_millis().to_string().into());
        }
        let copy = Outgoing {
            // The default exchange routes by queue name.
            exchange: "".into(),
            routing_key: queue.clone(),
            // A missing queue must fail the copy, not drop it.
            mandatory: true,
            body: &self.body,
            properties,
        };
        match self.shared.publish_confirmed(vec![copy]).await {
            Ok(()) => self.ack_now().await,
            Err(error) => {
                tracing::warn!(%error, queue = %queue, "the broker did not take the copy; the message will come back");
                // Keep it: back on its queue after a pause, never lost.
                self.requeue_later()?;
                Err(error)
            }
        }
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

    /// Parks a copy on the delay queue for this attempt's backoff; it
    /// returns to the work queue as the next attempt, carrying `reason`.
    /// Nothing is held meanwhile: the original is acked at once.
    #[tracing::instrument(skip_all, fields(queue = self.queue.name(), backup_request_id = self.backup_request_id))]
    async fn retry(self: Box<Self>, reason: &str) -> Result<(), DomainError> {
        let delay = retry_delay(self.attempt, &self.shared.settings.retry, rand::random::<f64>());
        let names = self.shared.topology()?.queue(self.queue);
        let Some(delay_queue) = names.delay_queue(delay) else {
            return Err(DomainError::Unexpected(anyhow::anyhow!("no retry levels are configured")));
        };
        let next = self.attempt.saturating_add(1);
        let headers = copied_headers(
            &self.properties,
            &[],
            vec![(ATTEMPT_HEADER, AMQPValue::LongUInt(next)), (LAST_ERROR_HEADER, text(reason))],
        );
        // The message's own TTL keeps the jitter when it reaches the head of
        // the delay queue in time; the queue's TTL bounds the wait otherwise.
        self.move_to(&delay_queue.name, headers, Some(delay.min(delay_queue.delay))).await?;
        tracing::info!(reason, attempt = self.attempt, ?delay, delay_queue = %delay_queue.name, "message will be retried");
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(queue = self.queue.name(), backup_request_id = self.backup_request_id))]
    async fn dead_letter(self: Box<Self>, reason: &str) -> Result<(), DomainError> {
        let names = self.shared.topology()?.queue(self.queue);
        let headers = self.dead_letter_headers(reason, names.work.as_str());
        self.move_to(&names.dead, headers, None).await?;
        tracing::warn!(reason, attempt = self.attempt, "message dead-lettered");
        Ok(())
    }
}
