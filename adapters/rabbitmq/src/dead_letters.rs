//! Operating a work queue's dead-letter queue (`<queue>.dead`): list,
//! replay, purge.
//!
//! AMQP has no "peek". Listing takes the messages with `basic_get` and
//! manual acknowledgement on a channel of its own, reads them, and hands
//! every one back (`nack` with requeue, then the channel closes, which
//! returns anything still unsettled): the queue is left as it was. Messages
//! taken and held cannot be taken twice, so taking until the queue answers
//! "empty" ends. Handed back in the order they were taken, they keep their
//! place: a quorum queue delivers returned messages first, in the order of
//! their return. Every return counts as a delivery, which is why the `.dead`
//! queues are declared without a delivery limit that matters (see
//! `topology`).
//!
//! While an operation holds messages, they are invisible to another one:
//! the operations of one process take turns, so that the dashboard's
//! listing never hides a message from an operator's listing or replay in
//! the same receiver. Two processes listing at the same instant can still
//! each see part of the queue for that moment. Counts come from the
//! broker's count of ready messages, which for quorum queues may lag a
//! moment behind messages just handed back.
//!
//! Replay publishes a copy to the work queue (default exchange, routing key
//! = queue name) with a publisher confirm, as a first attempt, and only then
//! acks the dead copy. Everything to replay is taken before the first copy
//! goes out, so a replayed message that fails again and is parked anew is
//! not replayed twice in one go: a failure in between leaves it both replayed and
//! parked (consumers are idempotent), never lost.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicGetOptions, BasicNackOptions, QueueDeclareOptions, QueuePurgeOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::Channel;
use linebacker_domain::DomainError;
use linebacker_domain::dead_letter::{Affected, DeadLetter, DeadLetters};
use linebacker_domain::ports::WorkQueue;

use crate::errors::within;
use crate::headers::{
    ATTEMPT_HEADER, DEAD_LETTERED_AT_HEADER, LAST_ERROR_HEADER, QUEUE_HEADER, REASON_HEADER, copied_headers,
    header_count, header_text,
};
use crate::link::Shared;
use crate::publish::{Outgoing, REQUEST_ID_HEADER};

/// The most messages one operation takes, so that a huge queue cannot
/// exhaust the operator's memory; replaying all of a bigger queue takes
/// several calls.
const MAX_TAKEN: usize = 100_000;

/// How long closing the operator's channel may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// The dead letters of one work queue.
#[derive(Clone)]
pub struct RabbitDeadLetters {
    pub(crate) shared: Arc<Shared>,
    pub(crate) queue: WorkQueue,
}

/// A channel of its own for one operation, closed (returning whatever it
/// still holds to the queue) when the operation ends; the process's turn on
/// the dead-letter queues until then.
struct Session<'a> {
    _turn: tokio::sync::MutexGuard<'a, ()>,
    channel: Channel,
    dead: ShortString,
    limit: Duration,
}

impl RabbitDeadLetters {
    async fn open(&self) -> Result<Session<'_>, DomainError> {
        let turn = self.shared.dead_letters.lock().await;
        let link = self.shared.link().await?;
        let dead = self.shared.topology()?.queue(self.queue).dead.clone();
        let limit = self.shared.settings.confirm_timeout;
        let channel =
            within(self.shared.settings.connect_timeout, "opening a channel", link.connection.create_channel()).await?;
        Ok(Session { _turn: turn, channel, dead, limit })
    }
}

impl Session<'_> {
    async fn ready_count(&self) -> Result<u32, DomainError> {
        let options = QueueDeclareOptions { passive: true, ..Default::default() };
        let what = format!("counting the messages of {}", self.dead);
        let declared =
            within(self.limit, what, self.channel.queue_declare(self.dead.clone(), options, FieldTable::default()))
                .await?;
        Ok(declared.message_count())
    }

    /// Takes up to `max` messages, unacknowledged.
    async fn take(&self, max: usize) -> Result<Vec<Delivery>, DomainError> {
        let mut taken = Vec::new();
        while taken.len() < max {
            let what = format!("taking a message from {}", self.dead);
            let options = BasicGetOptions { no_ack: false };
            match within(self.limit, what, self.channel.basic_get(self.dead.clone(), options)).await? {
                Some(message) => taken.push(message.delivery),
                None => break,
            }
        }
        Ok(taken)
    }

    /// Takes messages until the one with `id` (the last one then) or the end.
    async fn take_until(&self, id: &str) -> Result<Vec<Delivery>, DomainError> {
        let mut taken = Vec::new();
        while taken.len() < MAX_TAKEN {
            let mut next = self.take(1).await?;
            let Some(delivery) = next.pop() else { break };
            let found = message_id(&delivery) == id;
            taken.push(delivery);
            if found {
                break;
            }
        }
        Ok(taken)
    }

    /// Hands `deliveries` back to the queue and closes the channel.
    async fn give_back(self, deliveries: &[Delivery]) {
        for delivery in deliveries {
            let requeue = BasicNackOptions { requeue: true, ..Default::default() };
            if let Err(error) = delivery.acker.nack(requeue).await {
                // Closing the channel below returns it all the same.
                tracing::debug!(%error, "handing a dead letter back");
            }
        }
        if let Ok(Err(error)) = tokio::time::timeout(CLOSE_TIMEOUT, self.channel.close(200, "done".into())).await {
            tracing::debug!(%error, "closing the dead-letter channel");
        }
    }
}

