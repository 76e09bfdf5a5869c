//! The simulated backup zone interface: takes requests from
//! `allowed-backup-requests`, answers each on `store-statuses` after the
//! configured delay (a configured share of them `Failed`), then deletes the
//! request. Outages of the queue service are waited out with backoff.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use linebacker_azure_queue::{MAX_MESSAGES_PER_GET, QueueClient, QueueMessage};
use linebacker_domain::DomainError;
use linebacker_domain::backoff::Backoff;
use linebacker_domain::external::{API_VERSION, InterfaceRequest, ResultTypeCode, StoreStatus};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::stats::Stats;

/// Requests answered at the same time at most.
const MAX_IN_FLIGHT: usize = 64;
/// Polls of an empty queue slow down from the first pause to the cap.
const IDLE_POLL_FIRST: Duration = Duration::from_millis(50);
const IDLE_POLL_CAP: Duration = Duration::from_secs(1);
/// Retries of a failing queue service slow down from the first pause to the cap.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_CAP: Duration = Duration::from_secs(5);
/// How long a taken request stays hidden beyond the reply delay, so that it
/// does not come back while it is being answered.
const VISIBILITY_MARGIN: Duration = Duration::from_secs(60);

pub(crate) struct Bzi {
    pub(crate) requests: QueueClient,
    pub(crate) statuses: QueueClient,
    pub(crate) reply_delay: Duration,
    pub(crate) failure_share: f64,
    pub(crate) stats: Arc<Stats>,
}

impl Bzi {
    /// Answers requests until `stop`; then lets the answers in progress see
    /// `stop` and end.
    pub(crate) async fn run(self: Arc<Self>, stop: CancellationToken) {
        let bzi = &self;
        let ready = retry("creating the queues", &stop, move || async move {
            bzi.requests.create_if_missing().await?;
            bzi.statuses.create_if_missing().await
        });
        if ready.await.is_none() {
            return;
        }
        tracing::info!(requests = self.requests.name(), statuses = self.statuses.name(), "BZI simulator consuming");
        let mut answers = JoinSet::new();
        let mut idle = Backoff::new(IDLE_POLL_FIRST, IDLE_POLL_CAP);
        let mut failing = Backoff::new(RETRY_FIRST, RETRY_CAP);
        let visibility = self.reply_delay + VISIBILITY_MARGIN;
        while !stop.is_cancelled() {
            while answers.try_join_next().is_some() {}
            let room = MAX_IN_FLIGHT.saturating_sub(answers.len());
            if room == 0 {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = answers.join_next() => continue,
                }
            }
            let max = u32::try_from(room).unwrap_or(MAX_MESSAGES_PER_GET).min(MAX_MESSAGES_PER_GET);
            let taken = tokio::select! {
                _ = stop.cancelled() => break,
                taken = self.requests.get(max, visibility) => taken,
            };
            let pause = match taken {
                Ok(messages) if messages.is_empty() => {
                    failing.reset();
                    idle.next_pause()
                }
                Ok(messages) => {
                    failing.reset();
                    idle.reset();
                    for message in messages {
                        answers.spawn(self.clone().answer(message, stop.clone()));
                    }
                    continue;
                }
                Err(error) => {
                    tracing::warn!(error = format!("{error:#}"), "cannot take requests; backing off");
                    failing.next_pause()
                }
            };
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(pause) => {}
            }
        }
        while answers.join_next().await.is_some() {}
    }

    /// Answers one request. Stopped before the end, the request stays on its
    /// queue and is answered by the next run.
    async fn answer(self: Arc<Self>, message: QueueMessage, stop: CancellationToken) {
        let decoded = self.requests.encoding().decode(&message.text);
        let request: Result<InterfaceRequest, String> =
            decoded.and_then(|text| serde_json::from_str(&text).map_err(|error| error.to_string()));
        let request = match request {
            Ok(request) => request,
            Err(error) => {
                tracing::warn!(%error, message_id = message.message_id, "not an interface request; deleted");
                self.stats.malformed();
                retry("deleting a malformed request", &stop, || self.requests.delete(&message)).await;
                return;
            }
        };
        let id = request.backup_request_id.to_string();
        self.stats.received(&id);
        let copy_start = Utc::now();
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(self.reply_delay) => {}
        }
        let status = reply(&request, copy_start, Utc::now(), rand::random::<f64>() < self.failure_share);
        let succeeded = status.result_type_code == ResultTypeCode::Succeeded;
        let text = match serde_json::to_string(&status) {
            Ok(text) => self.statuses.encoding().encode(&text),
            Err(error) => return tracing::error!(%error, backup_request_id = id, "cannot serialize a reply"),
        };
        if retry("putting a reply", &stop, || self.statuses.put(&text)).await.is_none() {
            return;
        }
        self.stats.replied(&id, succeeded);
        tracing::info!(backup_request_id = id, result = status.result_type_code.as_str(), "replied");
        retry("deleting an answered request", &stop, || self.requests.delete(&message)).await;
    }
}

