//! `client_authorizations` (SPEC §8): the scopes of each client (an issuer
//! and a subject), read by the receiver for every token it has not cached
//! and managed with `linebacker-admin clients`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use linebacker_domain::client::{ClientAuthorization, ClientAuthorizations, Scope};
use linebacker_domain::DomainError;
use tracing::instrument;

use crate::error::map_sqlx_error;
use crate::store::PgStore;

/// Known scope names; a name this version does not know is never granted.
fn known_scopes(client_id: &str, names: Vec<String>) -> Vec<Scope> {
    names
        .into_iter()
        .filter_map(|name| match name.parse() {
            Ok(scope) => Some(scope),
            Err(_) => {
                tracing::warn!(client_id, scope = %name, "ignoring an unknown scope stored for a client");
                None
            }
        })
        .collect()
}

#[async_trait]
impl ClientAuthorizations for PgStore {
    #[instrument(skip(self))]
    async fn scopes_of(&self, issuer: &str, client_id: &str) -> Result<Option<Vec<Scope>>, DomainError> {
        let names: Option<Vec<String>> =
            sqlx::query_scalar("SELECT scopes FROM client_authorizations WHERE issuer = $1 AND client_id = $2")
                .bind(issuer)
                .bind(client_id)
                .fetch_optional(self.pool())
                .await
                .map_err(map_sqlx_error)?;
        Ok(names.map(|names| known_scopes(client_id, names)))
    }

    #[instrument(skip(self))]
    async fn put(&self, issuer: &str, client_id: &str, scopes: &[Scope], description: &str) -> Result<(), DomainError> {
        let names: Vec<&str> = scopes.iter().map(|scope| scope.as_str()).collect();
        sqlx::query(
            "INSERT INTO client_authorizations (issuer, client_id, scopes, description) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (issuer, client_id) DO UPDATE SET scopes = EXCLUDED.scopes, description = EXCLUDED.description",
        )
        .bind(issuer)
        .bind(client_id)
        .bind(&names)
        .bind(description)
        .execute(self.pool())
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }

    #[instrument(skip(self))]
    async fn list(&self) -> Result<Vec<ClientAuthorization>, DomainError> {
        let rows: Vec<(String, String, Vec<String>, String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT issuer, client_id, scopes, description, created_at FROM client_authorizations \
             ORDER BY client_id, issuer",
        )
        .fetch_all(self.pool())
        .await
        .map_err(map_sqlx_error)?;
        Ok(rows
            .into_iter()
            .map(|(issuer, client_id, scopes, description, created_at)| ClientAuthorization {
                scopes: known_scopes(&client_id, scopes),
                issuer,
                client_id,
                description,
                created_at,
            })
            .collect())
    }

    #[instrument(skip(self))]
    async fn remove(&self, issuer: &str, client_id: &str) -> Result<bool, DomainError> {
        let removed = sqlx::query("DELETE FROM client_authorizations WHERE issuer = $1 AND client_id = $2")
            .bind(issuer)
            .bind(client_id)
            .execute(self.pool())
            .await
            .map_err(map_sqlx_error)?;
        Ok(removed.rows_affected() > 0)
    }
}
