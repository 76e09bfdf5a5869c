//! interface-listener: takes the interface's status messages, publishes each
//! as a `StoreStatusReceived` event (confirmed by the broker) and only then
//! deletes it from the external queue. A message that is not a valid status,
//! or that keeps failing, is parked on the poison queue with the reason.

use std::sync::Arc;
use std::time::Duration;

use tracing::instrument;

use crate::error::DomainError;
use crate::event::DomainEvent;
use crate::ports::{InboxMessage, MessageBus, RequestTraces, StatusInbox};
use crate::usecase::continued_trace;

/// What one poll did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Forwarded {
    pub published: usize,
    pub parked: usize,
    /// Left on the queue after a transient failure; they reappear after
    /// their visibility timeout.
    pub left: usize,
}

impl Forwarded {
    pub fn taken(&self) -> usize {
        self.published + self.parked + self.left
    }
}

pub struct ForwardStatuses {
    inbox: Arc<dyn StatusInbox>,
    bus: Arc<dyn MessageBus>,
    /// A message taken more often than this without being forwarded is
    /// parked.
    max_times_taken: u32,
    /// Where each request's trace is kept; without it every status starts
    /// a trace of its own.
    traces: Option<Arc<dyn RequestTraces>>,
}

impl ForwardStatuses {
    pub fn new(inbox: Arc<dyn StatusInbox>, bus: Arc<dyn MessageBus>, max_times_taken: u32) -> Self {
        Self { inbox, bus, max_times_taken, traces: None }
    }

    /// Continues the trace each request was received under.
    pub fn continuing_traces(mut self, traces: Arc<dyn RequestTraces>) -> Self {
        self.traces = Some(traces);
        self
    }

    /// Takes up to `max` messages and forwards or parks each. An error means
    /// the inbox itself could not be read.
    pub async fn poll(&self, max: u32, visibility_timeout: Duration) -> Result<Forwarded, DomainError> {
        let messages = self.inbox.receive(max, visibility_timeout).await?;
        let mut forwarded = Forwarded::default();
        for message in messages {
            match self.forward(&message).await {
                Ok(true) => forwarded.published += 1,
                Ok(false) => forwarded.parked += 1,
                Err(error) => {
                    tracing::warn!(error = %error, message_id = %message.message_id, "status message left for a later poll");
                    forwarded.left += 1;
                }
            }
        }
        Ok(forwarded)
    }

