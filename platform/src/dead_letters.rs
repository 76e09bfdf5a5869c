//! Which adapter operates which parking queue, for the operator's command
//! line and the receiver's operator endpoints alike: the work queues'
//! `<name>.dead` live on the bus (RabbitMQ, or the in-memory bus of dev
//! mode), `store-statuses-poison` on the BZI's queue service (or the BZI
//! played in the process).

use std::sync::Arc;

use linebacker_azure_queue::{AzurePoisonLetters, QueueClient};
use linebacker_domain::DomainError;
use linebacker_domain::dead_letter::{DeadLetter, DeadLetterQueue, DeadLetters};
use linebacker_runtime::Settings;
use serde::Serialize;

use crate::host::{Bus, Host};

/// Every parking queue of the system.
#[derive(Clone)]
pub struct DeadLetterQueues {
    bus: Bus,
    /// An error when `azure_queue.*` is invalid, reported on use.
    poison: Result<Arc<dyn DeadLetters>, String>,
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
    /// The parking queues on `bus` and on the BZI's Azure account;
    /// connects to nothing yet.
    pub fn new(settings: &Settings, bus: Bus) -> Self {
        let config = settings.azure_queue.service_config();
        let azure = &settings.azure_queue;
        let poison = QueueClient::new(&config, &azure.poison_queue)
            .and_then(|poison| Ok(AzurePoisonLetters::new(poison, QueueClient::new(&config, &azure.statuses_queue)?)))
            .map(|poison| Arc::new(poison) as Arc<dyn DeadLetters>)
            .map_err(|error| format!("azure_queue settings: {error:#}"));
        Self { bus, poison }
    }

    /// The parking queues of the process `host` runs: its bus, and its BZI
    /// (played in the process, or on Azure).
    pub fn of(host: &Host) -> Self {
        let mut queues = Self::new(&host.settings, host.bus.clone());
        if let Some(interface) = host.externals.in_process_interface() {
            queues.poison = Ok(interface.poison.clone());
        }
        queues
    }

    /// The operations on `queue`.
    pub fn queue(&self, queue: DeadLetterQueue) -> Result<Arc<dyn DeadLetters>, DomainError> {
        match queue {
            DeadLetterQueue::Work(work) => match &self.bus {
                Bus::Rabbit(rabbit) => Ok(Arc::new(rabbit.dead_letters(work))),
                Bus::Memory(memory) => Ok(Arc::new(memory.parking(work))),
            },
            DeadLetterQueue::StatusPoison => match &self.poison {
                Ok(poison) => Ok(poison.clone()),
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
