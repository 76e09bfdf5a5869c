//! Recovery's view of the store (SPEC §6): the requests waiting in linebacker,
//! their re-emission through the outbox, and the recovery lock.
//!
//! The lock is a session-level PostgreSQL advisory lock
//! (`pg_try_advisory_lock`) taken on a connection of its own, outside the
//! pool, and held for the whole pass: every receiver on the same database
//! competes for the same key, and if the holder dies its session ends and
//! PostgreSQL frees the lock. Should that connection break in the middle of a
//! pass, another receiver may start a pass of its own; the `updated_at` guard
//! of `reemit` still keeps a request re-emitted by the first from being
//! re-emitted by the second, unless the second started after that.

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use linebacker_domain::ports::{HeldLock, PendingRequests, RecoveryLock, Reemission, Waiting};
use linebacker_domain::{BackupRequest, BackupRequestId, DomainError, StatusTypeCode};
use sqlx::{Connection, PgConnection};
use tracing::instrument;

use crate::error::map_sqlx_error;
use crate::outbox::insert_events;
use crate::rows::{RequestRow, request_columns};
use crate::store::PgStore;

/// The advisory lock key of recovery ("lbrecovr" in ASCII). Advisory locks
/// are per database, so test databases on one server do not compete.
const RECOVERY_LOCK_KEY: i64 = 0x6c62_7265_636f_7672;

/// How long taking the lock may wait for its connection.
const LOCK_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The statuses recovery looks for, as the domain defines them.
fn pending_statuses() -> Vec<&'static str> {
    StatusTypeCode::ALL.iter().filter(|s| s.is_pending_in_linebacker()).map(|s| s.as_str()).collect()
}

#[async_trait]
impl PendingRequests for PgStore {
    async fn pending_before(
        &self,
        waiting: Waiting,
        cutoff: DateTime<Utc>,
        sent_before: Option<DateTime<Utc>>,
        after: Option<&BackupRequestId>,
        limit: u32,
    ) -> Result<Vec<BackupRequest>, DomainError> {
        sqlx::query_as::<_, RequestRow>(concat!(
            "SELECT ",
            request_columns!(),
            " FROM backup_requests r WHERE updated_at < $2 \
             AND (status_type_code = ANY($1) OR (status_type_code = 'Sent' AND reply_timestamp IS NULL \
                  AND sent_to_interface_timestamp < $5)) \
             AND ($3::text IS NULL OR backup_request_id > $3) \
             AND (NOT $6 OR NOT EXISTS (SELECT 1 FROM outbox o WHERE o.backup_request_id = r.backup_request_id)) \
             ORDER BY backup_request_id LIMIT $4"
        ))
        .bind(pending_statuses())
        .bind(cutoff)
        .bind(after.map(BackupRequestId::as_str))
        .bind(i64::from(limit))
        .bind(sent_before)
        .bind(waiting == Waiting::Stalled)
        .fetch_all(self.pool())
        .await
        .map_err(map_sqlx_error)?
        .into_iter()
        .map(BackupRequest::try_from)
        .collect()
    }

    #[instrument(skip_all, fields(count = batch.len()))]
    async fn reemit(
        &self,
        cutoff: DateTime<Utc>,
        batch: &[Reemission],
    ) -> Result<Vec<BackupRequestId>, DomainError> {
        let ids: Vec<&str> = batch.iter().map(|entry| entry.event.backup_request_id.as_str()).collect();
        let statuses: Vec<&str> = batch.iter().map(|entry| entry.expected.as_str()).collect();
        let mut tx = self.pool().begin().await.map_err(map_sqlx_error)?;
        // GREATEST: the touched row counts as changed after the cutoff even if
        // the database's clock is behind the receiver's.
        let touched: Vec<String> = sqlx::query_scalar(
            "UPDATE backup_requests r SET updated_at = GREATEST(now(), $3) \
             FROM unnest($1::text[], $2::text[]) AS b(id, status) \
             WHERE r.backup_request_id = b.id AND r.status_type_code = b.status AND r.updated_at < $3 \
             RETURNING r.backup_request_id",
        )
        .bind(&ids)
        .bind(&statuses)
        .bind(cutoff)
        .fetch_all(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        let touched: HashSet<String> = touched.into_iter().collect();
        let (events, done): (Vec<_>, Vec<_>) = batch
            .iter()
            .filter(|entry| touched.contains(entry.event.backup_request_id.as_str()))
            .map(|entry| (entry.event.clone(), entry.event.backup_request_id.clone()))
            .unzip();
        insert_events(&mut tx, &events).await?;
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(done)
    }
}

#[async_trait]
impl RecoveryLock for PgStore {
    async fn try_lock(&self) -> Result<Option<Box<dyn HeldLock>>, DomainError> {
        self.try_advisory_lock(RECOVERY_LOCK_KEY).await
    }
}

impl PgStore {
    /// Takes the session-level advisory lock `key` on a connection of its
    /// own, without waiting: `None` when another session holds it.
    pub(crate) async fn try_advisory_lock(&self, key: i64) -> Result<Option<Box<dyn HeldLock>>, DomainError> {
        let options = self.pool().connect_options();
        let mut connection = tokio::time::timeout(LOCK_CONNECT_TIMEOUT, PgConnection::connect_with(&options))
            .await
            .map_err(|_| DomainError::unavailable(anyhow::anyhow!("connecting for an advisory lock timed out")))?
            .map_err(map_sqlx_error)?;
        let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut connection)
            .await
            .map_err(map_sqlx_error)?;
        if taken {
            Ok(Some(Box::new(PgHeldLock { connection, key })))
        } else {
            let _ = connection.close().await;
            Ok(None)
        }
    }
}

/// The lock's own session: dropping it closes the connection, which frees
/// the lock on the server.
struct PgHeldLock {
    connection: PgConnection,
    key: i64,
}

#[async_trait]
impl HeldLock for PgHeldLock {
    async fn release(mut self: Box<Self>) {
        let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)").bind(self.key).execute(&mut self.connection).await;
        if let Err(error) = unlocked {
            tracing::warn!(error = %error, "unlocking an advisory lock failed; closing its session frees it");
        }
        let _ = self.connection.close().await;
    }
}
