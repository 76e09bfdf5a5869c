//! Settling a RabbitMQ delivery: ack; retry as a copy on one of the queue's
//! delay queues (attempt raised, last error noted) plus an ack; or a copy on
//! the dead-letter queue plus an ack.
//!
//! A copy and the ack of its original are one AMQP transaction on the
//! consumer's channel (`tx.select` at subscription): the broker applies
//! both at `tx.commit`, or, when the connection drops before the commit,
//! neither, and delivers the original again. A copy published on another
//! channel and confirmed before the ack would be made again for every drop
//! between the two. A commit that fails or times out closes the channel, so
//! that nothing half-done stays pending: the broker delivers again whatever
//! the channel held. RabbitMQ does not make a transaction atomic across
//! queues: a broker node failing in the middle of a commit may apply part
//! of it; a dropped connection, the common case, cannot.
//!
//! The broker returns a transaction's unroutable publish only at commit, so
//! a copy to a missing queue would come back once its ack is committed, and
//! be lost. Its target queue is therefore looked up first, on the publisher
//! channel: a missing one fails that channel, whose replacement declares
//! the topology again, and the original goes back to its queue after a
//! pause.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt;
use lapin::Acker;
use lapin::options::{BasicAckOptions, BasicNackOptions, BasicPublishOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel};
use linebacker_domain::DomainError;
use linebacker_domain::backoff::retry_delay;
use linebacker_domain::ports::{Settle, WorkQueue};

use crate::errors::{unavailable, within};
use crate::header_check::bounded;
use crate::headers::{
    ATTEMPT_HEADER, DEAD_LETTERED_AT_HEADER, LAST_ERROR_HEADER, QUEUE_HEADER, REASON_HEADER, copied_headers, text,
};
use crate::link::Shared;
use crate::publish::Outgoing;

/// How long closing a channel whose commit failed may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// A consumer's channel in transaction mode. A commit applies everything
/// the channel sent since the last one, so settlements share commits: one
/// commit covers every settlement sent while the one before was on its way,
/// and the deliveries in flight are not settled one round trip at a time.
pub(crate) struct TxChannel {
    channel: Channel,
    /// How many settlements were sent. Held while one sends its copy and
    /// its ack, so that no commit separates the two, and while a commit is
    /// on its way, so that it covers exactly what was counted.
    sent: tokio::sync::Mutex<u64>,
    /// Up to which settlement the broker committed. Held by whoever commits.
    committed: tokio::sync::Mutex<u64>,
}

impl TxChannel {
    pub(crate) fn new(channel: Channel) -> Self {
        Self { channel, sent: tokio::sync::Mutex::new(0), committed: tokio::sync::Mutex::new(0) }
    }

    /// Sends `copy` (if any) and then `settle`'s method for one delivery, and
    /// returns once a commit applied them, within `limit` for each step.
    async fn commit<F>(&self, limit: Duration, copy: Option<Outgoing<'_>>, settle: F) -> Result<(), DomainError>
    where
        F: Future<Output = lapin::Result<bool>>,
    {
        let mine = {
            let mut sent = self.sent.lock().await;
            let sending = within(limit, "settling a delivery", async {
                if let Some(copy) = copy {
                    let options = BasicPublishOptions { mandatory: copy.mandatory, ..Default::default() };
                    self.channel.basic_publish(copy.exchange, copy.routing_key, options, copy.body, copy.properties).await?;
                }
                settle.await
            });
            match sending.await {
                Ok(true) => {}
                // Closed already, or the copy must not be committed alone.
                Ok(false) => {
                    let error = unavailable("the delivery's channel is closed; the broker will deliver it again");
                    return Err(self.abandon(error).await);
                }
                Err(error) => return Err(self.abandon(error).await),
            }
            *sent += 1;
            *sent
        };
        let mut committed = self.committed.lock().await;
        if *committed >= mine {
            return Ok(());
        }
        let sent = self.sent.lock().await;
        match within(limit, "committing settlements", self.channel.tx_commit()).await {
            Ok(()) => *committed = *sent,
            Err(error) => return Err(self.abandon(error).await),
        }
        drop(sent);
        self.report_returned();
        Ok(())
    }

    /// Closes the channel after a failure: what it sent since the last
    /// commit is then never applied, and the broker delivers its unsettled
    /// messages again.
    async fn abandon(&self, error: DomainError) -> DomainError {
        let closing = self.channel.close(200, "a settlement did not commit".into());
        if let Ok(Err(close_error)) = tokio::time::timeout(CLOSE_TIMEOUT, closing).await {
            tracing::debug!(%close_error, "closing a consumer channel after a failed commit");
        }
        error
    }

    /// Copies the broker returned at the last commit: their target queue
    /// vanished between the look-up and the commit.
    fn report_returned(&self) {
        // Without confirms, lapin keeps returned messages until asked.
        let returned = self.channel.wait_for_confirms().now_or_never();
        if let Some(Ok(returned)) = returned {
            for message in returned {
                tracing::error!(
                    queue = %message.delivery.routing_key,
                    "a retry or dead-letter copy was returned: its queue was deleted while it was settled"
                );
            }
        }
    }
}

pub(crate) struct RabbitSettle {
    pub acker: Acker,
    /// The consumer's channel, kept open until this delivery is settled,
    /// even when the subscription is dropped first.
    pub channel: Arc<TxChannel>,
    pub shared: Arc<Shared>,
    pub queue: WorkQueue,
    pub attempt: u32,
    pub body: Vec<u8>,
    pub properties: BasicProperties,
    /// For the logs; `None` when the message did not say.
    pub backup_request_id: Option<String>,
}

impl RabbitSettle {
    fn limit(&self) -> Duration {
        self.shared.settings.confirm_timeout
    }

