//! check-allowed: asks the backup job service whether each received request
//! is allowed, and records `Allowed` or `NotAllowed`.

use std::sync::Arc;

use futures::FutureExt;
use linebacker_domain::ports::WorkQueue;
use linebacker_domain::usecase;
use linebacker_platform::{Component, Host, Needs, Work, consume_for};
use tokio_util::sync::CancellationToken;

use crate::dependency::{DATABASE, JOB_SERVICE};

pub struct CheckAllowed;

impl Component for CheckAllowed {
    fn name(&self) -> &'static str {
        "check-allowed"
    }

    fn needs(&self) -> Needs {
        Needs { broker: true, ..Needs::default() }
    }

    fn start(self: Box<Self>, host: &Arc<Host>, stop: CancellationToken) -> anyhow::Result<Work> {
        let check = usecase::CheckAllowed::new(host.store(), host.guarded(JOB_SERVICE, host.job_service()?));
        let breakers = vec![host.breaker(DATABASE), host.breaker(JOB_SERVICE)];
        let host = host.clone();
        Ok(async move {
            consume_for(&host, WorkQueue::CheckAllowed, Arc::new(check), breakers, stop).await;
            Ok(())
        }
        .boxed())
    }
}
