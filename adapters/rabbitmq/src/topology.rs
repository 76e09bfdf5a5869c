//! The exchange and queues of SPEC §4 under the configured names, and
//! declaring them. Declaring is idempotent: the same arguments every time.
//!
//! Besides its dead-letter queue, each work queue has a few delay queues
//! (`<queue>.retry.1s`, `.5s`, …), one per configured retry level. RabbitMQ
//! 3.10 has no delayed delivery, so a retried message is parked in one of
//! them; the queue's TTL (the same for every message in it, so none blocks
//! the head for longer than the rest) dead-letters it back to its work
//! queue when its time is up.
//!
//! A dead-letter queue is never trimmed by a delivery limit: listing its
//! messages hands each one out and back, and every return counts as a
//! delivery. RabbitMQ 4.0 gives quorum queues a default limit of 20 (`-1`
//! lifts it); 3.10 has none, but takes `-1` and then drops every message
//! returned even once (checked on 3.10.8). lapin does not show the broker's
//! version, so the `.dead` queues are declared with a limit no listing
//! reaches on either, `DEAD_DELIVERY_LIMIT`. An operator policy with a lower
//! `delivery-limit` still applies on 3.x, where the lower of the two wins:
//! leave the `.dead` queues out of such a policy. A `.dead` queue declared
//! by an earlier linebacker without the argument stays as it is (the broker
//! refuses to change a queue's arguments), with a warning.

use std::time::Duration;

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, Connection, ExchangeKind};
use linebacker_domain::ports::WorkQueue;

use crate::headers::text;
use crate::routing::routing_key;
use crate::settings::RabbitSettings;

/// The broker names of one work queue.
pub(crate) struct QueueNames {
    pub work: ShortString,
    pub dead: ShortString,
    /// Ascending by delay, never empty.
    pub delays: Vec<DelayQueue>,
}

/// A queue where retried messages wait `delay` before going back to work.
pub(crate) struct DelayQueue {
    pub delay: Duration,
    pub name: ShortString,
}

impl QueueNames {
    /// The delay queue for a backoff of `delay`: the shortest one that waits
    /// at least that long (a message never comes back sooner than its
    /// backoff says), or the longest one when none is long enough. `None`
    /// only for no levels at all, which `Topology::new` refuses.
    pub(crate) fn delay_queue(&self, delay: Duration) -> Option<&DelayQueue> {
        self.delays.iter().find(|queue| queue.delay >= delay).or(self.delays.last())
    }

    /// Every queue of this work queue, for tests' clean-up and operators.
    pub(crate) fn all(&self) -> impl Iterator<Item = &ShortString> {
        [&self.work, &self.dead].into_iter().chain(self.delays.iter().map(|queue| &queue.name))
    }
}

/// Every name the bus uses, checked once: AMQP names are at most 255 bytes,
/// and an over-long name from the configuration must be an error, not a
/// panic deep inside lapin.
pub(crate) struct Topology {
    pub exchange: ShortString,
    /// The fanout exchange of the processes' heartbeats:
    /// `<exchange>.heartbeats`.
    pub heartbeats: ShortString,
    check_allowed: QueueNames,
    send_to_interface: QueueNames,
    receive_status: QueueNames,
    /// Each quorum queue's initial replication factor.
    replicas: u16,
}

impl Topology {
    pub(crate) fn new(settings: &RabbitSettings) -> Result<Self, String> {
        let mut levels = settings.retry_levels.clone();
        levels.sort();
        levels.dedup();
        if levels.is_empty() || levels[0].is_zero() {
            return Err("retry levels must be at least one delay, each longer than 0".to_owned());
        }
        let names = |queue: WorkQueue| -> Result<QueueNames, String> {
            let work = format!("{}{}", settings.queue_prefix, queue.name());
            let delays = levels
                .iter()
                .map(|delay| Ok(DelayQueue { delay: *delay, name: short(format!("{work}.retry.{}", level_name(*delay)))? }))
                .collect::<Result<_, String>>()?;
            Ok(QueueNames { dead: short(format!("{work}.dead"))?, work: short(work)?, delays })
        };
        Ok(Self {
            exchange: short(settings.exchange.clone())?,
            heartbeats: short(format!("{}.heartbeats", settings.exchange))?,
            check_allowed: names(WorkQueue::CheckAllowed)?,
            send_to_interface: names(WorkQueue::SendToInterface)?,
            receive_status: names(WorkQueue::ReceiveStatus)?,
            replicas: settings.quorum_replicas,
        })
    }