    /// Hands the message back to the broker after `retry_pause`, without
    /// holding up the caller: a message that fails at once every time must
    /// not spin, nor stall the other deliveries.
    fn requeue_later(&self) {
        let (acker, channel, limit) = (self.acker.clone(), self.channel.clone(), self.limit());
        let pause = self.shared.settings.retry_pause;
        let queue = self.queue.name();
        tokio::spawn(async move {
            tokio::time::sleep(pause).await;
            let requeue = acker.nack(BasicNackOptions { requeue: true, ..Default::default() });
            if let Err(error) = channel.commit(limit, None, requeue).await {
                // The channel is closed: the broker delivers it again anyway.
                tracing::debug!(queue, %error, "requeueing a message whose copy could not be made");
            }
        });
    }

    /// The original headers plus why, from where, when and after how many
    /// attempts. A last error from an earlier retry stays.
    fn dead_letter_headers(&self, reason: &str, queue_name: &str) -> FieldTable {
        let set = vec![
            (REASON_HEADER, text(bounded(reason))),
            (QUEUE_HEADER, text(queue_name)),
            (ATTEMPT_HEADER, AMQPValue::LongUInt(self.attempt)),
            (DEAD_LETTERED_AT_HEADER, text(&chrono::Utc::now().to_rfc3339())),
        ];
        copied_headers(&self.properties, &[], set)
    }

    /// Publishes a copy of the message to `queue` with `headers` and acks
    /// the original, in one commit. When the queue is missing, the original
    /// goes back to its queue after a pause instead: never lost.
    async fn move_to(&self, queue: &ShortString, headers: FieldTable, expiration: Option<Duration>) -> Result<(), DomainError> {
        if let Err(error) = self.target_exists(queue).await {
            tracing::warn!(%error, queue = %queue, "the copy has nowhere to go; the message will come back");
            self.requeue_later();
            return Err(error);
        }
        let mut properties = self.properties.clone().with_headers(headers);
        if let Some(expiration) = expiration {
            properties = properties.with_expiration(expiration.as_millis().to_string().into());
        }
        let copy = Outgoing {
            // The default exchange routes by queue name.
            exchange: "".into(),
            routing_key: queue.clone(),
            // A copy no queue takes comes back rather than vanishing (see
            // the module doc for when that is noticed).
            mandatory: true,
            body: &self.body,
            properties,
        };
        self.channel.commit(self.limit(), Some(copy), self.acker.ack(BasicAckOptions::default())).await
    }

    /// Whether `queue` exists, asked on the publisher channel: a missing one
    /// closes that channel, and its replacement declares the topology.
    async fn target_exists(&self, queue: &ShortString) -> Result<(), DomainError> {
        let link = self.shared.link().await?;
        let options = QueueDeclareOptions { passive: true, ..Default::default() };
        let what = format!("looking up {queue}");
        within(self.limit(), what, link.publisher.queue_declare(queue.clone(), options, FieldTable::default())).await?;
        Ok(())
    }
}

#[async_trait]
impl Settle for RabbitSettle {
    #[tracing::instrument(skip_all, fields(queue = self.queue.name(), backup_request_id = self.backup_request_id))]
    async fn ack(self: Box<Self>) -> Result<(), DomainError> {
        self.channel.commit(self.limit(), None, self.acker.ack(BasicAckOptions::default())).await
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
            vec![(ATTEMPT_HEADER, AMQPValue::LongUInt(next)), (LAST_ERROR_HEADER, text(bounded(reason)))],
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
