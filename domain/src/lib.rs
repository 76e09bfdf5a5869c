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
pub mod listing;
pub mod ports;
pub mod request;
pub mod trace;
pub mod usecase;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use client::{ClientAuthorizations, Scope, UnknownScope};
pub use error::{DomainError, FieldError};
pub use event::{DomainEvent, EventType, MessageId};
pub use trace::TraceParent;
pub use request::{
    BackupJobId, BackupProviderCode, BackupRequest, BackupRequestId, DataDate,
    PreparedDataPathName, RequesterId, StatusTypeCode, TransitionError, TransportTypeCode,
};