/// The BZI's reply (SPEC §5): a `Succeeded` one with every field, or a
/// `Failed` one with a reason.
pub(crate) fn reply(request: &InterfaceRequest, copy_start: DateTime<Utc>, now: DateTime<Utc>, fail: bool) -> StoreStatus {
    let base = StoreStatus {
        api_version: API_VERSION.to_owned(),
        backup_request_id: request.backup_request_id.clone(),
        result_type_code: ResultTypeCode::Failed,
        storage_path_name: Some(request.storage_path_name.clone()),
        backup_byte_count: None,
        copy_start_timestamp: Some(copy_start),
        copy_end_timestamp: None,
        verify_start_timestamp: None,
        verify_end_timestamp: None,
        verified_hash: None,
        message_text: Some("simulated failure: the storage zone refused the copy".to_owned()),
    };
    if fail {
        return base;
    }
    // Three quarters of the time copying, the rest verifying.
    let copy_end = copy_start + (now - copy_start) * 3 / 4;
    StoreStatus {
        result_type_code: ResultTypeCode::Succeeded,
        backup_byte_count: Some(rand::random_range(1_024..=10_i64 << 30)),
        copy_end_timestamp: Some(copy_end),
        verify_start_timestamp: Some(copy_end),
        verify_end_timestamp: Some(now),
        verified_hash: Some(format!("{:032x}{:032x}", rand::random::<u128>(), rand::random::<u128>())),
        message_text: Some(format!("stored {} by the backup system simulator", request.prepared_data_path_name)),
        ..base
    }
}

/// Runs `operation` until it succeeds or `stop`, backing off between tries.
async fn retry<T, F, Fut>(what: &str, stop: &CancellationToken, mut operation: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, DomainError>>,
{
    let mut backoff = Backoff::new(RETRY_FIRST, RETRY_CAP);
    loop {
        let result = tokio::select! {
            _ = stop.cancelled() => return None,
            result = operation() => result,
        };
        match result {
            Ok(value) => return Some(value),
            Err(error) => tracing::warn!(error = format!("{error:#}"), "{what} failed; retrying"),
        }
        tokio::select! {
            _ = stop.cancelled() => return None,
            _ = tokio::time::sleep(backoff.next_pause()) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use linebacker_domain::testing::fixtures;

    fn request() -> InterfaceRequest {
        InterfaceRequest { storage_path_name: "/backups/job-1".to_owned(), ..fixtures::interface_request() }
    }

    #[test]
    fn a_succeeded_reply_has_every_field_linebacker_records() {
        let start = Utc::now();
        let status = reply(&request(), start, start + chrono::Duration::seconds(4), false);
        let parsed = StoreStatus::parse(&serde_json::to_string(&status).unwrap()).unwrap();
        assert_eq!(parsed.result_type_code, ResultTypeCode::Succeeded);
        assert_eq!(parsed.storage_path_name.as_deref(), Some("/backups/job-1"));
        assert!(parsed.backup_byte_count.is_some_and(|count| count >= 1_024));
        assert_eq!(parsed.copy_start_timestamp, Some(start));
        assert_eq!(parsed.copy_end_timestamp, Some(start + chrono::Duration::seconds(3)));
        assert!(parsed.verify_start_timestamp.is_some() && parsed.verify_end_timestamp.is_some());
        assert_eq!(parsed.verified_hash.map(|hash| hash.len()), Some(64));
    }

    #[test]
    fn a_failed_reply_says_why() {
        let status = reply(&request(), Utc::now(), Utc::now(), true);
        assert_eq!(status.result_type_code, ResultTypeCode::Failed);
        assert!(status.message_text.is_some_and(|text| text.contains("failure")));
        assert_eq!(status.backup_byte_count, None);
    }
}