    pub(crate) fn queue(&self, queue: WorkQueue) -> &QueueNames {
        match queue {
            WorkQueue::CheckAllowed => &self.check_allowed,
            WorkQueue::SendToInterface => &self.send_to_interface,
            WorkQueue::ReceiveStatus => &self.receive_status,
        }
    }

    /// Declares the durable topic exchange and, for each work queue, a
    /// quorum queue bound to its source event plus its dead-letter queue;
    /// and the heartbeats' fanout exchange. `channel` is `connection`'s.
    pub(crate) async fn declare(&self, connection: &Connection, channel: &Channel) -> lapin::Result<()> {
        let durable = ExchangeDeclareOptions { durable: true, ..Default::default() };
        channel.exchange_declare(self.exchange.clone(), ExchangeKind::Topic, durable, FieldTable::default()).await?;
        channel.exchange_declare(self.heartbeats.clone(), ExchangeKind::Fanout, durable, FieldTable::default()).await?;
        for queue in WorkQueue::ALL {
            let names = self.queue(*queue);
            let mut dead = quorum(self.replicas);
            dead.insert("x-delivery-limit".into(), AMQPValue::LongLongInt(DEAD_DELIVERY_LIMIT));
            declare_quorum(connection, &names.dead, dead).await?;
            // What the broker itself dead-letters (e.g. a delivery limit an
            // operator sets by policy) lands on the same queue as ours.
            let mut arguments = quorum(self.replicas);
            arguments.insert("x-dead-letter-exchange".into(), text(""));
            arguments.insert("x-dead-letter-routing-key".into(), text(names.dead.as_str()));
            declare_quorum(connection, &names.work, arguments).await?;
            for delay in &names.delays {
                channel
                    .queue_declare(delay.name.clone(), QueueDeclareOptions::durable(), delay_arguments(delay, &names.work))
                    .await?;
            }
            channel
                .queue_bind(
                    names.work.clone(),
                    self.exchange.clone(),
                    routing_key(queue.source()).into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        Ok(())
    }
}

/// Quorum queues are replicated and survive a broker restart: SPEC §4.
/// `replicas` is their initial replication factor; the broker caps it at
/// the cluster's size.
fn quorum(replicas: u16) -> FieldTable {
    let mut arguments = FieldTable::default();
    arguments.insert("x-queue-type".into(), text("quorum"));
    arguments.insert("x-quorum-initial-group-size".into(), AMQPValue::LongLongInt(i64::from(replicas.max(1))));
    arguments
}

/// Far more deliveries than listings will ever make (one every 2 s for a
/// century), and a valid limit on every RabbitMQ version.
const DEAD_DELIVERY_LIMIT: i64 = 2_147_483_647;

/// Declares a quorum queue on a channel of its own: the broker closes a
/// channel whose declaration it refuses. A queue declared earlier with
/// other values for arguments the broker fixes at creation (its initial
/// replication factor, a dead-letter queue's delivery limit) is refused as
/// inequivalent; it is used as it is, with a warning that says what
/// differs and how to get it declared anew.
async fn declare_quorum(connection: &Connection, name: &ShortString, arguments: FieldTable) -> lapin::Result<()> {
    let channel = connection.create_channel().await?;
    match channel.queue_declare(name.clone(), QueueDeclareOptions::durable(), arguments).await {
        Ok(_) => channel.close(200, "declared".into()).await,
        Err(error) => match inequivalent_creation_argument(&error) {
            Some("x-delivery-limit") => {
                tracing::warn!(
                    queue = %name,
                    "this dead-letter queue was declared without x-delivery-limit: on RabbitMQ 4.0 and later it drops \
                     a message handed out 20 times (by listings too); move its messages away and delete it so that it \
                     is declared again"
                );
                Ok(())
            }
            Some(_) => {
                tracing::warn!(
                    queue = %name,
                    "this queue was declared with another x-quorum-initial-group-size than rabbitmq.quorum_replicas; \
                     it keeps its replicas (rabbitmq-queues grow/shrink changes them)"
                );
                Ok(())
            }
            None => Err(error),
        },
    }
}

/// The argument a refused declaration names when it is one that the broker
/// fixes at creation, so that a queue declared without it (or with another
/// value) can be used as it is.
fn inequivalent_creation_argument(error: &lapin::Error) -> Option<&'static str> {
    let lapin::ErrorKind::ProtocolError(refusal) = error.kind() else { return None };
    let message = refusal.get_message().as_str();
    ["x-delivery-limit", "x-quorum-initial-group-size"]
        .into_iter()
        .find(|argument| message.contains(&format!("inequivalent arg '{argument}'")))
}

/// A durable classic queue whose messages, after `delay`, go back to
/// `work`. Classic, not quorum: each quorum queue is a replicated log of its
/// own, and three work queues times several levels of them made declaring
/// the topology slow for little gain; a delay queue only holds persistent
/// copies for a while, and a broker that loses one in a crash makes a retry
/// late, the recovery pass re-emits what is stranded.
fn delay_arguments(delay: &DelayQueue, work: &ShortString) -> FieldTable {
    let mut arguments = FieldTable::default();
    let ttl = i64::try_from(delay.delay.as_millis()).unwrap_or(i64::MAX);
    arguments.insert("x-message-ttl".into(), AMQPValue::LongLongInt(ttl));
    arguments.insert("x-dead-letter-exchange".into(), text(""));
    arguments.insert("x-dead-letter-routing-key".into(), text(work.as_str()));
    arguments
}

/// `500ms`, `1s`, `2m`, `1h`: the largest whole unit.
fn level_name(delay: Duration) -> String {
    let ms = delay.as_millis();
    match ms {
        _ if ms.is_multiple_of(3_600_000) => format!("{}h", ms / 3_600_000),
        _ if ms.is_multiple_of(60_000) => format!("{}m", ms / 60_000),
        _ if ms.is_multiple_of(1000) => format!("{}s", ms / 1000),
        _ => format!("{ms}ms"),
    }
}

fn short(name: String) -> Result<ShortString, String> {
    let length = name.len();
    ShortString::try_new(name).map_err(|_| format!("broker name of {length} bytes is longer than AMQP allows (255)"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn topology(levels_ms: &[u64]) -> Result<Topology, String> {
        let retry_levels = levels_ms.iter().map(|ms| Duration::from_millis(*ms)).collect();
        Topology::new(&RabbitSettings { queue_prefix: "t.".to_owned(), retry_levels, ..RabbitSettings::default() })
    }

    #[test]
    fn delay_queues_are_named_after_their_delay_in_the_largest_whole_unit() {
        let topology = topology(&[600_000, 1000, 250, 120_000, 7_200_000, 1000]).unwrap();
        let names: Vec<_> =
            topology.queue(WorkQueue::CheckAllowed).delays.iter().map(|q| q.name.to_string()).collect();
        assert_eq!(
            names,
            ["t.check-allowed.retry.250ms", "t.check-allowed.retry.1s", "t.check-allowed.retry.2m", "t.check-allowed.retry.10m", "t.check-allowed.retry.2h"]
        );
    }

    #[test]
    fn a_backoff_waits_in_the_shortest_delay_queue_at_least_as_long_or_the_longest() {
        let topology = topology(&[1000, 5000, 30_000]).unwrap();
        let names = topology.queue(WorkQueue::ReceiveStatus);
        let chosen = |ms: u64| names.delay_queue(Duration::from_millis(ms)).unwrap().delay.as_millis();
        assert_eq!(chosen(0), 1000);
        assert_eq!(chosen(1000), 1000);
        assert_eq!(chosen(1001), 5000);
        assert_eq!(chosen(29_000), 30_000);
        assert_eq!(chosen(600_000), 30_000);
    }

    #[test]
    fn no_retry_levels_or_a_zero_level_is_refused() {
        assert!(topology(&[]).is_err());
        assert!(topology(&[0, 1000]).is_err());
    }
}
