//! Clients and their scopes (SPEC §8): who may do what at the HTTP edge.
//!
//! A client is the issuer and the `sub` of a bearer token: two issuers'
//! equal subjects are two clients. An operator grants a client scopes with
//! `linebacker-admin clients add`; the receiver asks the
//! `ClientAuthorizations` port for a caller's scopes.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::DomainError;

/// What a client may do. The spelling of each scope is part of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// POST a backup request.
    PostBackupRequest,
    /// GET, list and history of the caller's own requests; cancel its own.
    GetBackupRequest,
    /// `healthz/all`, the receiver's `/metrics`, listing dead letters, and
    /// reading every requester's requests.
    ReadHealth,
    /// Replaying and purging dead letters, recovery, cancelling any request.
    Operate,
}

impl Scope {
    pub const ALL: &'static [Scope] =
        &[Self::PostBackupRequest, Self::GetBackupRequest, Self::ReadHealth, Self::Operate];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PostBackupRequest => "post-backup-request",
            Self::GetBackupRequest => "get-backup-request",
            Self::ReadHealth => "read-health",
            Self::Operate => "operate",
        }
    }

    /// Every scope's name, comma-separated, for messages.
    pub fn valid_names() -> String {
        Self::ALL.iter().map(|scope| scope.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// Parses a comma-separated list (`a,b`), refusing the whole list at the
    /// first unknown name. Blank items are ignored.
    pub fn parse_list(list: &str) -> Result<Vec<Scope>, UnknownScope> {
        let mut scopes: Vec<Scope> = Vec::new();
        for name in list.split(',').map(str::trim).filter(|name| !name.is_empty()) {
            let scope = name.parse()?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        scopes.sort();
        Ok(scopes)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scope name that is not one of `Scope::ALL`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope {name:?}; valid scopes are {}", Scope::valid_names())]
pub struct UnknownScope {
    pub name: String,
}

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|scope| scope.as_str() == name)
            .ok_or_else(|| UnknownScope { name: name.to_owned() })
    }
}

/// The issuer of clients registered before clients had one: such a client
/// stands for its subject under any issuer while exactly one is configured.
pub const UNASSIGNED_ISSUER: &str = "";

/// One client as stored: its issuer, its id (the `sub` of the issuer's
/// tokens), its scopes and a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAuthorization {
    /// `UNASSIGNED_ISSUER` for a client registered before issuers were kept.
    pub issuer: String,
    pub client_id: String,
    pub scopes: Vec<Scope>,
    pub description: String,
    pub created_at: DateTime<Utc>,
}

/// The clients an operator registered and the scopes each holds.
#[async_trait]
pub trait ClientAuthorizations: Send + Sync {
    /// The scopes of the client `client_id` of `issuer` exactly (no other
    /// issuer's client of the same id), or `None` when no such client is
    /// registered. A stored scope name this version does not know MUST be
    /// skipped (never granted), not fail the lookup. MUST return
    /// `Unavailable` when the store cannot be reached.
    async fn scopes_of(&self, issuer: &str, client_id: &str) -> Result<Option<Vec<Scope>>, DomainError>;

    /// Registers `client_id` of `issuer` with exactly `scopes` and
    /// `description`, replacing what an earlier call stored for that pair.
    async fn put(&self, issuer: &str, client_id: &str, scopes: &[Scope], description: &str) -> Result<(), DomainError>;

    /// Every registered client, ordered by id, then issuer.
    async fn list(&self) -> Result<Vec<ClientAuthorization>, DomainError>;

    /// Removes `client_id` of `issuer`; MUST return `false` when that pair
    /// was not registered.
    async fn remove(&self, issuer: &str, client_id: &str) -> Result<bool, DomainError>;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_scope_parses_from_its_own_name() {
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>().unwrap(), *scope);
        }
    }

    #[test]
    fn an_unknown_scope_is_refused_with_the_valid_names() {
        let error = Scope::parse_list("read-health, admin").unwrap_err();
        assert_eq!(error.name, "admin");
        assert_eq!(
            error.to_string(),
            "unknown scope \"admin\"; valid scopes are post-backup-request, get-backup-request, read-health, operate"
        );
    }

    #[test]
    fn a_list_of_scopes_loses_blanks_and_repeats() {
        let scopes = Scope::parse_list("operate,, read-health,operate").unwrap();
        assert_eq!(scopes, vec![Scope::ReadHealth, Scope::Operate]);
    }
}
