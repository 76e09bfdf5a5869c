//! The shutdown signal. PM2 stops a process with SIGINT, systemd and
//! Kubernetes with SIGTERM; both mean "stop taking work, finish, exit 0".

use tokio_util::sync::CancellationToken;

/// A token cancelled on the first SIGINT or SIGTERM. Every long-running loop
/// of the process selects on it.
pub fn shutdown_on_signals() -> std::io::Result<CancellationToken> {
    use tokio::signal::unix::{SignalKind, signal};

    let token = CancellationToken::new();
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let cancel = token.clone();
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        };
        tracing::info!(signal = name, "shutting down");
        cancel.cancel();
    });
    Ok(token)
}
