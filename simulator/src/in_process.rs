//! The backup job service and the BZI played inside a linebacker process
//! (dev mode): the jobs of `config/simulator.toml` answered from memory, and
//! a BZI that answers each request put on an in-memory interface
//! (`linebacker_memory::InMemoryInterface`) after the reply delay, as the
//! simulator does on Azure. Nothing survives the process: linebacker re-sends
//! what was `Sent` to it before a restart.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use linebacker_domain::external::{BackupJob, ResultTypeCode};
use linebacker_domain::ports::BackupJobService;
use linebacker_domain::{BackupJobId, DomainError};
use linebacker_memory::InMemoryInterface;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::bzi::reply;
use crate::stats::Stats;

/// The backup job service's jobs, answered from memory; any other id is
/// unknown (the service's 404).
pub struct InProcessJobs {
    jobs: HashMap<String, BackupJob>,
}

impl InProcessJobs {
    pub fn new(jobs: Vec<BackupJob>) -> Self {
        Self { jobs: jobs.into_iter().map(|job| (job.backup_job_id.to_string(), job)).collect() }
    }
}

#[async_trait]
impl BackupJobService for InProcessJobs {
    async fn find_job(&self, id: &BackupJobId) -> Result<Option<BackupJob>, DomainError> {
        Ok(self.jobs.get(id.as_str()).cloned())
    }
}

/// Answers every request after `reply_delay` (a `failure_share` of them
/// `Failed`) until `stop`. A request being answered when it stops is
/// lost with the process, as an unanswered one is with a BZI restart:
/// linebacker re-sends it after `recovery.resend_sent_after_secs`.
pub async fn answer(bzi: InMemoryInterface, reply_delay: Duration, failure_share: f64, stats: Arc<Stats>, stop: CancellationToken) {
    let mut answers = JoinSet::new();
    while let Some(request) = bzi.next_request(&stop).await {
        while answers.try_join_next().is_some() {}
        let (bzi, stats, stop) = (bzi.clone(), stats.clone(), stop.clone());
        answers.spawn(async move {
            let id = request.backup_request_id.to_string();
            stats.received(&id);
            let copy_start = Utc::now();
            tokio::select! {
                () = tokio::time::sleep(reply_delay) => {}
                () = stop.cancelled() => return,
            }
            let status = reply(&request, copy_start, Utc::now(), rand::random::<f64>() < failure_share);
            match serde_json::to_string(&status) {
                Ok(text) => bzi.put_status(text),
                Err(error) => return tracing::error!(%error, backup_request_id = id, "cannot serialize a reply"),
            }
            stats.replied(&id, status.result_type_code == ResultTypeCode::Succeeded);
        });
    }
    answers.shutdown().await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use linebacker_domain::BackupProviderCode;
    use linebacker_domain::ports::{BackupInterface, StatusInbox};
    use linebacker_domain::testing::fixtures::interface_request_for;

    use super::*;

    const HIDDEN: Duration = Duration::from_secs(10);

    #[tokio::test]
    async fn the_bzi_answers_each_request_with_a_status_for_it() {
        let bzi = InMemoryInterface::new();
        let stop = CancellationToken::new();
        let answering = tokio::spawn(answer(bzi.clone(), Duration::from_millis(1), 0.0, Arc::new(Stats::default()), stop.clone()));
        bzi.send(&interface_request_for("r-1")).await.unwrap();
        bzi.send(&interface_request_for("r-2")).await.unwrap();
        let mut answered = Vec::new();
        for _ in 0..200 {
            answered.extend(bzi.receive(32, HIDDEN).await.unwrap());
            if answered.len() == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut ids: Vec<String> = answered
            .iter()
            .map(|message| message.status.clone().unwrap())
            .inspect(|status| assert_eq!(status.result_type_code, ResultTypeCode::Succeeded))
            .map(|status| status.backup_request_id.to_string())
            .collect();
        ids.sort();
        assert_eq!(ids, ["r-1", "r-2"]);
        assert_eq!(bzi.request_count(), 0);
        stop.cancel();
        answering.await.unwrap();
    }

    #[tokio::test]
    async fn the_job_service_knows_only_its_jobs() {
        let job = BackupJob {
            backup_job_id: BackupJobId::try_from("job-1").unwrap(),
            storage_path_name: "/backups/job-1".to_owned(),
            backup_provider_code: BackupProviderCode::Local,
            days_to_keep: 7,
            is_active: true,
            hold_flag: false,
        };
        let jobs = InProcessJobs::new(vec![job.clone()]);
        assert_eq!(jobs.find_job(&BackupJobId::try_from("job-1").unwrap()).await.unwrap(), Some(job));
        assert_eq!(jobs.find_job(&BackupJobId::try_from("job-9").unwrap()).await.unwrap(), None);
    }
}
