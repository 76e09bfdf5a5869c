//! The errors of the domain: what went wrong, in terms a caller can act on.
//!
//! Adapters translate their infrastructure errors into these cases (a refused
//! connection becomes `Unavailable`, a lost optimistic update `Conflict`); the
//! edges map them to HTTP statuses or to ack / retry / dead-letter.

use crate::request::{StatusTypeCode, TransitionError};

pub use crate::field_error::FieldError;

/// The error of every port and use case.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("backup request {0} not found")]
    NotFound(String),
    /// The same idempotency key was used before with a different request body.
    #[error("the idempotency key was already used with a different request")]
    IdempotencyConflict,
    /// The request is not in a status the operation can start from.
    #[error(transparent)]
    InvalidStatus(#[from] TransitionError),
    /// A cancel came too late: the request went to the interface or ended.
    #[error("backup request {id} is {status} and can no longer be cancelled")]
    NotCancellable { id: String, status: StatusTypeCode },
    /// The stored status changed between read and write (another worker won).
    #[error("backup request {id} is no longer {expected}")]
    Conflict { id: String, expected: StatusTypeCode },
    /// A message or reply breaks the contract (a `Succeeded` reply without
    /// its fields, a reply for a request that was never allowed): retrying
    /// cannot help, an operator has to look.
    #[error("contract violation: {0}")]
    Invalid(String),
    /// A dependency (database, broker, external service) cannot be reached or
    /// answered with a transient failure; trying again later may succeed.
    #[error("dependency unavailable: {0:#}")]
    Unavailable(anyhow::Error),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl DomainError {
    pub fn unavailable(error: impl Into<anyhow::Error>) -> Self {
        Self::Unavailable(error.into())
    }

    /// Whether retrying the same operation later can succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Conflict { .. })
    }
}
