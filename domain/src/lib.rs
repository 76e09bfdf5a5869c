//! linebacker's domain: the backup request, its rules, the events it emits,
//! the ports (traits) its use cases need and the use cases themselves.
//!
//! Nothing here performs I/O. Adapters implement the ports; apps wire them.

pub mod backoff;
pub mod client;
pub mod dead_letter;
pub mod error;
pub mod event;
pub mod external;
mod field_error;
pub mod listing;
pub mod ports;
pub mod request;
pub mod stage;
pub mod trace;
pub mod usecase;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use client::{ClientAuthorizations, Scope, UnknownScope};
pub use error::DomainError;
pub use field_error::FieldError;
pub use event::{DomainEvent, EventPayload, EventType, MessageId};
pub use stage::{Stage, UnknownStage};
pub use trace::TraceParent;
pub use request::{
    BackupJobId, BackupProviderCode, BackupRequest, BackupRequestId, DataDate,
    PreparedDataPathName, RequestSnapshot, RequesterId, StatusTypeCode, TransitionError, TransportTypeCode,
};
