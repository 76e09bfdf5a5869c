//! interface-listener: turns each status message of the backup zone
//! interface into a `StoreStatusReceived` event, then deletes it. Polling
//! backs off while the queue is empty and resets when a message arrives;
//! while the queue service keeps failing, its breaker holds polling back.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use linebacker_azure_queue::AzureStatusInbox;
use linebacker_domain::usecase::ForwardStatuses;
use linebacker_platform::breaker::Gate;
use linebacker_platform::{Host, poll_with_backoff, run_worker};

const IDLE_START: Duration = Duration::from_millis(100);

/// The breaker of the BZI's queue service, as health pages name it.
const STATUSES_QUEUE: &str = "statuses-queue";

#[tokio::main]
async fn main() -> ExitCode {
    run_worker("interface-listener", |host| async move { listen(&host).await }).await
}

async fn listen(host: &Host) -> anyhow::Result<()> {
    let azure = &host.settings.azure_queue;
    let inbox = AzureStatusInbox::new(&azure.service_config(), &azure.statuses_queue, &azure.poison_queue)?;
    let queues_ready = inbox.create_queues_if_missing().await;
    if let Err(error) = &queues_ready {
        tracing::warn!(error = %error, "cannot create the status queues yet");
    }
    // Behind a breaker like every worker's external system: while the
    // queue service keeps failing the listener is not ready and polls only
    // when the breaker lets a probe through.
    let breaker = host.breaker(STATUSES_QUEUE);
    let inbox = host.guarded(STATUSES_QUEUE, inbox);
    let settings = &host.settings.interface_listener;
    let forward = ForwardStatuses::new(inbox, host.bus.clone(), settings.max_dequeue_count)
        .continuing_traces(Arc::new(host.database.store()));
    let visibility = settings.visibility_timeout();
    poll_with_backoff(&host.shutdown, IDLE_START, settings.idle_backoff_max(), || async {
        if matches!(breaker.gate(), Gate::OpenUntil(_)) {
            return false;
        }
        match forward.poll(settings.batch_size, visibility).await {
            Ok(done) => {
                host.stats.record_forwarded(&done);
                done.taken() > 0
            }
            Err(error) => {
                tracing::warn!(error = %error, "cannot read the status queue");
                false
            }
        }
    })
    .await;
    Ok(())
}
