//! http-receiver: takes backup requests over HTTP (SPEC §3), stores each one
//! with its `BackupRequestReceived` event in one transaction, answers 202,
//! serves status look-ups and the zpages, and relays the outbox to the broker.

mod action;
mod application;
pub mod auth;
pub mod body;
pub mod error;
mod json;
mod observe;
mod openapi;
mod recovery;
mod retention;
mod dashboard;
mod routes;
mod state;

pub use application::{Application, HttpService};
pub use recovery::{ReconciliationSweep, StartupRecovery};
pub use retention::Retention;
