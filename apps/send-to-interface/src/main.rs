//! send-to-interface: puts each allowed request on the backup zone
//! interface's request queue and records `Sent`.

use std::process::ExitCode;
use std::sync::Arc;

use linebacker_azure_queue::AzureBackupInterface;
use linebacker_domain::ports::WorkQueue;
use linebacker_domain::usecase::SendToInterface;
use linebacker_platform::run_worker;

#[tokio::main]
async fn main() -> ExitCode {
    run_worker("send-to-interface", |host| async move {
        let interface = AzureBackupInterface::new(&host.settings.azure_queue.service_config(), &host.settings.azure_queue.requests_queue)?;
        if let Err(error) = interface.queue().create_if_missing().await {
            // Sends fail (and are retried) until the queue service answers.
            tracing::warn!(error = %error, "cannot create the interface's request queue yet");
        }
        let resend_after = host.settings.recovery.resend_sent_after();
        let send = SendToInterface::new(host.store(), host.guarded("interface-queue", interface)).resending_after(resend_after);
        host.consume(WorkQueue::SendToInterface, Arc::new(send)).await;
        Ok(())
    })
    .await
}
