//! `linebacker-admin clients add|list|remove`: which clients (a bearer
//! token's `sub`) hold which scopes (SPEC §8). Output is JSON on stdout.
//! The receiver caches a client's scopes for `auth.client_cache_secs`, so a
//! change reaches running receivers within that time.

use clap::Subcommand;
use linebacker_domain::{ClientAuthorizations, Scope};
use linebacker_postgres::PgStore;
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client with its scopes (replacing what it held before).
    Add {
        /// The client id: the `sub` of the client's tokens.
        client_id: String,
        /// Comma-separated: post-backup-request, get-backup-request, read-health, operate.
        #[arg(long)]
        scopes: String,
        /// A note for operators: who the client is.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Every registered client with its scopes.
    List,
    /// Remove a client: its tokens are refused (403) once caches expire.
    Remove { client_id: String },
}

pub async fn run(store: &PgStore, command: ClientCommand) -> anyhow::Result<()> {
    match command {
        ClientCommand::Add { client_id, scopes, description } => {
            let client_id = client_id.trim().to_owned();
            if client_id.is_empty() {
                anyhow::bail!("the client id must not be empty");
            }
            let scopes = Scope::parse_list(&scopes)?;
            if scopes.is_empty() {
                anyhow::bail!("--scopes needs at least one of {}", Scope::valid_names());
            }
            store.put(&client_id, &scopes, &description).await?;
            print_json(&json!({ "clientId": client_id, "scopes": names(&scopes), "description": description }));
        }
        ClientCommand::List => {
            let clients: Vec<_> = store
                .list()
                .await?
                .into_iter()
                .map(|client| {
                    json!({
                        "clientId": client.client_id,
                        "scopes": names(&client.scopes),
                        "description": client.description,
                        "createdAt": client.created_at,
                    })
                })
                .collect();
            print_json(&json!({ "clients": clients }));
        }
        ClientCommand::Remove { client_id } => {
            if !store.remove(&client_id).await? {
                anyhow::bail!("no client {client_id:?} is registered");
            }
            print_json(&json!({ "clientId": client_id, "removed": true }));
        }
    }
    Ok(())
}

fn names(scopes: &[Scope]) -> Vec<&'static str> {
    scopes.iter().map(|scope| scope.as_str()).collect()
}

fn print_json(value: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string()));
}
