//! The use cases: each takes validated input, applies the rules of the
//! request and stores the outcome through the ports.

mod browse_requests;
mod cancel_request;
mod check_allowed;
mod create_request;
mod forward_statuses;
mod get_request;
mod receive_status;
mod prune_requests;
mod recover_pending;
mod send_to_interface;

pub use browse_requests::BrowseRequests;
pub use cancel_request::CancelBackupRequest;
pub use check_allowed::CheckAllowed;
pub use create_request::{CreateBackupRequest, Created};
pub use forward_statuses::{ForwardStatuses, Forwarded};
pub use get_request::{BackupRequestView, GetBackupRequest};
pub use receive_status::ReceiveStatus;
pub use prune_requests::{PruneRequests, PrunedCounts, Pruning, RetentionPolicy};
pub use recover_pending::{RecoverPending, Recovery, RecoverySummary};
pub use send_to_interface::SendToInterface;

use std::collections::HashMap;

use async_trait::async_trait;

use crate::error::DomainError;
use crate::event::DomainEvent;
use crate::ports::RequestTraces;
use crate::request::{BackupRequest, BackupRequestId, StatusTypeCode, TransitionError};
use crate::trace::TraceParent;

/// The next hop of the trace request `id` was received under, so that a
/// step started outside a message (a status from the interface, a
/// recovery) is logged in the request's trace; a new trace when there is no
/// store of traces or the request has none. A failed look-up does not hold
/// the step back: the log only loses the link to the request's earlier
/// lines.
pub(crate) async fn continued_trace(traces: Option<&dyn RequestTraces>, id: &BackupRequestId) -> TraceParent {
    let stored = match traces {
        Some(traces) => traces.trace_of(id).await.unwrap_or_else(|error| {
            tracing::warn!(error = %error, "the request's trace could not be looked up; starting a new one");
            None
        }),
        None => None,
    };
    continued_from(stored)
}

/// A child of the stored trace, or a new root where none is stored.
fn continued_from(stored: Option<TraceParent>) -> TraceParent {
    stored.map_or_else(TraceParent::new_root, |trace| trace.child())
}

/// `continued_trace` for a page of requests, with one look-up for all.
pub(crate) async fn continued_traces(
    traces: Option<&dyn RequestTraces>,
    ids: &[BackupRequestId],
) -> HashMap<BackupRequestId, TraceParent> {
    let mut stored = match traces {
        Some(traces) => traces.traces_of(ids).await.unwrap_or_else(|error| {
            tracing::warn!(error = %error, "the requests' traces could not be looked up; starting new ones");
            HashMap::new()
        }),
        None => HashMap::new(),
    };
    ids.iter().map(|id| (id.clone(), continued_from(stored.remove(id)))).collect()
}

/// What a message handler did with a message it could handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// The request took a step (to this status).
    Applied(StatusTypeCode),
    /// Nothing to do: a duplicate or stale message (the request is already at
    /// or past the status this step would set). Acknowledged, no side effect.
    Skipped(String),
}

/// A use case driven by the events of one work queue. `Ok` means the message
/// can be acknowledged; the error says whether to retry or dead-letter.
#[async_trait]
pub trait MessageHandler: Send + Sync {
    async fn handle(&self, event: &DomainEvent) -> Result<Handled, DomainError>;
}

/// Loads the request an event is about; an unknown id is `NotFound` (the
/// consumer edge retries it for a grace period, then dead-letters it).
async fn load(
    requests: &dyn crate::ports::BackupRequestRepository,
    id: &BackupRequestId,
) -> Result<BackupRequest, DomainError> {
    requests.find(id).await?.ok_or_else(|| DomainError::NotFound(id.to_string()))
}

/// Turns a refused step into the handler's answer: a stale step is skipped,
/// an illegal one is a contract violation.
fn refused(step: TransitionError) -> Result<Handled, DomainError> {
    match step {
        TransitionError::AlreadyDone { .. } => Ok(Handled::Skipped(step.to_string())),
        TransitionError::Illegal { .. } => Err(DomainError::Invalid(step.to_string())),
    }
}
