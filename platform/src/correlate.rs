//! The span every delivery is handled in: it names the queue, the request and
//! the trace the message belongs to, so that each log line written while
//! handling it (the use case's, the adapters', the settlement's) carries the
//! request's `trace_id` and `backup_request_id`.

use linebacker_domain::DomainEvent;
use linebacker_domain::ports::{MalformedMessage, WorkQueue};
use tracing::Span;
use tracing::field::Empty;

/// The span for handling one message taken from `queue`. A malformed message
/// names no request; its lines carry only the queue.
pub fn message_span(queue: WorkQueue, event: &Result<DomainEvent, MalformedMessage>) -> Span {
    let span = tracing::info_span!("message", queue = queue.name(), trace_id = Empty, backup_request_id = Empty);
    if let Ok(event) = event {
        span.record("backup_request_id", event.backup_request_id.as_str());
        if let Some(trace) = &event.traceparent {
            span.record("trace_id", trace.trace_id());
        }
    }
    span
}
