//! receive-status: records the backup zone interface's replies and, on the
//! first success, the Backup.

use std::sync::Arc;

use futures::FutureExt;
use linebacker_domain::ports::WorkQueue;
use linebacker_domain::usecase;
use linebacker_platform::{Component, Host, Needs, Work, consume_for};
use tokio_util::sync::CancellationToken;

use crate::dependency::{DATABASE, JOB_SERVICE};

pub struct ReceiveStatus;

impl Component for ReceiveStatus {
    fn name(&self) -> &'static str {
        "receive-status"
    }

    fn needs(&self) -> Needs {
        Needs { broker: true, ..Needs::default() }
    }

    fn start(self: Box<Self>, host: &Arc<Host>, stop: CancellationToken) -> anyhow::Result<Work> {
        let store = host.store();
        let jobs = host.guarded(JOB_SERVICE, host.job_service()?);
        let receive = usecase::ReceiveStatus::new(store.clone(), store, jobs);
        let breakers = vec![host.breaker(DATABASE), host.breaker(JOB_SERVICE)];
        let host = host.clone();
        Ok(async move {
            consume_for(&host, WorkQueue::ReceiveStatus, Arc::new(receive), breakers, stop).await;
            Ok(())
        }
        .boxed())
    }
}
