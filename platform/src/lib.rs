//! What every linebacker worker process shares: the consumer edge that turns
//! a use case's outcome into ack / retry / dead-letter, the process host that
//! builds the adapters from settings and stops gracefully, and the zpages.

pub mod breaker;
pub mod consumer;
pub mod dead_letters;
pub mod guard;
pub mod heartbeat;
pub mod correlate;
pub mod host;
mod polling;
mod metrics;
mod retry;
mod zpages;

pub use consumer::{ConsumerConfig, ConsumerStats, Disposition, consume, disposition};
pub use dead_letters::{DeadLetterQueues, DeadLetterView};
pub use host::{Host, pg_config, queue_auth, queue_service_config, rabbit_settings, retry_policy, run_worker};
pub use polling::poll_with_backoff;
pub use retry::retry_until_done;
