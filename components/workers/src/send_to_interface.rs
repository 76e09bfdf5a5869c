//! send-to-interface: puts each allowed request on the backup zone
//! interface's request queue and records `Sent`.

use std::sync::Arc;

use futures::FutureExt;
use linebacker_domain::ports::WorkQueue;
use linebacker_domain::usecase;
use linebacker_platform::{Component, Host, Needs, Work, consume_for};
use tokio_util::sync::CancellationToken;

use crate::dependency::{DATABASE, INTERFACE_QUEUE};

pub struct SendToInterface;

impl Component for SendToInterface {
    fn name(&self) -> &'static str {
        "send-to-interface"
    }

    fn needs(&self) -> Needs {
        Needs { broker: true, ..Needs::default() }
    }

    fn start(self: Box<Self>, host: &Arc<Host>, stop: CancellationToken) -> anyhow::Result<Work> {
        let breakers = vec![host.breaker(DATABASE), host.breaker(INTERFACE_QUEUE)];
        let resend_after = host.settings.recovery.resend_sent_after();
        let host = host.clone();
        Ok(async move {
            // Creating the queue waits for the queue service, not the start.
            let interface = host.guarded(INTERFACE_QUEUE, host.interface_requests().await?);
            let mut send = usecase::SendToInterface::new(host.store(), interface).resending_after(resend_after);
            if host.externals.in_process_interface().is_some() {
                // That BZI started empty with this process: whatever was
                // sent to it before is lost.
                send = send.resending_sent_before(host.started_at);
            }
            consume_for(&host, WorkQueue::SendToInterface, Arc::new(send), breakers, stop).await;
            Ok(())
        }
        .boxed())
    }
}
