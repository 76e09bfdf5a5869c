//! `linebacker-admin dead-letters …`: the operator's view of the parking
//! queues, through the same adapters as the receiver's operator endpoints.
//! Output is JSON on stdout, for people and scripts alike.

use clap::{Args, Subcommand};
use linebacker_domain::dead_letter::DeadLetterQueue;
use linebacker_rabbitmq::RabbitBus;
use linebacker_runtime::Settings;
use linebacker_platform::{Bus, DeadLetterQueues, DeadLetterView};
use linebacker_platform::dead_letters::QueueCount;

#[derive(Debug, Subcommand)]
pub enum DeadLetterCommand {
    /// Count every parking queue, or list the messages of one (`--queue`).
    List {
        #[command(flatten)]
        target: Target,
        /// List at most this many messages.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Show one parked message (`--id`).
    Show {
        #[command(flatten)]
        target: Target,
    },
    /// Put one parked message (`--id`) or all (`--all`) back to work as a first attempt.
    Replay {
        #[command(flatten)]
        target: Target,
    },
    /// Delete every parked message of the queue.
    Purge {
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Debug, Args)]
pub struct Target {
    /// check-allowed, send-to-interface, receive-status or store-statuses-poison.
    #[arg(long)]
    queue: Option<String>,
    /// The parked message's messageId.
    #[arg(long)]
    id: Option<String>,
    /// Every parked message of the queue.
    #[arg(long)]
    all: bool,
}

impl Target {
    fn queue(&self) -> anyhow::Result<DeadLetterQueue> {
        let name = self.queue.as_deref().ok_or_else(|| anyhow::anyhow!("--queue is required"))?;
        DeadLetterQueue::parse(name).ok_or_else(|| {
            let known: Vec<_> = DeadLetterQueue::ALL.iter().map(|q| q.name()).collect();
            anyhow::anyhow!("unknown queue {name:?}; one of {}", known.join(", "))
        })
    }

    fn id(&self) -> anyhow::Result<&str> {
        self.id.as_deref().ok_or_else(|| anyhow::anyhow!("--id is required"))
    }
}

pub async fn run(settings: &Settings, command: DeadLetterCommand) -> anyhow::Result<()> {
    let rabbit = RabbitBus::new(settings.rabbitmq.bus_settings(&settings.retry, &settings.process_name("linebacker-admin")));
    let queues = DeadLetterQueues::new(settings, Bus::Rabbit(rabbit.clone()));
    let outcome = execute(&queues, command).await;
    rabbit.close().await;
    println!("{}", serde_json::to_string_pretty(&outcome?)?);
    Ok(())
}

async fn execute(queues: &DeadLetterQueues, command: DeadLetterCommand) -> anyhow::Result<serde_json::Value> {
    match command {
        DeadLetterCommand::List { target, limit } => {
            if target.queue.is_none() {
                let counts: Vec<QueueCount> = queues.counts().await;
                return Ok(serde_json::json!({ "queues": counts }));
            }
            let queue = target.queue()?;
            let items = queues.queue(queue)?.list(limit).await?;
            let items: Vec<DeadLetterView> = items.into_iter().map(DeadLetterView::from).collect();
            Ok(serde_json::json!({ "queue": queue.name(), "items": items }))
        }
        DeadLetterCommand::Show { target } => {
            let (queue, id) = (target.queue()?, target.id()?);
            let items = queues.queue(queue)?.list(usize::MAX).await?;
            let item = items.into_iter().find(|item| item.message_id == id);
            let item = item.ok_or_else(|| anyhow::anyhow!("no dead letter {id} on {}", queue.name()))?;
            Ok(serde_json::to_value(DeadLetterView::from(item))?)
        }
        DeadLetterCommand::Replay { target } => {
            let queue = target.queue()?;
            let id = match (&target.id, target.all) {
                (Some(id), false) => Some(id.as_str()),
                (None, true) => None,
                _ => anyhow::bail!("replay needs either --id <messageId> or --all"),
            };
            let replayed = queues.queue(queue)?.replay(id).await?;
            if let (Some(id), 0) = (id, replayed.count) {
                anyhow::bail!("no dead letter {id} on {}", queue.name());
            }
            Ok(serde_json::json!({ "queue": queue.name(), "replayed": replayed.count }))
        }
        DeadLetterCommand::Purge { target } => {
            let queue = target.queue()?;
            let purged = queues.queue(queue)?.purge().await?;
            Ok(serde_json::json!({ "queue": queue.name(), "purged": purged.count }))
        }
    }
}
