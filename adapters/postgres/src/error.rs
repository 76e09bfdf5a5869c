//! Translates sqlx errors into domain errors: what a retry can fix becomes
//! `Unavailable`, everything else `Unexpected`.

use linebacker_domain::DomainError;

/// SQLSTATEs that mean "try again later": connection exceptions (class 08),
/// the server shutting down or starting (57P01–57P03), too many connections,
/// serialization failures and deadlocks.
fn is_transient_sqlstate(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01")
}

pub fn map_sqlx_error(error: sqlx::Error) -> DomainError {
    let transient = match &error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| is_transient_sqlstate(&code)),
        _ => false,
    };
    if transient {
        DomainError::unavailable(anyhow::Error::new(error).context("database unavailable"))
    } else {
        DomainError::Unexpected(anyhow::Error::new(error))
    }
}
