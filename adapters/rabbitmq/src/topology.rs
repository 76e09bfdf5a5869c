//! The exchange and queues of SPEC §4 under the configured names, and
//! declaring them. Declaring is idempotent: the same arguments every time.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, ExchangeKind};
use linebacker_domain::ports::WorkQueue;

use crate::settings::RabbitSettings;

/// The broker names of one work queue.
pub(crate) struct QueueNames {
    pub work: ShortString,
    pub dead: ShortString,
}

/// Every name the bus uses, checked once: AMQP names are at most 255 bytes,
/// and an over-long name from the configuration must be an error, not a
/// panic deep inside lapin.
pub(crate) struct Topology {
    pub exchange: ShortString,
    check_allowed: QueueNames,
    send_to_interface: QueueNames,
    receive_status: QueueNames,
}

impl Topology {
    pub(crate) fn new(settings: &RabbitSettings) -> Result<Self, String> {
        let names = |queue: WorkQueue| -> Result<QueueNames, String> {
            let work = format!("{}{}", settings.queue_prefix, queue.name());
            Ok(QueueNames { dead: short(format!("{work}.dead"))?, work: short(work)? })
        };
        Ok(Self {
            exchange: short(settings.exchange.clone())?,
            check_allowed: names(WorkQueue::CheckAllowed)?,
            send_to_interface: names(WorkQueue::SendToInterface)?,
            receive_status: names(WorkQueue::ReceiveStatus)?,
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
    /// quorum queue bound to its source event plus its dead-letter queue.
    pub(crate) async fn declare(&self, channel: &Channel) -> lapin::Result<()> {
        let durable = ExchangeDeclareOptions { durable: true, ..Default::default() };
        channel.exchange_declare(self.exchange.clone(), ExchangeKind::Topic, durable, FieldTable::default()).await?;
        for queue in WorkQueue::ALL {
            let names = self.queue(*queue);
            channel.queue_declare(names.dead.clone(), QueueDeclareOptions::durable(), quorum()).await?;
            // What the broker itself dead-letters (e.g. a delivery limit an
            // operator sets by policy) lands on the same queue as ours.
            let mut arguments = quorum();
            arguments.insert("x-dead-letter-exchange".into(), text(""));
            arguments.insert("x-dead-letter-routing-key".into(), text(names.dead.as_str()));
            channel.queue_declare(names.work.clone(), QueueDeclareOptions::durable(), arguments).await?;
            channel
                .queue_bind(
                    names.work.clone(),
                    self.exchange.clone(),
                    queue.source().routing_key().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        Ok(())
    }
}

/// Quorum queues are replicated and survive a broker restart: SPEC §4.
fn quorum() -> FieldTable {
    let mut arguments = FieldTable::default();
    arguments.insert("x-queue-type".into(), text("quorum"));
    arguments
}

pub(crate) fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(value.into())
}

fn short(name: String) -> Result<ShortString, String> {
    let length = name.len();
    ShortString::try_new(name).map_err(|_| format!("broker name of {length} bytes is longer than AMQP allows (255)"))
}
