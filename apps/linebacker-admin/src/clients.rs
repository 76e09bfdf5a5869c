//! `linebacker-admin clients add|list|remove`: which clients (a bearer
//! token's issuer and `sub`) hold which scopes (SPEC §8). Output is JSON on
//! stdout. The receiver caches a client's scopes for
//! `auth.client_cache_secs`, so a change reaches running receivers within
//! that time.
//!
//! `--issuer` may be left out while exactly one issuer is configured
//! (`auth.issuers`): it is that one. Then `add` and `remove` also take the
//! place of the client's row from before issuers were kept, which the
//! receiver grants under that one issuer only
//! (migrations/20261204190001_client_issuer.sql).

use clap::Subcommand;
use linebacker_domain::client::UNASSIGNED_ISSUER;
use linebacker_domain::{ClientAuthorizations, Scope};
use linebacker_postgres::PgStore;
use linebacker_runtime::settings::AuthSettings;
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client with its scopes (replacing what it held before).
    Add {
        /// The client id: the `sub` of the client's tokens.
        client_id: String,
        /// The `iss` of the client's tokens, one of auth.issuers; optional
        /// when exactly one issuer is configured.
        #[arg(long)]
        issuer: Option<String>,
        /// Comma-separated: post-backup-request, get-backup-request, read-health, operate.
        #[arg(long)]
        scopes: String,
        /// A note for operators: who the client is.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Every registered client with its issuer and scopes.
    List,
    /// Remove a client: its tokens are refused (403) once caches expire.
    Remove {
        client_id: String,
        /// The `iss` of the client's tokens; optional when exactly one
        /// issuer is configured.
        #[arg(long)]
        issuer: Option<String>,
    },
}

pub async fn run(store: &PgStore, auth: &AuthSettings, command: ClientCommand) -> anyhow::Result<()> {
    match command {
        ClientCommand::Add { client_id, issuer, scopes, description } => {
            let client_id = client_id.trim().to_owned();
            if client_id.is_empty() {
                anyhow::bail!("the client id must not be empty");
            }
            let issuer = issuer_of(auth, issuer)?;
            let scopes = Scope::parse_list(&scopes)?;
            if scopes.is_empty() {
                anyhow::bail!("--scopes needs at least one of {}", Scope::valid_names());
            }
            store.put(&issuer, &client_id, &scopes, &description).await?;
            if single_issuer(auth).is_some() {
                store.remove(UNASSIGNED_ISSUER, &client_id).await?;
            }
            print_json(&json!({
                "issuer": issuer,
                "clientId": client_id,
                "scopes": names(&scopes),
                "description": description,
            }));
        }
        ClientCommand::List => {
            let clients: Vec<_> = store
                .list()
                .await?
                .into_iter()
                .map(|client| {
                    json!({
                        // null: registered before issuers were kept.
                        "issuer": (client.issuer != UNASSIGNED_ISSUER).then_some(client.issuer),
                        "clientId": client.client_id,
                        "scopes": names(&client.scopes),
                        "description": client.description,
                        "createdAt": client.created_at,
                    })
                })
                .collect();
            print_json(&json!({ "clients": clients }));
        }
        ClientCommand::Remove { client_id, issuer } => {
            let issuer = issuer_of(auth, issuer)?;
            let mut removed = store.remove(&issuer, &client_id).await?;
            if single_issuer(auth).is_some() {
                removed |= store.remove(UNASSIGNED_ISSUER, &client_id).await?;
            }
            if !removed {
                anyhow::bail!("no client {client_id:?} of issuer {issuer:?} is registered");
            }
            print_json(&json!({ "issuer": issuer, "clientId": client_id, "removed": true }));
        }
    }
    Ok(())
}

/// The only configured issuer, if there is exactly one.
fn single_issuer(auth: &AuthSettings) -> Option<&str> {
    match auth.issuers.as_slice() {
        [only] => Some(only.issuer.as_str()),
        _ => None,
    }
}

/// The issuer `--issuer` names, or the only configured one. One that is not
/// configured is refused (a typo would register a client no token matches),
/// unless none is configured at all (registering ahead of turning auth on).
fn issuer_of(auth: &AuthSettings, named: Option<String>) -> anyhow::Result<String> {
    let configured: Vec<&str> = auth.issuers.iter().map(|issuer| issuer.issuer.as_str()).collect();
    let Some(named) = named.map(|issuer| issuer.trim().to_owned()) else {
        return single_issuer(auth).map(str::to_owned).ok_or_else(|| {
            anyhow::anyhow!(
                "--issuer is required: auth.issuers names {} issuers{}",
                configured.len(),
                if configured.is_empty() { String::new() } else { format!(" ({})", configured.join(", ")) }
            )
        });
    };
    if named.is_empty() {
        anyhow::bail!("--issuer must not be empty");
    }
    if !configured.is_empty() && !configured.contains(&named.as_str()) {
        anyhow::bail!("--issuer {named:?} is not one of auth.issuers ({})", configured.join(", "));
    }
    Ok(named)
}

fn names(scopes: &[Scope]) -> Vec<&'static str> {
    scopes.iter().map(|scope| scope.as_str()).collect()
}

fn print_json(value: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string()));
}