    /// `Ok(true)` published and deleted, `Ok(false)` parked.
    #[instrument(skip_all, fields(
        message_id = %message.message_id,
        trace_id = tracing::field::Empty,
        backup_request_id = tracing::field::Empty,
    ))]
    async fn forward(&self, message: &InboxMessage) -> Result<bool, DomainError> {
        let status = match &message.status {
            Ok(status) => status.clone(),
            Err(unreadable) => {
                self.inbox.park(message, &unreadable.reason).await?;
                tracing::warn!(reason = %unreadable.reason, "unparsable status message parked");
                return Ok(false);
            }
        };
        if message.times_taken > self.max_times_taken {
            let reason = format!("taken {} times without being forwarded", message.times_taken);
            self.inbox.park(message, &reason).await?;
            tracing::warn!(reason = %reason, "status message parked");
            return Ok(false);
        }
        let trace = continued_trace(self.traces.as_deref(), &status.backup_request_id).await;
        let span = tracing::Span::current();
        span.record("backup_request_id", status.backup_request_id.as_str());
        span.record("trace_id", trace.trace_id());
        let event = DomainEvent::status_received(status, Some(trace));
        self.bus.publish(std::slice::from_ref(&event)).await?;
        self.inbox.delete(message).await?;
        tracing::info!("store status forwarded");
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::event::{EventPayload, EventType};
    use crate::external::ResultTypeCode;
    use crate::testing::fixtures::{received, reply};
    use crate::ports::InboxReceipt;
    use crate::testing::{FakeBus, FakeInbox, MapTraces as Traces};
    use crate::trace::TraceParent;

    fn message(id: &str, text: String, times_taken: u32) -> InboxMessage {
        InboxMessage::read(id.into(), times_taken, text, InboxReceipt::new(id.to_owned()))
    }

    fn setup(messages: Vec<InboxMessage>) -> (Arc<FakeInbox>, Arc<FakeBus>, ForwardStatuses) {
        let inbox = Arc::new(FakeInbox::default());
        *inbox.messages.lock().unwrap() = messages;
        let bus = Arc::new(FakeBus::default());
        (inbox.clone(), bus.clone(), ForwardStatuses::new(inbox, bus, 5))
    }

    fn valid_text() -> (String, String) {
        let request = received("job-1");
        let text = serde_json::to_string(&reply(&request, ResultTypeCode::Succeeded)).unwrap();
        (request.backup_request_id().to_string(), text)
    }

    #[tokio::test]
    async fn a_status_is_published_then_deleted() {
        let (id, text) = valid_text();
        let (inbox, bus, forward) = setup(vec![message("m1", text, 1)]);
        let done = forward.poll(32, Duration::from_secs(30)).await.unwrap();
        assert_eq!(done, Forwarded { published: 1, parked: 0, left: 0 });
        let published = bus.published.lock().unwrap().clone();
        assert_eq!(published.len(), 1);
        assert_eq!(published[0].event_type, EventType::StoreStatusReceived);
        assert_eq!(published[0].backup_request_id.as_str(), id);
        assert!(
            matches!(&published[0].payload, EventPayload::Status(status) if status.result_type_code == ResultTypeCode::Succeeded),
            "{:?}",
            published[0].payload
        );
        assert_eq!(*inbox.deleted.lock().unwrap(), ["m1"]);
    }

    #[tokio::test]
    async fn an_unparsable_message_is_parked_with_its_reason_and_not_published() {
        let (inbox, bus, forward) = setup(vec![message("m1", "{not json".into(), 1)]);
        let done = forward.poll(32, Duration::from_secs(30)).await.unwrap();
        assert_eq!(done.parked, 1);
        let parked = inbox.parked.lock().unwrap().clone();
        assert_eq!(parked.len(), 1);
        assert!(parked[0].1.contains("not a store status"), "{}", parked[0].1);
        assert!(bus.published.lock().unwrap().is_empty());
        assert!(inbox.messages.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_message_that_keeps_failing_is_parked_after_the_limit() {
        let (_, text) = valid_text();
        let (inbox, bus, forward) = setup(vec![message("m1", text, 6)]);
        assert_eq!(forward.poll(32, Duration::from_secs(30)).await.unwrap().parked, 1);
        assert!(inbox.parked.lock().unwrap()[0].1.contains("6 times"));
        assert!(bus.published.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn without_a_confirm_the_message_stays_on_the_queue() {
        let (_, text) = valid_text();
        let (inbox, bus, forward) = setup(vec![message("m1", text, 1)]);
        bus.down.store(true, Ordering::SeqCst);
        assert_eq!(forward.poll(32, Duration::from_secs(30)).await.unwrap().left, 1);
        assert_eq!(inbox.messages.lock().unwrap().len(), 1);
        assert!(inbox.deleted.lock().unwrap().is_empty());
    }

    async fn forwarded_trace(traces: Traces, text: String) -> TraceParent {
        let (_, bus, forward) = setup(vec![message("m1", text, 1)]);
        let forward = forward.continuing_traces(Arc::new(traces));
        assert_eq!(forward.poll(32, Duration::from_secs(30)).await.unwrap().published, 1);
        bus.published.lock().unwrap()[0].traceparent.clone().unwrap()
    }

    #[tokio::test]
    async fn a_status_continues_the_trace_its_request_was_received_under() {
        let (id, text) = valid_text();
        let received = TraceParent::new_root();
        let trace = forwarded_trace(Traces(Some([(id, received.clone())].into())), text).await;
        assert_eq!(trace.trace_id(), received.trace_id());
        assert_ne!(trace, received, "the status is a hop of its own");
    }

    #[tokio::test]
    async fn a_status_whose_trace_cannot_be_found_is_still_forwarded_under_a_new_trace() {
        let (_, text) = valid_text();
        let unknown = forwarded_trace(Traces(Some(Default::default())), text.clone()).await;
        let outage = forwarded_trace(Traces(None), text).await;
        assert_ne!(unknown.trace_id(), outage.trace_id());
    }
}