/// What an operator sees of a parked message.
fn inspect(delivery: &Delivery) -> DeadLetter {
    let properties = &delivery.properties;
    DeadLetter {
        message_id: message_id(delivery),
        backup_request_id: header_text(properties, REQUEST_ID_HEADER),
        reason: header_text(properties, REASON_HEADER),
        last_error: header_text(properties, LAST_ERROR_HEADER),
        attempts: header_count(properties, ATTEMPT_HEADER),
        dead_lettered_at: header_text(properties, DEAD_LETTERED_AT_HEADER),
        body: String::from_utf8_lossy(&delivery.data).into_owned(),
    }
}

/// The message's own id; for one published without any (a raw message an
/// envelope could not be read from), a stable id made from its body, so that
/// it can still be replayed by id.
fn message_id(delivery: &Delivery) -> String {
    if let Some(id) = delivery.properties.message_id() {
        return id.to_string();
    }
    let mut hasher = DefaultHasher::new();
    delivery.data.hash(&mut hasher);
    format!("body-{:016x}", hasher.finish())
}

#[async_trait]
impl DeadLetters for RabbitDeadLetters {
    async fn count(&self) -> Result<u64, DomainError> {
        let session = self.open().await?;
        let count = session.ready_count().await;
        session.give_back(&[]).await;
        Ok(u64::from(count?))
    }

    #[tracing::instrument(skip(self), fields(queue = self.queue.name()))]
    async fn list(&self, limit: usize) -> Result<Vec<DeadLetter>, DomainError> {
        let session = self.open().await?;
        match session.take(limit.min(MAX_TAKEN)).await {
            Ok(deliveries) => {
                let listed = deliveries.iter().map(inspect).collect();
                session.give_back(&deliveries).await;
                Ok(listed)
            }
            // What `take` held is returned when the channel closes.
            Err(error) => {
                session.give_back(&[]).await;
                Err(error)
            }
        }
    }

    #[tracing::instrument(skip(self), fields(queue = self.queue.name()))]
    async fn replay(&self, message_id: Option<&str>) -> Result<Affected, DomainError> {
        let session = self.open().await?;
        let work = self.shared.topology()?.queue(self.queue).work.clone();
        let mut kept = Vec::new();
        let mut replayed = 0;
        let outcome = async {
            let taken = match message_id {
                Some(id) => session.take_until(id).await?,
                None => session.take(MAX_TAKEN).await?,
            };
            for delivery in taken {
                if message_id.is_some_and(|id| id != self::message_id(&delivery)) {
                    kept.push(delivery);
                    continue;
                }
                let replay = replay_copy(&delivery, &work);
                if let Err(error) = self.shared.publish_confirmed(vec![replay]).await {
                    kept.push(delivery);
                    return Err(error);
                }
                let acked = delivery.acker.ack(BasicAckOptions::default()).await;
                if !matches!(acked, Ok(true)) {
                    tracing::warn!("a replayed dead letter could not be removed; it stays parked too");
                }
                replayed += 1;
                if message_id.is_some() {
                    break;
                }
            }
            Ok(())
        }
        .await;
        session.give_back(&kept).await;
        outcome?;
        tracing::info!(replayed, "dead letters replayed");
        Ok(Affected { count: replayed })
    }

    #[tracing::instrument(skip(self), fields(queue = self.queue.name()))]
    async fn purge(&self) -> Result<Affected, DomainError> {
        let session = self.open().await?;
        let what = format!("purging {}", session.dead);
        let purged =
            within(session.limit, what, session.channel.queue_purge(session.dead.clone(), QueuePurgeOptions::default()))
                .await;
        session.give_back(&[]).await;
        let count = u64::from(purged?);
        tracing::warn!(count, "dead letters purged");
        Ok(Affected { count })
    }
}

/// The parked message as a first attempt on its work queue, without the
/// marks of its failure.
fn replay_copy<'a>(delivery: &'a Delivery, work: &ShortString) -> Outgoing<'a> {
    let headers = copied_headers(
        &delivery.properties,
        &[REASON_HEADER, QUEUE_HEADER, DEAD_LETTERED_AT_HEADER, LAST_ERROR_HEADER],
        vec![(ATTEMPT_HEADER, AMQPValue::LongUInt(1))],
    );
    Outgoing {
        exchange: "".into(),
        routing_key: work.clone(),
        mandatory: true,
        body: &delivery.data,
        properties: delivery.properties.clone().with_headers(headers),
    }
}
