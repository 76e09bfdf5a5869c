//! `PgStore`: the backup request and Backup repositories. Every change is
//! written together with its events (the outbox) and, when the status
//! changes, its history row, in one transaction.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use linebacker_domain::ports::{BackupRepository, BackupRequestRepository, HeldRequest, Stored};
use linebacker_domain::request::{Backup, IdempotencyKey};
use linebacker_domain::{BackupRequest, BackupRequestId, DomainError, DomainEvent, StatusTypeCode, TraceParent};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use tracing::instrument;

use crate::error::map_sqlx_error;
use crate::group_commit::GroupCommit;
use crate::outbox::{OutboxRows, outbox_rows};
use crate::rows::{BackupRow, RequestRow, request_columns};

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// The process instance the history names for every change made here.
    by: Arc<str>,
    /// The writers of new requests, started with the first (`create`).
    group_commit: Arc<OnceLock<GroupCommit>>,
}

impl PgStore {
    /// A store whose changes the history attributes to `unnamed`, until
    /// `acting_as` names the process instance.
    pub fn new(pool: PgPool) -> Self {
        Self { pool, by: Arc::from("unnamed"), group_commit: Arc::default() }
    }

    /// The same store, naming `instance` (`check-allowed-0`) in the history.
    pub fn acting_as(mut self, instance: &str) -> Self {
        self.by = Arc::from(instance);
        self
    }

    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn begin(&self) -> Result<Transaction<'static, Postgres>, DomainError> {
        self.pool.begin().await.map_err(map_sqlx_error)
    }
}

/// A request to store as new: the trace it is received under
/// (`trace_parent`), the process instance its first history row names, and
/// its events.
pub(crate) struct NewRequest<'a> {
    pub request: &'a BackupRequest,
    pub trace: Option<&'a TraceParent>,
    pub by: &'a str,
    pub events: &'a [DomainEvent],
}

/// Inserts new requests with their first history rows and their events, in
/// one statement (one round trip, atomic on its own, whatever their number).
pub(crate) async fn insert_requests(executor: impl sqlx::PgExecutor<'_>, new: &[NewRequest<'_>]) -> Result<(), DomainError> {
    let requests: Vec<&BackupRequest> = new.iter().map(|n| n.request).collect();
    let column = |value: fn(&BackupRequest) -> Option<String>| requests.iter().map(|r| value(r)).collect::<Vec<_>>();
    let events: Vec<DomainEvent> = new.iter().flat_map(|n| n.events.iter().cloned()).collect();
    let query = sqlx::query(concat!(
        "WITH request AS (INSERT INTO backup_requests (",
        request_columns!(),
        ", trace_parent) SELECT * FROM unnest($1::text[], $2::text[], $3::date[], $4::text[], $5::text[], \
         $6::text[], $7::text[], $8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[], $12::timestamptz[], \
         $13::timestamptz[], $14::text[], $15::text[], $16::int4[], $17::bool[], $18::text[]) \
         RETURNING backup_request_id, status_type_code), \
         changed_by AS (SELECT * FROM unnest($1::text[], $19::text[]) AS c (backup_request_id, changed_by)), \
         history AS (INSERT INTO backup_request_history (backup_request_id, status_type_code, changed_by) \
         SELECT request.backup_request_id, request.status_type_code, changed_by.changed_by \
         FROM request JOIN changed_by USING (backup_request_id)) ",
        outbox_rows!(20, 21, 22, 23, 24)
    ))
    .bind(column(|r| Some(r.backup_request_id().to_string())))
    .bind(column(|r| Some(r.backup_job_id().to_string())))
    .bind(requests.iter().map(|r| r.data_date().date()).collect::<Vec<_>>())
    .bind(column(|r| Some(r.prepared_data_path_name().to_string())))
    .bind(column(|r| Some(r.status().as_str().to_owned())))
    .bind(column(|r| Some(r.transport_type_code().as_str().to_owned())))
    .bind(column(|r| Some(r.requester_id().as_str().to_owned())))
    .bind(column(|r| Some(r.backup_provider_code().as_str().to_owned())))
    .bind(column(|r| r.storage_path_name().map(str::to_owned)))
    .bind(requests.iter().map(|r| r.received_timestamp()).collect::<Vec<_>>())
    .bind(requests.iter().map(|r| r.checked_timestamp()).collect::<Vec<_>>())
    .bind(requests.iter().map(|r| r.sent_to_interface_timestamp()).collect::<Vec<_>>())
    .bind(requests.iter().map(|r| r.reply_timestamp()).collect::<Vec<_>>())
    .bind(column(|r| r.reply_message_text().map(str::to_owned)))
    .bind(column(|r| r.not_allowed_reason().map(str::to_owned)))
    .bind(requests.iter().map(|r| r.retention().map(|t| days_column(t.days_to_keep))).collect::<Vec<_>>())
    .bind(requests.iter().map(|r| r.retention().map(|t| t.hold_flag)).collect::<Vec<_>>())
    .bind(new.iter().map(|n| n.trace.map(ToString::to_string)).collect::<Vec<_>>())
    .bind(new.iter().map(|n| n.by.to_owned()).collect::<Vec<_>>());
    OutboxRows::of(&events)?.bind(query).execute(executor).await.map_err(map_sqlx_error)?;
    Ok(())
}

