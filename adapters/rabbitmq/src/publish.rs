//! Publishing with publisher confirms: a batch counts as published only
//! once the broker has acknowledged every message of it.

use lapin::options::BasicPublishOptions;
use lapin::types::{FieldTable, ShortString};
use lapin::{BasicProperties, Confirmation};
use linebacker_domain::{DomainError, DomainEvent};

use crate::errors::within;
use crate::link::Shared;
use crate::headers::text;
use crate::routing::routing_key;

pub(crate) const TRACEPARENT_HEADER: &str = "traceparent";
pub(crate) const REQUEST_ID_HEADER: &str = "x-backup-request-id";
/// AMQP delivery mode 2: the broker writes the message to disk.
const PERSISTENT: u8 = 2;

/// One message to publish.
pub(crate) struct Outgoing<'a> {
    pub exchange: ShortString,
    pub routing_key: ShortString,
    /// Whether the broker must return the message when no queue takes it.
    pub mandatory: bool,
    pub body: &'a [u8],
    pub properties: BasicProperties,
}

/// An event as a message on the exchange, routed by its type.
pub(crate) fn event_message<'a>(exchange: &ShortString, event: &DomainEvent, body: &'a [u8]) -> Outgoing<'a> {
    let mut headers = FieldTable::default();
    headers.insert(REQUEST_ID_HEADER.into(), text(&event.backup_request_id.to_string()));
    if let Some(trace) = &event.traceparent {
        headers.insert(TRACEPARENT_HEADER.into(), text(&trace.to_string()));
    }
    let properties = BasicProperties::default()
        .with_delivery_mode(PERSISTENT)
        .with_content_type("application/json".into())
        .with_message_id(event.message_id.to_string().into())
        .with_type(event.event_type.name().into())
        .with_timestamp(u64::try_from(event.occurred_at.timestamp()).unwrap_or_default())
        .with_headers(headers);
    Outgoing {
        exchange: exchange.clone(),
        routing_key: routing_key(event.event_type).into(),
        // Operators may leave some routing keys unbound (SPEC §4).
        mandatory: false,
        body,
        properties,
    }
}

impl Shared {
    /// Publishes `messages` on the confirm channel and waits, within
    /// `confirm_timeout`, until the broker has acknowledged every one.
    pub(crate) async fn publish_confirmed(&self, messages: Vec<Outgoing<'_>>) -> Result<(), DomainError> {
        let link = self.link().await?;
        let count = messages.len();
        let what = format!("publishing {count} message(s) with confirms");
        let result = within(self.settings.confirm_timeout, what, async {
            // All published before any confirm is awaited: one round trip.
            let mut confirms = Vec::with_capacity(count);
            for message in messages {
                let options = BasicPublishOptions { mandatory: message.mandatory, ..Default::default() };
                let confirm = link
                    .publisher
                    .basic_publish(message.exchange, message.routing_key, options, message.body, message.properties)
                    .await?;
                confirms.push(confirm);
            }
            for confirm in confirms {
                match confirm.await? {
                    Confirmation::Ack(None) => {}
                    Confirmation::Ack(Some(_)) => anyhow::bail!("the broker returned a message no queue took"),
                    Confirmation::Nack(_) => anyhow::bail!("the broker refused (nacked) a message"),
                    Confirmation::NotRequested => anyhow::bail!("the publisher channel is not in confirm mode"),
                }
            }
            Ok(())
        })
        .await;
        if result.is_err() {
            self.discard_publisher(&link.publisher);
        }
        result
    }
}
