//! Process plumbing shared by every linebacker process: typed settings with
//! one loader, structured logs, and the shutdown signal.

pub mod health;
pub mod metrics;
pub mod settings;
pub mod shutdown;
pub mod telemetry;
pub mod timer;

pub use settings::{ConfigError, Settings};
pub use shutdown::shutdown_on_signals;
pub use timer::TokioTimer;
