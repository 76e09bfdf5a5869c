//! The platform every linebacker process runs on: the process builder
//! (`Process`) that owns the shared lifecycle once (settings, logs, the
//! database and the bus, migrations, the outbox relay, heartbeats, zpages,
//! the ordered stop) and runs a list of `Component`s; what components share
//! (`Host`); and the consumer edge that turns a use case's outcome into ack,
//! retry or dead-letter.

pub mod breaker;
pub mod component;
pub mod consumer;
pub mod correlate;
pub mod dead_letters;
mod externals;
pub mod guard;
pub mod heartbeat;
pub mod host;
mod metrics;
pub mod pause;
mod polling;
mod process;
mod retry;
mod stats;
mod zpages;

pub use component::{Component, Needs, Work};
pub use consumer::{ConsumerConfig, Disposition, consume, consume_for, disposition};
pub use dead_letters::{DeadLetterQueues, DeadLetterView};
pub use externals::{Externals, InProcessInterface};
pub use host::{Bus, Host};
pub use pause::{Pauses, StageGate};
pub use polling::poll_with_backoff;
pub use process::{Process, RunningProcess};
pub use retry::retry_until_done;
pub use stats::ConsumerStats;