/// The stored form of a day count (the column is an `integer`).
fn days_column(days: u32) -> i32 {
    i32::try_from(days).unwrap_or(i32::MAX)
}

/// Adds a status change to the request's history.
pub(crate) async fn record_change(
    tx: &mut Transaction<'_, Postgres>,
    id: &str,
    status: StatusTypeCode,
    by: &str,
    detail: Option<&str>,
) -> Result<(), DomainError> {
    sqlx::query(
        "INSERT INTO backup_request_history (backup_request_id, status_type_code, changed_by, detail)          VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(by)
    .bind(detail)
    .execute(&mut **tx)
    .await
    .map_err(map_sqlx_error)?;
    Ok(())
}

/// Applies a request's step with its events, if its stored status is still
/// `expected`, and records the change in its history when the status
/// changes: one statement, so one round trip inside or outside a
/// transaction.
async fn update_request(
    connection: &mut PgConnection,
    request: &BackupRequest,
    expected: StatusTypeCode,
    by: &str,
    events: &[DomainEvent],
) -> Result<(), DomainError> {
    let events = OutboxRows::of(events)?;
    let query = sqlx::query_scalar::<_, i64>(concat!(
        "WITH changed AS (UPDATE backup_requests SET status_type_code = $3, backup_provider_code = $4, \
         storage_path_name = $5, checked_timestamp = $6, sent_to_interface_timestamp = $7, \
         reply_timestamp = $8, reply_message_text = $9, not_allowed_reason = $10, \
         days_to_keep_count = $11, hold_flag = $12, updated_at = now() \
         WHERE backup_request_id = $1 AND status_type_code = $2 RETURNING backup_request_id), \
         history AS (INSERT INTO backup_request_history (backup_request_id, status_type_code, changed_by, detail) \
         SELECT backup_request_id, $3, $13, $14 FROM changed WHERE $15), \
         events AS (",
        outbox_rows!(16, 17, 18, 19, 20),
        " WHERE EXISTS (SELECT 1 FROM changed)) \
         SELECT count(*) FROM changed"
    ))
    .bind(request.backup_request_id().as_str())
    .bind(expected.as_str())
    .bind(request.status().as_str())
    .bind(request.backup_provider_code().as_str())
    .bind(request.storage_path_name())
    .bind(request.checked_timestamp())
    .bind(request.sent_to_interface_timestamp())
    .bind(request.reply_timestamp())
    .bind(request.reply_message_text())
    .bind(request.not_allowed_reason())
    .bind(request.retention().map(|t| days_column(t.days_to_keep)))
    .bind(request.retention().map(|t| t.hold_flag))
    .bind(by)
    .bind(request.status_detail())
    .bind(request.status() != expected);
    let updated = events.bind_scalar(query).fetch_one(&mut *connection).await.map_err(map_sqlx_error)?;
    if updated == 1 {
        return Ok(());
    }
    let id = request.backup_request_id().to_string();
    Err(match find_request(&mut *connection, &id).await? {
        None => DomainError::NotFound(id),
        Some(_) => DomainError::Conflict { id, expected },
    })
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
    #[instrument(skip_all, fields(backup_request_id = %request.backup_request_id()))]
    async fn create(
        &self,
        request: &BackupRequest,
        idempotency_key: Option<&IdempotencyKey>,
        events: &[DomainEvent],
    ) -> Result<Stored, DomainError> {
        // The request's trace is the one its `BackupRequestReceived` carries.
        let trace = events.iter().find_map(|event| event.traceparent.as_ref());
        let Some(key) = idempotency_key else {
            // Without a key the statement is the whole change, so requests
            // arriving together can share it and its commit.
            let group = self.group_commit.get_or_init(|| GroupCommit::start(self.pool.clone()));
            group.create(request, trace, &self.by, events).await?;
            return Ok(Stored::Created);
        };
        let mut tx = self.begin().await?;
        insert_requests(&mut *tx, &[NewRequest { request, trace, by: &self.by, events }]).await?;
        {
            // A racing repeat waits here for the first to commit, then finds
            // the key taken: it rolls back and returns the original.
            let claimed = sqlx::query(
                "INSERT INTO idempotency_keys (requester_id, idempotency_key, backup_request_id) \
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(request.requester_id().as_str())
            .bind(key.as_str())
            .bind(request.backup_request_id().as_str())
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
                .bind(request.requester_id().as_str())
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
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(Stored::Created)
    }

    async fn find(&self, id: &BackupRequestId) -> Result<Option<BackupRequest>, DomainError> {
        find_request(&self.pool, id.as_str()).await
    }

    #[instrument(skip_all, fields(backup_request_id = %request.backup_request_id(), status = %request.status()))]
    async fn update(
        &self,
        request: &BackupRequest,
        expected: StatusTypeCode,
        events: &[DomainEvent],
    ) -> Result<(), DomainError> {
        let mut connection = self.pool.acquire().await.map_err(map_sqlx_error)?;
        update_request(&mut connection, request, expected, &self.by, events).await
    }

    /// `SELECT ... FOR UPDATE` in a transaction kept open until the hold is
    /// saved or dropped: a cancel's conditional `UPDATE` of the row waits
    /// for it, then re-reads the row as the hold committed it.
    #[instrument(skip_all, fields(backup_request_id = %id))]
    async fn hold(&self, id: &BackupRequestId) -> Result<Option<Box<dyn HeldRequest>>, DomainError> {
        let mut tx = self.begin().await?;
        let request = sqlx::query_as::<_, RequestRow>(concat!(
            "SELECT ",
            request_columns!(),
            " FROM backup_requests WHERE backup_request_id = $1 FOR UPDATE"
        ))
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx_error)?
        .map(BackupRequest::try_from)
        .transpose()?;
        Ok(request.map(|request| Box::new(PgHeld { tx, request, by: self.by.clone() }) as Box<dyn HeldRequest>))
    }

    #[instrument(skip_all, fields(backup_request_id = %id))]
    async fn cancel(&self, id: &BackupRequestId, detail: &str) -> Result<Option<BackupRequest>, DomainError> {
        let cancellable: Vec<&str> = StatusTypeCode::CANCELLABLE.iter().map(|status| status.as_str()).collect();
        let mut tx = self.begin().await?;
        // Under READ COMMITTED, an UPDATE that meets a row locked by a hold
        // waits for it, then evaluates the WHERE again on the committed row.
        let cancelled = sqlx::query_as::<_, RequestRow>(concat!(
            "UPDATE backup_requests SET status_type_code = $3, updated_at = now()              WHERE backup_request_id = $1 AND status_type_code = ANY($2) RETURNING ",
            request_columns!()
        ))
        .bind(id.as_str())
        .bind(&cancellable)
        .bind(StatusTypeCode::Cancelled.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx_error)?
        .map(BackupRequest::try_from)
        .transpose()?;
        if cancelled.is_some() {
            record_change(&mut tx, id.as_str(), StatusTypeCode::Cancelled, &self.by, Some(detail)).await?;
        }
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(cancelled)
    }
}

/// A request row locked by `PgStore::hold`. Dropping it rolls back, which
/// releases the lock.
struct PgHeld {
    tx: Transaction<'static, Postgres>,
    request: BackupRequest,
    by: Arc<str>,
}

#[async_trait]
impl HeldRequest for PgHeld {
    fn request(&self) -> &BackupRequest {
        &self.request
    }

    async fn save(self: Box<Self>, request: &BackupRequest, events: &[DomainEvent]) -> Result<(), DomainError> {
        let PgHeld { mut tx, request: held, by } = *self;
        update_request(&mut tx, request, held.status(), &by, events).await?;
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

    #[instrument(skip_all, fields(backup_request_id = %request.backup_request_id()))]
    async fn record_backup(
        &self,
        backup: &Backup,
        request: &BackupRequest,
        expected: StatusTypeCode,
        events: &[DomainEvent],
    ) -> Result<(), DomainError> {
        let mut tx = self.begin().await?;
        update_request(&mut tx, request, expected, &self.by, events).await?;
        let inserted = sqlx::query(
            "INSERT INTO backups (backup_id, backup_request_id, backup_job_id, data_date, \
             backup_provider_code, days_to_keep_count, hold_flag, storage_path_name, backup_byte_count, \
             copy_start_timestamp, copy_end_timestamp, verify_start_timestamp, verify_end_timestamp, \
             verify_hash_text, due_to_delete_date) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
             ON CONFLICT (backup_request_id) DO NOTHING",
        )
        .bind(&backup.backup_id)
        .bind(backup.backup_request_id.as_str())
        .bind(backup.backup_job_id.as_str())
        .bind(backup.data_date.date())
        .bind(backup.backup_provider_code.as_str())
        .bind(backup.days_to_keep_count)
        .bind(backup.hold_flag)
        .bind(&backup.storage_path_name)
        .bind(backup.backup_byte_count)
        .bind(backup.copy_start_timestamp)
        .bind(backup.copy_end_timestamp)
        .bind(backup.verify_start_timestamp)
        .bind(backup.verify_end_timestamp)
        .bind(backup.verify_hash_text.as_deref())
        .bind(backup.due_to_delete_date)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        if inserted == 0 {
            // Another reply recorded the Backup first: nothing of this one lands.
            tx.rollback().await.map_err(map_sqlx_error)?;
            return Err(DomainError::Conflict { id: request.backup_request_id().to_string(), expected });
        }
        tx.commit().await.map_err(map_sqlx_error)
    }
}
