//! The transactional outbox (SPEC §4). Use cases write events into `outbox`
//! in the transaction of their state change; the relay gets them into the
//! broker: it locks a batch (`FOR UPDATE SKIP LOCKED`, so several relays share
//! the work without taking the same row), publishes it with publisher
//! confirms, and deletes the rows only once the broker confirmed them. If the
//! broker does not confirm, the transaction rolls back and the rows stay for
//! the next pass: an event can be published again after a crash between
//! confirm and commit (consumers are idempotent), but never lost.
//!
//! The relay never retries tasks; it only moves events into the broker.

use std::sync::Arc;
use std::time::Duration;

use linebacker_domain::backoff::Backoff;
use linebacker_domain::ports::MessageBus;
use linebacker_domain::{DomainError, DomainEvent, TraceParent};
use sqlx::postgres::PgListener;
use sqlx::{Postgres, Transaction};
use tokio_util::sync::CancellationToken;

use crate::Database;
use crate::error::map_sqlx_error;

/// The channel the outbox trigger notifies on commit.
const CHANNEL: &str = "linebacker_outbox";

type Query<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;
type QueryScalar<'q, T> = sqlx::query::QueryScalar<'q, Postgres, T, sqlx::postgres::PgArguments>;

/// Events as the columns of outbox rows: bound as arrays, so that one
/// statement writes any number of them (`INSERT_EVENTS`, or the
/// `events` part of a statement that changes a request with them).
pub(crate) struct OutboxRows {
    message_ids: Vec<uuid::Uuid>,
    event_types: Vec<&'static str>,
    request_ids: Vec<String>,
    payloads: Vec<String>,
    traceparents: Vec<Option<String>>,
}

