//! Turning lapin's failures, and its hangs, into domain errors: every broker
//! operation runs under a deadline, and whatever goes wrong with the broker
//! is `Unavailable` to the caller, who may try again later.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use linebacker_domain::DomainError;

/// Runs `work` for at most `limit`; a failure or a timeout becomes
/// `Unavailable` naming `what` was being done.
pub(crate) async fn within<T, E>(
    limit: Duration,
    what: impl Display,
    work: impl Future<Output = Result<T, E>>,
) -> Result<T, DomainError>
where
    E: Into<anyhow::Error>,
{
    match tokio::time::timeout(limit, work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(DomainError::Unavailable(error.into().context(format!("{what} failed")))),
        Err(_) => Err(unavailable(format!("{what} took longer than {limit:?}"))),
    }
}

pub(crate) fn unavailable(message: impl Display) -> DomainError {
    DomainError::unavailable(anyhow::anyhow!("{message}"))
}
