//! A component is one part of a process's work: the receiver's HTTP
//! service, the consumer of a work queue, the listener's poll loop, startup
//! recovery, dev mode's simulated systems. A process is the list of its
//! components, run by [`crate::Process`].

use std::sync::Arc;

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::host::Host;

/// The work a started component does: runs until its token is cancelled,
/// then finishes what it started (answers requests in flight, settles the
/// deliveries in hand) and returns.
pub type Work = BoxFuture<'static, anyhow::Result<()>>;

/// One part of a process. The builder starts the components in the order
/// they are named, once the shared dependencies are built, and stops them
/// in reverse order.
pub trait Component: Send + 'static {
    /// The name its log lines give it.
    fn name(&self) -> &'static str;

    /// What the process needs because it runs this component.
    fn needs(&self) -> Needs {
        Needs::default()
    }

    /// Builds what the component uses from `host` and binds what it serves
    /// (a port that is taken fails the start here, before anything runs),
    /// connecting to nothing yet; returns its work, which stops when `stop`
    /// is cancelled.
    fn start(self: Box<Self>, host: &Arc<Host>, stop: CancellationToken) -> anyhow::Result<Work>;
}

/// What a component asks of its process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// It cannot work while the broker is away (a consumer), so the process
    /// is not ready then. The HTTP service does not: its outbox keeps the
    /// events until the broker is back.
    pub broker: bool,
    /// It serves the process's zpages itself (the receiver, under
    /// `/api/zpages/` on its API port), so the process opens no zpages port.
    pub serves_zpages: bool,
}
