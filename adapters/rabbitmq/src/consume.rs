//! Consuming a work queue: each lapin delivery becomes a domain `Delivery`,
//! its body parsed into an event at the edge so that no raw payload reaches
//! a use case.

use std::sync::Arc;

use futures::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicQosOptions};
use lapin::types::{FieldTable, ShortString};
use lapin::{BasicProperties, Consumer};
use linebacker_domain::ports::{Delivery, MalformedMessage, Subscription, WorkQueue};
use linebacker_domain::{DomainError, DomainEvent, TraceParent};

use crate::errors::{unavailable, within};
use crate::header_check::check_headers;
use crate::headers::{attempt, header_text};
use crate::link::Shared;
use crate::publish::{REQUEST_ID_HEADER, TRACEPARENT_HEADER};
use crate::settle::{RabbitSettle, TxChannel};

/// What the subscription stream carries from one delivery to the next.
struct Consuming {
    consumer: Consumer,
    channel: Arc<TxChannel>,
    shared: Arc<Shared>,
    queue: WorkQueue,
    /// The work queue's broker name.
    work: ShortString,
}

impl Shared {
    /// A consumer with manual acknowledgements on a channel of its own,
    /// with at most `prefetch` unsettled deliveries.
    pub(crate) async fn subscribe(
        self: &Arc<Self>,
        queue: WorkQueue,
        prefetch: u16,
    ) -> Result<Subscription, DomainError> {
        let link = self.link().await?;
        let name = self.topology()?.queue(queue).work.clone();
        let tag = consumer_tag(&self.settings.connection_name, queue)?;
        let what = format!("subscribing to {name}");
        let (channel, consumer) = within(self.settings.connect_timeout, what, async {
            let channel = link.connection.create_channel().await?;
            channel.basic_qos(prefetch, BasicQosOptions::default()).await?;
            // A settlement's copy and its ack are committed together.
            channel.tx_select().await?;
            let consumer =
                channel.basic_consume(name.clone(), tag, BasicConsumeOptions::default(), FieldTable::default()).await?;
            Ok::<_, lapin::Error>((channel, consumer))
        })
        .await?;
        tracing::info!(queue = %name, prefetch, "consuming");
        let channel = Arc::new(TxChannel::new(channel));
        let consuming = Consuming { consumer, channel, shared: self.clone(), queue, work: name };
        Ok(futures::stream::unfold(Some(consuming), next_delivery).boxed())
    }
}

/// The next delivery; once the consumer fails or is cancelled, one
/// `Unavailable` and the end, so that the caller subscribes again.
async fn next_delivery(consuming: Option<Consuming>) -> Option<(Result<Delivery, DomainError>, Option<Consuming>)> {
    let mut consuming = consuming?;
    match consuming.consumer.next().await {
        Some(Ok(delivery)) => {
            let delivery = consuming.delivery(delivery);
            Some((Ok(delivery), Some(consuming)))
        }
        Some(Err(error)) => {
            let queue = consuming.queue.name();
            let error = anyhow::Error::new(error).context(format!("consuming {queue} failed"));
            Some((Err(DomainError::Unavailable(error)), None))
        }
        None => {
            let error = unavailable(format!("the consumer of {} was cancelled", consuming.queue.name()));
            Some((Err(error), None))
        }
    }
}

impl Consuming {
    fn delivery(&self, delivery: lapin::message::Delivery) -> Delivery {
        let lapin::message::Delivery { acker, data, properties, .. } = delivery;
        let headers_fit = check_headers(&properties, self.work.as_str());
        let keep_headers = headers_fit.is_ok();
        let event = headers_fit.and_then(|()| decode(self.queue, &data, &properties));
        let attempt = attempt(&properties);
        // Refused headers go no further: not into the logs, not onto the
        // dead-letter copy, which keeps the body and linebacker's own marks.
        let properties = if keep_headers { properties } else { properties.with_headers(FieldTable::default()) };
        let backup_request_id = match &event {
            Ok(event) => Some(event.backup_request_id.to_string()),
            Err(_) if keep_headers => header_text(&properties, REQUEST_ID_HEADER),
            Err(_) => None,
        };
        let settle = RabbitSettle {
            acker,
            channel: self.channel.clone(),
            shared: self.shared.clone(),
            queue: self.queue,
            attempt,
            body: data,
            properties,
            backup_request_id,
        };
        Delivery { event, attempt, settle: Box::new(settle) }
    }
}

/// The envelope of SPEC §4, its data read as the payload its type carries,
/// with its trace context from the headers. A queue only ever receives its
/// source event: any other type is a contract violation, as malformed as a
/// body that does not parse.
fn decode(queue: WorkQueue, body: &[u8], properties: &BasicProperties) -> Result<DomainEvent, MalformedMessage> {
    let mut event = DomainEvent::from_json(body)?;
    if event.event_type != queue.source() {
        return Err(MalformedMessage(format!(
            "{} takes {} events, not {}",
            queue.name(),
            queue.source(),
            event.event_type
        )));
    }
    event.traceparent = header_text(properties, TRACEPARENT_HEADER).as_deref().and_then(TraceParent::parse);
    Ok(event)
}

/// Names the consumer after the process, for the management UI.
fn consumer_tag(connection_name: &str, queue: WorkQueue) -> Result<ShortString, DomainError> {
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let tag = format!("{connection_name}/{}/{suffix}", queue.name());
    ShortString::try_new(tag)
        .map_err(|_| DomainError::Unexpected(anyhow::anyhow!("the RabbitMQ connection name is too long")))
}

#[cfg(test)]
mod tests;