impl OutboxRows {
    pub(crate) fn of(events: &[DomainEvent]) -> Result<Self, DomainError> {
        let payloads = events
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<_, _>>()
            .map_err(|error| DomainError::Unexpected(anyhow::anyhow!("an event does not serialize: {error}")))?;
        Ok(Self {
            message_ids: events.iter().map(|e| e.message_id.as_uuid()).collect(),
            event_types: events.iter().map(|e| e.event_type.name()).collect(),
            request_ids: events.iter().map(|e| e.backup_request_id.to_string()).collect(),
            payloads,
            traceparents: events.iter().map(|e| e.traceparent.as_ref().map(ToString::to_string)).collect(),
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.message_ids.is_empty()
    }

    /// Binds the five arrays, in the order of `outbox_rows!`'s parameters.
    pub(crate) fn bind(self, query: Query<'_>) -> Query<'_> {
        query.bind(self.message_ids).bind(self.event_types).bind(self.request_ids).bind(self.payloads).bind(self.traceparents)
    }

    /// `bind`, for a statement that answers one value.
    pub(crate) fn bind_scalar<T>(self, query: QueryScalar<'_, T>) -> QueryScalar<'_, T> {
        query.bind(self.message_ids).bind(self.event_types).bind(self.request_ids).bind(self.payloads).bind(self.traceparents)
    }
}

/// The outbox rows of `OutboxRows` bound from parameter `$a` on, as the
/// rows a `SELECT` yields.
macro_rules! outbox_rows {
    ($a:literal, $b:literal, $c:literal, $d:literal, $e:literal) => {
        concat!(
            "INSERT INTO outbox (message_id, event_type, backup_request_id, payload, traceparent) \
             SELECT * FROM unnest($", $a, "::uuid[], $", $b, "::text[], $", $c, "::text[], $", $d,
            "::text[]::jsonb[], $", $e, "::text[])"
        )
    };
}
pub(crate) use outbox_rows;

/// Writes `events` into the outbox inside the caller's transaction, in one
/// statement.
pub(crate) async fn insert_events(tx: &mut Transaction<'_, Postgres>, events: &[DomainEvent]) -> Result<(), DomainError> {
    let rows = OutboxRows::of(events)?;
    if rows.is_empty() {
        return Ok(());
    }
    rows.bind(sqlx::query(outbox_rows!(1, 2, 3, 4, 5))).execute(&mut **tx).await.map_err(map_sqlx_error)?;
    Ok(())
}

pub struct RelayConfig {
    pub batch_size: u32,
    /// The safety-net poll, for notifications missed while disconnected.
    pub poll_interval: Duration,
}

/// Told about every batch the broker confirmed (for metrics: how many, and
/// how long after they occurred).
pub type PublishedObserver = Arc<dyn Fn(&[DomainEvent]) + Send + Sync>;

pub struct OutboxRelay {
    database: Database,
    bus: Arc<dyn MessageBus>,
    config: RelayConfig,
    observer: Option<PublishedObserver>,
}

/// How long the relay waits after a failed pass: doubling up to a cap, so a
/// broker outage costs a few attempts a minute, not a busy loop.
const BACKOFF_START: Duration = Duration::from_millis(200);
const BACKOFF_CAP: Duration = Duration::from_secs(10);

impl OutboxRelay {
    pub fn new(database: Database, bus: Arc<dyn MessageBus>, config: RelayConfig) -> Self {
        Self { database, bus, config, observer: None }
    }

    /// Tells `observer` about every batch once it is published and deleted.
    #[must_use]
    pub fn observing(mut self, observer: PublishedObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// One pass: publishes up to `batch_size` pending events and deletes the
    /// confirmed ones. Returns how many it published.
    pub async fn publish_pending(&self) -> Result<usize, DomainError> {
        // Every relay hears every commit, and most find the events taken by
        // another: one round trip tells them so, instead of a transaction's
        // three.
        let pending: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM outbox)")
            .fetch_one(self.database.pool())
            .await
            .map_err(map_sqlx_error)?;
        if !pending {
            return Ok(0);
        }
        let mut tx = self.database.pool().begin().await.map_err(map_sqlx_error)?;
        let rows: Vec<(i64, String, Option<String>)> = sqlx::query_as(
            "SELECT id, payload::text, traceparent FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(i64::from(self.config.batch_size))
        .fetch_all(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        if rows.is_empty() {
            return Ok(0);
        }
        let (ids, events): (Vec<i64>, Vec<DomainEvent>) = rows
            .into_iter()
            .map(|(id, payload, traceparent)| {
                // Only linebacker writes the outbox: a row that does not
                // read back was corrupted outside it.
                let mut event = DomainEvent::from_json(payload.as_bytes())
                    .map_err(|malformed| DomainError::Unexpected(anyhow::anyhow!("outbox row {id}: {malformed}")))?;
                event.traceparent = traceparent.as_deref().and_then(TraceParent::parse);
                Ok((id, event))
            })
            .collect::<Result<Vec<_>, DomainError>>()?
            .into_iter()
            .unzip();
        self.bus.publish(&events).await?;
        sqlx::query("DELETE FROM outbox WHERE id = ANY($1)")
            .bind(&ids)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)?;
        tracing::debug!(count = ids.len(), "outbox events published");
        if let Some(observer) = &self.observer {
            observer(&events);
        }
        Ok(ids.len())
    }

    /// Publishes until a pass finds less than a full batch.
    async fn drain(&self) -> Result<(), DomainError> {
        while self.publish_pending().await? >= self.config.batch_size as usize {}
        Ok(())
    }

    /// Publishes pending events whenever some are committed (LISTEN/NOTIFY)
    /// and at every poll interval, until `shutdown` is cancelled; then makes a
    /// last pass bounded by `flush_deadline` and returns.
    pub async fn run(self, shutdown: CancellationToken, flush_deadline: Duration) {
        let mut listener: Option<PgListener> = None;
        let mut backoff = Backoff::new(BACKOFF_START, BACKOFF_CAP);
        while !shutdown.is_cancelled() {
            if listener.is_none() {
                listener = self.listen().await;
            }
            let pause = match self.drain().await {
                Ok(()) => {
                    backoff.reset();
                    self.config.poll_interval
                }
                Err(error) => {
                    let pause = backoff.next_pause();
                    tracing::warn!(error = %error, retry_in_ms = pause.as_millis() as u64, "outbox relay pass failed");
                    pause
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(pause) => {}
                woke = wait_for_notification(&mut listener) => {
                    if !woke {
                        // The connection broke; make a new one next round, after a pause.
                        listener = None;
                        tokio::time::sleep(pause).await;
                    }
                }
            }
        }
        match tokio::time::timeout(flush_deadline, self.drain()).await {
            Ok(Ok(())) => tracing::info!("outbox flushed"),
            Ok(Err(error)) => tracing::warn!(error = %error, "outbox not flushed; events stay for the next relay"),
            Err(_) => tracing::warn!("outbox flush hit the deadline; events stay for the next relay"),
        }
    }

    async fn listen(&self) -> Option<PgListener> {
        let connect = async {
            let mut listener = PgListener::connect_with(self.database.pool()).await?;
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        match tokio::time::timeout(Duration::from_secs(5), connect).await {
            Ok(Ok(listener)) => Some(listener),
            Ok(Err(error)) => {
                tracing::debug!(error = %error, "outbox listener not connected; polling");
                None
            }
            Err(_) => None,
        }
    }
}

/// How long a woken relay waits for more commits before its pass.
const COALESCE: Duration = Duration::from_millis(2);

/// Waits for a notification; `false` when the listener is gone or broke.
///
/// Every commit that wrote events notifies every relay, and a pass takes
/// every event committed before it, also those whose notification is still
/// on its way. So a woken relay waits `COALESCE` for more, then takes every
/// notification that has arrived with the first: under load one pass
/// answers many commits, instead of each waking a pass of its own that
/// finds its events already gone.
async fn wait_for_notification(listener: &mut Option<PgListener>) -> bool {
    match listener {
        Some(listener) => {
            if listener.recv().await.is_err() {
                return false;
            }
            tokio::time::sleep(COALESCE).await;
            while let Ok(Ok(_)) = tokio::time::timeout(Duration::ZERO, listener.recv()).await {}
            true
        }
        None => std::future::pending().await,
    }
}
