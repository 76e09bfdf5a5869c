//! RabbitMQ adapter: the `MessageBus` port on AMQP 0.9.1 (lapin), with the
//! topology of SPEC §4, persistent messages published with confirms, manual
//! acknowledgements, delay queues for retries with backoff, and dead-letter
//! queues with the operations to list, replay and purge them.
//!
//! The bus connects lazily and reconnects on demand, so a process can start
//! while the broker is down; whatever the broker cannot do in time is
//! `DomainError::Unavailable`, never a hang or a panic.

mod consume;
mod dead_letters;
mod errors;
mod header_check;
mod headers;
mod health;
mod link;
mod publish;
mod routing;
mod settings;
mod settle;
mod topology;

use std::sync::Arc;

use async_trait::async_trait;
use linebacker_domain::ports::{MessageBus, Subscription, WorkQueue};
use linebacker_domain::{DomainError, DomainEvent};

use crate::errors::within;
use crate::link::Shared;
use crate::publish::event_message;

pub use crate::dead_letters::RabbitDeadLetters;
pub use crate::health::QueueStats;
pub use crate::routing::routing_key;
pub use crate::settings::{DEFAULT_RETRY_LEVELS, RabbitSettings, RabbitTls};

/// The bus. Clones share one connection.
#[derive(Clone)]
pub struct RabbitBus {
    shared: Arc<Shared>,
}

impl RabbitBus {
    /// Does not connect: the first call that needs the broker does.
    pub fn new(settings: RabbitSettings) -> Self {
        Self { shared: Arc::new(Shared::new(settings)) }
    }

    /// Declares the exchange, the work queues and their dead-letter queues,
    /// connecting if needed. Idempotent.
    #[tracing::instrument(skip(self))]
    pub async fn declare_topology(&self) -> Result<(), DomainError> {
        let link = self.shared.link().await?;
        let topology = self.shared.topology()?;
        within(self.shared.settings.connect_timeout, "declaring the topology", async {
            // A channel of its own: a refused declaration closes its channel,
            // and that must not be the publishers'. Dropping it closes it.
            let channel = link.connection.create_channel().await?;
            topology.declare(&link.connection, &channel).await
        })
        .await
    }

    /// The dead-letter queue of `queue`, for operators.
    pub fn dead_letters(&self, queue: WorkQueue) -> RabbitDeadLetters {
        RabbitDeadLetters { shared: self.shared.clone(), queue }
    }

    /// Every broker name of `queue`: the work queue, its dead-letter queue
    /// and its delay queues (for tests' clean-up and for operators), or
    /// none when the settings are invalid.
    pub fn queue_names(&self, queue: WorkQueue) -> Vec<String> {
        let Ok(topology) = self.shared.topology() else { return Vec::new() };
        topology.queue(queue).all().map(ToString::to_string).collect()
    }

    /// Whether the connection is up, for readiness probes.
    pub fn is_connected(&self) -> bool {
        self.shared.is_connected()
    }

    /// Closes the connection, for shutdown; every later call is refused.
    pub async fn close(&self) {
        self.shared.close().await;
    }
}

#[async_trait]
impl MessageBus for RabbitBus {
    #[tracing::instrument(skip_all, fields(count = events.len()))]
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), DomainError> {
        if events.is_empty() {
            return Ok(());
        }
        let exchange = &self.shared.topology()?.exchange;
        let bodies: Vec<Vec<u8>> = events.iter().map(DomainEvent::to_json).collect();
        let messages = events.iter().zip(&bodies).map(|(event, body)| event_message(exchange, event, body)).collect();
        self.shared.publish_confirmed(messages).await?;
        for event in events {
            tracing::debug!(backup_request_id = %event.backup_request_id, event = %event.event_type, "published");
        }
        Ok(())
    }

    #[tracing::instrument(skip(self), fields(queue = queue.name()))]
    async fn subscribe(&self, queue: WorkQueue, prefetch: u16) -> Result<Subscription, DomainError> {
        self.shared.subscribe(queue, prefetch).await
    }
}
