//! The backup job service and the BZI played inside a linebacker process
//! (dev mode): the jobs of `config/simulator.toml` answered from memory, and
//! the BZI's two queues (and the status queue's poison queue) kept in
//! memory, with the Azure semantics linebacker relies on: a taken status
//! stays hidden for its visibility timeout and comes back if it is not
//! deleted, each take counts, a parked status can be listed, replayed and
//! purged. The BZI answers each request after the reply delay, as the
//! simulator does on Azure. Nothing survives the process: recovery re-sends
//! what was `Sent` and never answered.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use linebacker_domain::dead_letter::{Affected, DeadLetter, DeadLetters};
use linebacker_domain::external::{BackupJob, InterfaceRequest, ResultTypeCode};
use linebacker_domain::ports::{BackupInterface, BackupJobService, InboxMessage, InboxReceipt, StatusInbox};
use linebacker_domain::{BackupJobId, DomainError};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;
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

/// A status on the status queue.
#[derive(Debug, Clone)]
struct Status {
    message_id: String,
    text: String,
    /// The receipt of the last take; a delete must show it.
    receipt: String,
    dequeue_count: u32,
    visible_at: Instant,
}

/// A status moved to the poison queue.
#[derive(Debug, Clone)]
struct Parked {
    message_id: String,
    text: String,
    reason: String,
    at: chrono::DateTime<Utc>,
}

#[derive(Default)]
struct Queues {
    requests: VecDeque<InterfaceRequest>,
    statuses: Vec<Status>,
    poison: Vec<Parked>,
}

/// The BZI's queues in memory. Clones share them.
#[derive(Clone, Default)]
pub struct InProcessBzi {
    queues: Arc<Mutex<Queues>>,
    /// Wakes the answering loop when a request arrives.
    arrived: Arc<Notify>,
}

/// How many messages each of the BZI's queues holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueDepths {
    pub requests: usize,
    pub statuses: usize,
    pub poison: usize,
}

impl InProcessBzi {
    pub fn new() -> Self {
        Self::default()
    }

