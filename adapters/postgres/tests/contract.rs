//! The contract suites of the storage ports (`linebacker_domain::testing::
//! contract`) against PgStore: every check on a database of its own.

mod common;

use async_trait::async_trait;
use linebacker_domain::MessageId;
use linebacker_domain::testing::contract::Subject;
use linebacker_postgres::{Database, PgStore};

struct Pg(Database);

async fn fresh() -> Pg {
    Pg(common::migrated_database(12).await)
}

#[async_trait]
impl Subject for Pg {
    type Store = PgStore;

    fn acting_as(&self, instance: &str) -> PgStore {
        self.0.store_of(instance)
    }

    fn unreachable(&self) -> PgStore {
        common::unreachable_database().store()
    }

    async fn outbox(&self) -> Vec<MessageId> {
        let ids: Vec<uuid::Uuid> =
            sqlx::query_scalar("SELECT message_id FROM outbox ORDER BY id").fetch_all(self.0.pool()).await.unwrap();
        ids.into_iter().map(MessageId::from).collect()
    }

    async fn relay_outbox(&self) {
        sqlx::query("DELETE FROM outbox").execute(self.0.pool()).await.unwrap();
    }
}

linebacker_domain::contract_suites!(
    fresh: backup_request_repository,
    backup_request_queries,
    backup_repository,
    pending_requests,
    request_retention,
    recovery_lock,
    request_traces,
);
