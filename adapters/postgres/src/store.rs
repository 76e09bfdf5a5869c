//! `PgStore`: the backup request and Backup repositories. Every change is
//! written together with its events (the outbox) in one transaction.

use async_trait::async_trait;
use linebacker_domain::ports::{BackupRepository, BackupRequestRepository, Stored};
use linebacker_domain::request::{Backup, IdempotencyKey};
use linebacker_domain::{BackupRequest, BackupRequestId, DomainError, DomainEvent, StatusTypeCode};
use sqlx::{PgPool, Postgres, Transaction};
use tracing::instrument;

use crate::error::map_sqlx_error;
use crate::outbox::insert_events;
use crate::rows::{BackupRow, RequestRow, request_columns};

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    async fn begin(&self) -> Result<Transaction<'static, Postgres>, DomainError> {
        self.pool.begin().await.map_err(map_sqlx_error)
    }
}

async fn insert_request(tx: &mut Transaction<'_, Postgres>, r: &BackupRequest) -> Result<(), sqlx::Error> {
    sqlx::query(concat!(
        "INSERT INTO backup_requests (",
        request_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    ))
    .bind(r.backup_request_id.as_str())
    .bind(r.backup_job_id.as_str())
    .bind(r.data_date.date())
    .bind(r.prepared_data_path_name.as_str())
    .bind(r.status().as_str())
    .bind(r.transport_type_code.as_str())
    .bind(r.requester_id.as_str())
    .bind(r.backup_provider_code.as_str())
    .bind(r.storage_path_name.as_deref())
    .bind(r.received_timestamp)
    .bind(r.checked_timestamp)
    .bind(r.sent_to_interface_timestamp)
    .bind(r.reply_timestamp)
    .bind(r.reply_message_text.as_deref())
    .bind(r.not_allowed_reason.as_deref())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn find_request(
    executor: impl sqlx::PgExecutor<'_>,
    id: &str,
) -> Result<Option<BackupRequest>, DomainError> {
    sqlx::query_as::<_, RequestRow>(concat!(
        "SELECT ",
        request_columns!(),
        " FROM backup_requests WHERE backup_request_id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
    .map_err(map_sqlx_error)?
    .map(BackupRequest::try_from)
    .transpose()
}

#[async_trait]
impl BackupRequestRepository for PgStore {
    #[instrument(skip_all, fields(backup_request_id = %request.backup_request_id))]
    async fn create(
        &self,
        request: &BackupRequest,
        idempotency_key: Option<&IdempotencyKey>,
        events: &[DomainEvent],
    ) -> Result<Stored, DomainError> {
        let mut tx = self.begin().await?;
        insert_request(&mut tx, request).await.map_err(map_sqlx_error)?;
        if let Some(key) = idempotency_key {
            // A racing repeat waits here for the first to commit, then finds
            // the key taken: it rolls back and returns the original.
            let claimed = sqlx::query(
                "INSERT INTO idempotency_keys (requester_id, idempotency_key, backup_request_id) \
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(request.requester_id.as_str())
            .bind(key.as_str())
            .bind(request.backup_request_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx_error)?
            .rows_affected()
                == 1;
            if !claimed {
                tx.rollback().await.map_err(map_sqlx_error)?;
                let original: Option<String> = sqlx::query_scalar(
                    "SELECT backup_request_id FROM idempotency_keys \
                     WHERE requester_id = $1 AND idempotency_key = $2",
                )
                .bind(request.requester_id.as_str())
                .bind(key.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(map_sqlx_error)?;
                let original = match original {
                    Some(id) => find_request(&self.pool, &id).await?,
                    None => None,
                };
                return original.map(Stored::Existing).ok_or_else(|| {
                    DomainError::Unexpected(anyhow::anyhow!("idempotency key {key} names no request"))
                });
            }
        }
        insert_events(&mut tx, events).await.map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(Stored::Created)
    }

    async fn find(&self, id: &BackupRequestId) -> Result<Option<BackupRequest>, DomainError> {
        find_request(&self.pool, id.as_str()).await
    }

    #[instrument(skip_all, fields(backup_request_id = %request.backup_request_id, status = %request.status()))]
    async fn update(
        &self,
        request: &BackupRequest,
        expected: StatusTypeCode,
        events: &[DomainEvent],
    ) -> Result<(), DomainError> {
        let mut tx = self.begin().await?;
        let updated = sqlx::query(
            "UPDATE backup_requests SET status_type_code = $3, backup_provider_code = $4, \
             storage_path_name = $5, checked_timestamp = $6, sent_to_interface_timestamp = $7, \
             reply_timestamp = $8, reply_message_text = $9, not_allowed_reason = $10, updated_at = now() \
             WHERE backup_request_id = $1 AND status_type_code = $2",
        )
        .bind(request.backup_request_id.as_str())
        .bind(expected.as_str())
        .bind(request.status().as_str())
        .bind(request.backup_provider_code.as_str())
        .bind(request.storage_path_name.as_deref())
        .bind(request.checked_timestamp)
        .bind(request.sent_to_interface_timestamp)
        .bind(request.reply_timestamp)
        .bind(request.reply_message_text.as_deref())
        .bind(request.not_allowed_reason.as_deref())
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        if updated == 0 {
            let id = request.backup_request_id.to_string();
            return Err(match find_request(&mut *tx, &id).await? {
                None => DomainError::NotFound(id),
                Some(_) => DomainError::Conflict { id, expected },
            });
        }
        insert_events(&mut tx, events).await.map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)
    }
}

#[async_trait]
impl BackupRepository for PgStore {
    async fn find_by_request(&self, id: &BackupRequestId) -> Result<Option<Backup>, DomainError> {
        sqlx::query_as::<_, BackupRow>(
            "SELECT backup_id, backup_request_id, backup_job_id, data_date, backup_provider_code, \
             days_to_keep_count, hold_flag, storage_path_name, backup_byte_count, copy_start_timestamp, \
             copy_end_timestamp, verify_start_timestamp, verify_end_timestamp, verify_hash_text, \
             due_to_delete_date FROM backups WHERE backup_request_id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_sqlx_error)?
        .map(Backup::try_from)
        .transpose()
    }
}
