//! interface-listener: turns each status message of the backup zone
//! interface into a `StoreStatusReceived` event, then deletes it. Polling
//! backs off while the queue is empty and resets when a message arrives;
//! while the queue service keeps failing, its breaker holds polling back.
//! While an operator pauses the stage it receives nothing: the statuses
//! wait in the BZI's queue, and the batch in hand is finished first.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use linebacker_domain::Stage;
use linebacker_domain::usecase::ForwardStatuses;
use linebacker_platform::breaker::Gate;
use linebacker_platform::{Component, Host, Needs, Work, poll_with_backoff};
use tokio_util::sync::CancellationToken;

use crate::dependency::STATUSES_QUEUE;

const IDLE_START: Duration = Duration::from_millis(100);

pub struct InterfaceListener;

impl Component for InterfaceListener {
    fn name(&self) -> &'static str {
        "interface-listener"
    }

    /// It publishes each status straight to the broker.
    fn needs(&self) -> Needs {
        Needs { broker: true, ..Needs::default() }
    }

    fn start(self: Box<Self>, host: &Arc<Host>, stop: CancellationToken) -> anyhow::Result<Work> {
        let host = host.clone();
        Ok(async move { listen(&host, &stop).await }.boxed())
    }
}

async fn listen(host: &Host, stop: &CancellationToken) -> anyhow::Result<()> {
    let inbox = host.status_inbox().await?;
    // Behind a breaker like every worker's external system: while the
    // queue service keeps failing the listener is not ready and polls only
    // when the breaker lets a probe through.
    let breaker = host.breaker(STATUSES_QUEUE);
    let inbox = host.guarded(STATUSES_QUEUE, inbox);
    let settings = &host.settings.interface_listener;
    let forward = ForwardStatuses::new(inbox, host.message_bus(), settings.max_dequeue_count)
        .continuing_traces(Arc::new(host.database.store()));
    let stats = host.consumer_stats(&host.settings.azure_queue.statuses_queue);
    let (visibility, idle_max) = (settings.visibility_timeout(), settings.idle_backoff_max());
    let gate = host.pauses.gate(Stage::InterfaceListener);
    poll_with_backoff(stop, IDLE_START, idle_max, || async {
        if !gate.is_running() {
            gate.clone().running_unless_stopped(stop).await;
            // Resumed: poll again at once, not after an idle pause.
            return true;
        }
        if matches!(breaker.gate(), Gate::OpenUntil(_)) {
            return false;
        }
        match forward.poll(settings.batch_size, visibility).await {
            Ok(done) => {
                stats.record_forwarded(&done);
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
