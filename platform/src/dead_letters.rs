//! Which adapter operates which parking queue, for the operator's command
//! line and the receiver's operator endpoints alike: the work queues'
//! `<name>.dead` live on RabbitMQ, `store-statuses-poison` on the BZI's
//! queue service.

use std::sync::Arc;

use linebacker_azure_queue::{AzurePoisonLetters, QueueClient};
use linebacker_domain::DomainError;
use linebacker_domain::dead_letter::{DeadLetter, DeadLetterQueue, DeadLetters};
use linebacker_rabbitmq::RabbitBus;
use linebacker_runtime::Settings;
use serde::Serialize;

use crate::host::queue_service_config;

/// Every parking queue of the system.
#[derive(Clone)]
pub struct DeadLetterQueues {
    /// `None` in dev mode (`bus.kind = memory`).
    rabbit: Option<RabbitBus>,
    /// An error when `azure_queue.*` is invalid, reported on use.
    poison: Result<AzurePoisonLetters, String>,
}

/// A parked message as operators read it, from the receiver's operator
/// endpoints and from the command line alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterView {
    pub message_id: String,
    pub backup_request_id: Option<String>,
    pub reason: Option<String>,
    pub last_error: Option<String>,
    pub attempts: Option<u32>,
    pub dead_lettered_at: Option<String>,
    pub body: String,
}

impl From<DeadLetter> for DeadLetterView {
    fn from(letter: DeadLetter) -> Self {
        Self {
            message_id: letter.message_id,
            backup_request_id: letter.backup_request_id,
            reason: letter.reason,
            last_error: letter.last_error,
            attempts: letter.attempts,
            dead_lettered_at: letter.dead_lettered_at,
            body: letter.body,
        }
    }
}

/// How many messages a parking queue holds, or why that is unknown.
#[derive(Debug, Clone, Serialize)]
pub struct QueueCount {
    pub queue: &'static str,
    pub count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl DeadLetterQueues {
    /// Connects to nothing yet.
    pub fn new(settings: &Settings, rabbit: Option<RabbitBus>) -> Self {
        let config = queue_service_config(settings);
        let azure = &settings.azure_queue;
        let poison = QueueClient::new(&config, &azure.poison_queue)
            .and_then(|poison| Ok(AzurePoisonLetters::new(poison, QueueClient::new(&config, &azure.statuses_queue)?)))
            .map_err(|error| format!("azure_queue settings: {error:#}"));
        Self { rabbit, poison }
    }

    /// The operations on `queue`.
    pub fn queue(&self, queue: DeadLetterQueue) -> Result<Arc<dyn DeadLetters>, DomainError> {
        match queue {
            DeadLetterQueue::Work(work) => match &self.rabbit {
                Some(rabbit) => Ok(Arc::new(rabbit.dead_letters(work))),
                None => Err(DomainError::unavailable(anyhow::anyhow!(
                    "work-queue dead letters live on RabbitMQ; with bus.kind = memory there are none to operate"
                ))),
            },
            DeadLetterQueue::StatusPoison => match &self.poison {
                Ok(poison) => Ok(Arc::new(poison.clone())),
                Err(reason) => Err(DomainError::Unexpected(anyhow::anyhow!("{reason}"))),
            },
        }
    }

    /// The count of every parking queue; one that cannot be counted says why
    /// without hiding the others.
    pub async fn counts(&self) -> Vec<QueueCount> {
        let mut counts = Vec::new();
        for queue in DeadLetterQueue::ALL {
            let counted = match self.queue(*queue) {
                Ok(letters) => letters.count().await,
                Err(error) => Err(error),
            };
            counts.push(match counted {
                Ok(count) => QueueCount { queue: queue.name(), count: Some(count), error: None },
                Err(error) => QueueCount { queue: queue.name(), count: None, error: Some(error.to_string()) },
            });
        }
        counts
    }
}