    /// The queues stay consistent under every panic (each change is a push
    /// or a removal), so a poisoned lock is still safe to use.
    fn queues(&self) -> MutexGuard<'_, Queues> {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn depths(&self) -> QueueDepths {
        let queues = self.queues();
        QueueDepths { requests: queues.requests.len(), statuses: queues.statuses.len(), poison: queues.poison.len() }
    }

    /// Puts `text` on the status queue, as the BZI writes a reply.
    pub fn put_status(&self, text: String) {
        self.queues().statuses.push(Status {
            message_id: uuid::Uuid::new_v4().to_string(),
            text,
            receipt: String::new(),
            dequeue_count: 0,
            visible_at: Instant::now(),
        });
    }

    /// The next request, waiting for one; `None` once `stop` is cancelled.
    async fn next_request(&self, stop: &CancellationToken) -> Option<InterfaceRequest> {
        loop {
            let arrived = self.arrived.notified();
            tokio::pin!(arrived);
            // Registered before looking, so a send in between is not missed.
            arrived.as_mut().enable();
            if let Some(request) = self.queues().requests.pop_front() {
                return Some(request);
            }
            tokio::select! {
                () = arrived => {}
                () = stop.cancelled() => return None,
            }
        }
    }

    /// Answers every request after `reply_delay` (a `failure_share` of them
    /// `Failed`) until `stop`. A request being answered when it stops is
    /// lost with the process, as an unanswered one is with a BZI restart:
    /// linebacker re-sends it after `recovery.resend_sent_after_secs`.
    pub async fn answer(self, reply_delay: Duration, failure_share: f64, stats: Arc<Stats>, stop: CancellationToken) {
        let mut answers = JoinSet::new();
        while let Some(request) = self.next_request(&stop).await {
            while answers.try_join_next().is_some() {}
            let (bzi, stats, stop) = (self.clone(), stats.clone(), stop.clone());
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

    /// The status queue's poison queue, operated as Azure's is.
    pub fn poison(&self) -> InProcessPoison {
        InProcessPoison { bzi: self.clone() }
    }
}

#[async_trait]
impl BackupInterface for InProcessBzi {
    async fn send(&self, request: &InterfaceRequest) -> Result<(), DomainError> {
        self.queues().requests.push_back(request.clone());
        self.arrived.notify_one();
        Ok(())
    }
}

#[async_trait]
impl StatusInbox for InProcessBzi {
    async fn receive(&self, max: u32, visibility_timeout: Duration) -> Result<Vec<InboxMessage>, DomainError> {
        let now = Instant::now();
        let mut queues = self.queues();
        let visible = queues.statuses.iter_mut().filter(|status| status.visible_at <= now);
        Ok(visible
            .take(max as usize)
            .map(|status| {
                status.dequeue_count += 1;
                status.visible_at = now + visibility_timeout;
                status.receipt = uuid::Uuid::new_v4().to_string();
                let receipt = Receipt { pop: status.receipt.clone(), text: status.text.clone() };
                InboxMessage::read(status.message_id.clone(), status.dequeue_count, status.text.clone(), InboxReceipt::new(receipt))
            })
            .collect())
    }

    /// A status taken again since (its receipt changed) is not deleted, as
    /// on Azure; one already gone counts as deleted.
    async fn delete(&self, message: &InboxMessage) -> Result<(), DomainError> {
        let receipt = taken_here(message)?;
        let mut queues = self.queues();
        queues.statuses.retain(|status| status.message_id != message.message_id || status.receipt != receipt.pop);
        Ok(())
    }

    async fn park(&self, message: &InboxMessage, reason: &str) -> Result<(), DomainError> {
        let text = taken_here(message)?.text.clone();
        let mut queues = self.queues();
        queues.poison.push(Parked {
            message_id: message.message_id.clone(),
            text,
            reason: reason.to_owned(),
            at: Utc::now(),
        });
        queues.statuses.retain(|status| status.message_id != message.message_id);
        Ok(())
    }
}

/// What `receive` handed out with a status: the take it was, and the text.
struct Receipt {
    pop: String,
    text: String,
}

/// The receipt of a message this BZI handed out.
fn taken_here(message: &InboxMessage) -> Result<&Receipt, DomainError> {
    message
        .receipt
        .get::<Receipt>()
        .ok_or_else(|| DomainError::Unexpected(anyhow::anyhow!("a status taken from another inbox")))
}

/// `store-statuses-poison` of an `InProcessBzi`.
pub struct InProcessPoison {
    bzi: InProcessBzi,
}

#[async_trait]
impl DeadLetters for InProcessPoison {
    async fn count(&self) -> Result<u64, DomainError> {
        Ok(self.bzi.queues().poison.len() as u64)
    }

    async fn list(&self, limit: usize) -> Result<Vec<DeadLetter>, DomainError> {
        let queues = self.bzi.queues();
        Ok(queues
            .poison
            .iter()
            .take(limit)
            .map(|parked| DeadLetter {
                message_id: parked.message_id.clone(),
                backup_request_id: None,
                reason: Some(parked.reason.clone()),
                last_error: None,
                attempts: None,
                dead_lettered_at: Some(parked.at.to_rfc3339()),
                body: parked.text.clone(),
            })
            .collect())
    }

    async fn replay(&self, message_id: Option<&str>) -> Result<Affected, DomainError> {
        let replayed: Vec<Parked> = {
            let mut queues = self.bzi.queues();
            let (chosen, kept) = std::mem::take(&mut queues.poison)
                .into_iter()
                .partition(|parked| message_id.is_none_or(|id| parked.message_id == id));
            queues.poison = kept;
            chosen
        };
        let count = replayed.len() as u64;
        for parked in replayed {
            self.bzi.put_status(parked.text);
        }
        Ok(Affected { count })
    }

    async fn purge(&self) -> Result<Affected, DomainError> {
        let purged = std::mem::take(&mut self.bzi.queues().poison).len();
        Ok(Affected { count: purged as u64 })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use linebacker_domain::external::API_VERSION;
    use linebacker_domain::{BackupProviderCode, BackupRequestId, DataDate, PreparedDataPathName};

    use super::*;

    fn request(id: &str) -> InterfaceRequest {
        InterfaceRequest {
            api_version: API_VERSION.to_owned(),
            backup_request_id: BackupRequestId::try_from(id).unwrap(),
            backup_job_id: BackupJobId::try_from("job-1").unwrap(),
            data_date: DataDate::try_from("2022-05-30").unwrap(),
            prepared_data_path_name: PreparedDataPathName::try_from("/prepared/r-1").unwrap(),
            backup_provider_code: BackupProviderCode::Local,
            storage_path_name: "/backups/job-1".to_owned(),
        }
    }

    const HIDDEN: Duration = Duration::from_secs(10);

    #[tokio::test(start_paused = true)]
    async fn a_taken_status_is_hidden_until_its_visibility_ends_and_counts_each_take() {
        let bzi = InProcessBzi::new();
        bzi.put_status("{}".to_owned());
        let first = bzi.receive(32, HIDDEN).await.unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].times_taken, 1);
        assert!(bzi.receive(32, HIDDEN).await.unwrap().is_empty());
        tokio::time::advance(HIDDEN).await;
        let again = bzi.receive(32, HIDDEN).await.unwrap();
        assert_eq!((again[0].message_id.as_str(), again[0].times_taken), (first[0].message_id.as_str(), 2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_delete_with_an_old_receipt_leaves_a_status_taken_again_since() {
        let bzi = InProcessBzi::new();
        bzi.put_status("{}".to_owned());
        let first = bzi.receive(1, HIDDEN).await.unwrap().remove(0);
        tokio::time::advance(HIDDEN).await;
        let second = bzi.receive(1, HIDDEN).await.unwrap().remove(0);
        bzi.delete(&first).await.unwrap();
        assert_eq!(bzi.depths().statuses, 1);
        bzi.delete(&second).await.unwrap();
        assert_eq!(bzi.depths().statuses, 0);
        // Already gone counts as deleted.
        bzi.delete(&second).await.unwrap();
    }

    #[tokio::test]
    async fn a_parked_status_is_listed_replayed_and_purged_on_the_poison_queue() {
        let bzi = InProcessBzi::new();
        let poison = bzi.poison();
        bzi.put_status("not a status".to_owned());
        bzi.put_status("nor this".to_owned());
        for message in bzi.receive(32, HIDDEN).await.unwrap() {
            bzi.park(&message, "not JSON").await.unwrap();
        }
        assert_eq!(bzi.depths(), QueueDepths { requests: 0, statuses: 0, poison: 2 });
        let listed = poison.list(10).await.unwrap();
        assert_eq!(listed[0].body, "not a status");
        assert_eq!(listed[0].reason.as_deref(), Some("not JSON"));
        let one = poison.replay(Some(&listed[0].message_id)).await.unwrap();
        assert_eq!(one.count, 1);
        assert_eq!(bzi.depths(), QueueDepths { requests: 0, statuses: 1, poison: 1 });
        assert_eq!(poison.purge().await.unwrap().count, 1);
        assert_eq!(poison.count().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn the_bzi_answers_each_request_with_a_status_for_it() {
        let bzi = InProcessBzi::new();
        let stop = CancellationToken::new();
        let answering = tokio::spawn(bzi.clone().answer(Duration::from_millis(1), 0.0, Arc::new(Stats::default()), stop.clone()));
        bzi.send(&request("r-1")).await.unwrap();
        bzi.send(&request("r-2")).await.unwrap();
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
        assert_eq!(bzi.depths().requests, 0);
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
