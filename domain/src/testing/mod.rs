//! The domain's test kit: in-memory implementations of the ports, sample
//! values, and the contract suites every implementation of a storage port
//! must pass. The domain's own unit tests use it; other crates' tests use it
//! through the `testing` feature.
// Fixtures build valid constants, and in a check a failed step is the failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod contract;
pub mod fixtures;
mod memory;

pub use memory::*;
