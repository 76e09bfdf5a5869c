//! The workers, each a component a process runs: three consume a work queue
//! and hand each message to their use case, one polls the BZI's status
//! queue. A worker process runs one of them; dev mode runs them all.

mod check_allowed;
mod interface_listener;
mod receive_status;
mod send_to_interface;

pub use check_allowed::CheckAllowed;
pub use interface_listener::InterfaceListener;
pub use receive_status::ReceiveStatus;
pub use send_to_interface::SendToInterface;

/// The breakers' names for the external systems, as health pages show them.
pub(crate) mod dependency {
    pub const DATABASE: &str = "database";
    pub const JOB_SERVICE: &str = "backup-job-service";
    pub const INTERFACE_QUEUE: &str = "interface-queue";
    pub const STATUSES_QUEUE: &str = "statuses-queue";
}
