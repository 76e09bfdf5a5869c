//! The use cases: each takes validated input, applies the rules of the
//! request and stores the outcome through the ports.

mod create_request;
mod get_request;

pub use create_request::{CreateBackupRequest, Created};
pub use get_request::{BackupRequestView, GetBackupRequest};
