//! Ports: what the use cases need from the outside world. Each adapter
//! implements them on one technology; the rustdoc of every method states what
//! every implementation MUST do.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use futures::stream::BoxStream;

use crate::error::DomainError;
use crate::event::{DomainEvent, EventType};
use crate::external::{BackupJob, InterfaceRequest, StoreStatus};
use crate::listing::{PageCursor, PageLimit, RequestFilter, RequestPage, StatusChange};
use crate::request::{Backup, BackupJobId, BackupRequest, BackupRequestId, IdempotencyKey, StatusTypeCode};

/// What `BackupRequestRepository::create` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// The request and its events are stored.
    Created,
    /// The idempotency key was already used by the same requester: nothing
    /// was stored; this is the request stored under it.
    Existing(BackupRequest),
}

/// Backup requests, stored together with the events their changes emit (the
/// transactional outbox): a change and its events are stored both or neither.
///
/// Every status change an implementation stores (create, `update` that
/// changes the status, `cancel`, `HeldRequest::save`, `record_backup`) MUST
/// add one `StatusChange` to the request's history in the same transaction,
/// `by` the process instance the repository acts for, with
/// `BackupRequest::status_detail` (or the cancel's detail) as its detail. A
/// step that leaves the status as it was (a resend) adds none.
#[async_trait]
pub trait BackupRequestRepository: Send + Sync {
    /// Stores a new request and `events` in one transaction.
    ///
    /// With an idempotency key that the same requester already used, MUST
    /// store nothing and return `Stored::Existing` with the request stored
    /// under the key, also when two such calls race. MUST return
    /// `Unavailable` when the database cannot take the write.
    async fn create(
        &self,
        request: &BackupRequest,
        idempotency_key: Option<&IdempotencyKey>,
        events: &[DomainEvent],
    ) -> Result<Stored, DomainError>;

    /// The request with this id, or `None`.
    async fn find(&self, id: &BackupRequestId) -> Result<Option<BackupRequest>, DomainError>;

    /// Saves a request changed by one step, and the events the step emits, in
    /// one transaction. MUST return `NotFound` when the request does not
    /// exist and `Conflict` (storing nothing) when its stored status is no
    /// longer `expected`, so that of two racing workers only one step lands.
    async fn update(
        &self,
        request: &BackupRequest,
        expected: StatusTypeCode,
        events: &[DomainEvent],
    ) -> Result<(), DomainError>;

    /// The request with this id, held for one step: until the hold is saved
    /// or dropped, no other change of the request (a cancel included) can
    /// commit; they wait for it. `Ok(None)` for an unknown request.
    async fn hold(&self, id: &BackupRequestId) -> Result<Option<Box<dyn HeldRequest>>, DomainError>;

    /// Moves the request to `Cancelled` in one conditional write, if its
    /// stored status is one of `StatusTypeCode::CANCELLABLE` at that moment
    /// (waiting for a `hold` on it to end first), recording `detail` in its
    /// history. Returns the cancelled request, or `Ok(None)` when it was
    /// unknown or no longer cancellable by the time the write ran.
    async fn cancel(&self, id: &BackupRequestId, detail: &str) -> Result<Option<BackupRequest>, DomainError>;
}

/// A request held by `BackupRequestRepository::hold`.
#[async_trait]
pub trait HeldRequest: Send {
    /// The request as it was when the hold began; nobody has changed it since.
    fn request(&self) -> &BackupRequest;

    /// Saves the request changed by one step and the step's events, then
    /// ends the hold. Dropping the hold instead stores nothing.
    async fn save(self: Box<Self>, request: &BackupRequest, events: &[DomainEvent]) -> Result<(), DomainError>;
}

/// Reading requests for callers and operators (SPEC §3).
#[async_trait]
pub trait BackupRequestQueries: Send + Sync {
    /// The requests that pass `filter`, newest `received_timestamp` first
    /// (ties: greatest id first), starting after `after`, at most `limit`.
    /// `next` MUST be set when more requests pass the filter, and paging on
    /// with it MUST return every request that existed when the first page
    /// was read exactly once. MUST be answered from indexes, not a scan of
    /// every request.
    async fn list(
        &self,
        filter: &RequestFilter,
        after: Option<&PageCursor>,
        limit: PageLimit,
    ) -> Result<RequestPage, DomainError>;

    /// Every status change of the request, oldest first; empty for an
    /// unknown request.
    async fn history(&self, id: &BackupRequestId) -> Result<Vec<StatusChange>, DomainError>;
}

/// Backup records.
#[async_trait]
pub trait BackupRepository: Send + Sync {
    /// The Backup made for this request, or `None` (there is at most one).
    async fn find_by_request(&self, id: &BackupRequestId) -> Result<Option<Backup>, DomainError>;

    /// Stores a new Backup together with the request's step (to `Succeeded`)
    /// and its events, in one transaction. MUST store nothing and return
    /// `Conflict` when the request already has a Backup or its stored status
    /// is no longer `expected`, and `NotFound` when the request is unknown.
    async fn record_backup(
        &self,
        backup: &Backup,
        request: &BackupRequest,
        expected: StatusTypeCode,
        events: &[DomainEvent],
    ) -> Result<(), DomainError>;
}

/// The work queues of SPEC §4, each fed by one event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkQueue {
    CheckAllowed,
    SendToInterface,
    ReceiveStatus,
}

impl WorkQueue {
    pub const ALL: &'static [WorkQueue] =
        &[Self::CheckAllowed, Self::SendToInterface, Self::ReceiveStatus];

    pub fn name(self) -> &'static str {
        match self {
            Self::CheckAllowed => "check-allowed",
            Self::SendToInterface => "send-to-interface",
            Self::ReceiveStatus => "receive-status",
        }
    }

    /// The event whose messages this queue receives.
    pub fn source(self) -> EventType {
        match self {
            Self::CheckAllowed => EventType::BackupRequestReceived,
            Self::SendToInterface => EventType::BackupRequestAllowed,
            Self::ReceiveStatus => EventType::StoreStatusReceived,
        }
    }
}

pub use crate::event::MalformedMessage;

/// Settles one delivery. Exactly one of these is called, after the work the
/// message asked for is committed (or known to be impossible).
#[async_trait]
pub trait Settle: Send {
    /// Done: the message will not come back.
    async fn ack(self: Box<Self>) -> Result<(), DomainError>;
    /// A transient failure: the message MUST come back later (not at once,
    /// and without holding up other messages), with its attempt count raised.
    async fn retry(self: Box<Self>, reason: &str) -> Result<(), DomainError>;
    /// A permanent failure: the message MUST be parked on the queue's
    /// dead-letter queue with `reason`, where an operator can replay it.
    async fn dead_letter(self: Box<Self>, reason: &str) -> Result<(), DomainError>;
}

/// One message taken from a work queue.
pub struct Delivery {
    pub event: Result<DomainEvent, MalformedMessage>,
    /// 1 on the first delivery, raised by every `retry`.
    pub attempt: u32,
    pub settle: Box<dyn Settle>,
}

pub type Subscription = BoxStream<'static, Result<Delivery, DomainError>>;

/// Publishing and consuming domain events.
#[async_trait]
pub trait MessageBus: Send + Sync {
    /// Publishes `events` as persistent messages routed by their type. MUST
    /// return `Ok` only once the broker has confirmed every one of them, and
    /// `Unavailable` (never hang) when it cannot confirm in time.
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), DomainError>;

    /// Consumes `queue` with manual settlement, at most `prefetch`
    /// deliveries unsettled at a time.
    async fn subscribe(&self, queue: WorkQueue, prefetch: u16) -> Result<Subscription, DomainError>;
}

/// The backup job service (SPEC §5).
#[async_trait]
pub trait BackupJobService: Send + Sync {
    /// The job with this id. MUST return `Ok(None)` when the service says
    /// the job does not exist (404), `Unavailable` for timeouts, refused
    /// connections and 5xx answers, and `Unexpected` for an answer that
    /// breaks the contract (a malformed 200 body).
    async fn find_job(&self, id: &BackupJobId) -> Result<Option<BackupJob>, DomainError>;
}

/// The BZI's request queue (`allowed-backup-requests`).
#[async_trait]
pub trait BackupInterface: Send + Sync {
    /// Puts the request on the interface's queue. MUST return `Ok` only once
    /// the queue service has stored it, `Unavailable` when it cannot.
    async fn send(&self, request: &InterfaceRequest) -> Result<(), DomainError>;
}

/// One message taken from the BZI's status queue, read: invisible to other
/// readers until its visibility timeout ends.
#[derive(Debug, Clone)]
pub struct InboxMessage {
    /// The queue service's id of the message, for logs.
    pub message_id: String,
    /// How often the message was taken, this time included.
    pub times_taken: u32,
    /// The status the message carries, or why it carries none.
    pub status: Result<StoreStatus, UnreadableStatus>,
    /// What the inbox that took the message needs to delete or park it.
    pub receipt: InboxReceipt,
}

impl InboxMessage {
    /// A message whose text is `text` (the status JSON itself), read as a
    /// status by the rules of SPEC §5 (`StoreStatus::parse`).
    pub fn read(message_id: String, times_taken: u32, text: String, receipt: InboxReceipt) -> Self {
        let status = StoreStatus::parse(&text).map_err(|reason| UnreadableStatus { reason, text });
        Self { message_id, times_taken, status, receipt }
    }
}

/// A status message that is not a status: why, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableStatus {
    pub reason: String,
    pub text: String,
}

/// An inbox's hold on a message it handed out (for Azure, the message's pop
/// receipt and its text as the queue held it): made by that inbox, opaque
/// to everyone else.
#[derive(Clone)]
pub struct InboxReceipt(Arc<dyn Any + Send + Sync>);

impl InboxReceipt {
    pub fn new(receipt: impl Any + Send + Sync) -> Self {
        Self(Arc::new(receipt))
    }

    /// The receipt as the inbox that made it sees it; `None` when another
    /// kind of inbox made it.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.0.downcast_ref()
    }
}

impl std::fmt::Debug for InboxReceipt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InboxReceipt(..)")
    }
}

/// The BZI's status queue (`store-statuses`) and its poison queue.
#[async_trait]
pub trait StatusInbox: Send + Sync {
    /// Takes up to `max` messages, hiding them from other readers for
    /// `visibility_timeout`, each read by `InboxMessage::read`. An empty
    /// queue is `Ok(vec![])`.
    async fn receive(&self, max: u32, visibility_timeout: Duration) -> Result<Vec<InboxMessage>, DomainError>;

    /// Deletes a message taken by `receive`. A message already gone (deleted
    /// by another reader after its visibility ended) MUST count as deleted.
    async fn delete(&self, message: &InboxMessage) -> Result<(), DomainError>;

    /// Moves a message to `store-statuses-poison` with `reason`, its text
    /// as the queue held it, then deletes it: never silently dropped, never
    /// retried forever.
    async fn park(&self, message: &InboxMessage, reason: &str) -> Result<(), DomainError>;
}

/// The trace each request was received under. The BZI's status message
/// carries no trace context; looking the request's trace up lets its reply
/// continue the same trace, so one request reads as one story in the logs.
#[async_trait]
pub trait RequestTraces: Send + Sync {
    /// The `traceparent` the request was received under. MUST return
    /// `Ok(None)` for an unknown request or one stored without a trace.
    async fn trace_of(&self, id: &crate::request::BackupRequestId)
    -> Result<Option<crate::trace::TraceParent>, DomainError>;

    /// The traces of several requests at once (recovery asks for a page of
    /// them); one without a trace, or unknown, is left out.
    async fn traces_of(
        &self,
        ids: &[crate::request::BackupRequestId],
    ) -> Result<std::collections::HashMap<crate::request::BackupRequestId, crate::trace::TraceParent>, DomainError> {
        let mut traces = std::collections::HashMap::new();
        for id in ids {
            if let Some(trace) = self.trace_of(id).await? {
                traces.insert(id.clone(), trace);
            }
        }
        Ok(traces)
    }
}

/// One request to re-emit: the event that restarts its next step, valid only
/// while the request is still in `expected` status.
#[derive(Debug, Clone, PartialEq)]
pub struct Reemission {
    pub expected: StatusTypeCode,
    pub event: DomainEvent,
}

/// Which waiting requests a recovery pass takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// Every request waiting since before the cutoff (startup recovery).
    Any,
    /// Only those with no event of theirs left in the outbox: a request
    /// whose event the relay has yet to publish is not stalled, and
    /// re-emitting it again while the broker is away would only grow the
    /// outbox (the reconciliation sweep, SPEC §9).
    Stalled,
}

/// Requests waiting in linebacker itself, for recovery (SPEC §6).
#[async_trait]
pub trait PendingRequests: Send + Sync {
    /// Up to `limit` requests that are pending in linebacker
    /// (`StatusTypeCode::is_pending_in_linebacker`) or, when `sent_before` is
    /// given, whose interface reply is overdue (`BackupRequest::reply_overdue`),
    /// and that were last changed strictly before `cutoff`, with an id greater
    /// than `after` (from the first when `None`), in ascending id order, so
    /// that a caller can page through them with the last id of each page.
    /// With `Waiting::Stalled` it MUST leave out every request that has an
    /// event in the outbox.
    async fn pending_before(
        &self,
        waiting: Waiting,
        cutoff: DateTime<Utc>,
        sent_before: Option<DateTime<Utc>>,
        after: Option<&BackupRequestId>,
        limit: u32,
    ) -> Result<Vec<BackupRequest>, DomainError>;

    /// Re-emits a batch in one transaction: for each entry whose request is
    /// still in `expected` status and still last changed before `cutoff`,
    /// MUST mark the request changed now (leaving its status and every field
    /// as they are) and store the event in the outbox; every other entry
    /// (the request moved on since it was read) MUST be left out. Returns the
    /// ids it re-emitted. Because a re-emitted request counts as changed
    /// after `cutoff`, a later call with the same cutoff never re-emits it
    /// again.
    async fn reemit(
        &self,
        cutoff: DateTime<Utc>,
        batch: &[Reemission],
    ) -> Result<Vec<BackupRequestId>, DomainError>;
}

/// Terminal requests past their retention (SPEC §10), for the pruner.
#[async_trait]
pub trait RequestRetention: Send + Sync {
    /// Deletes, in one transaction, up to `limit` requests in `status` (a
    /// terminal one) whose retention clock is strictly before `before`, with
    /// their history and idempotency keys, oldest first, and returns how
    /// many it deleted. The clock is the reply for `Succeeded` and `Failed`,
    /// the check for `NotAllowed` and the cancel for `Cancelled`. It MUST
    /// keep every request whose Backup is due to delete on or after `today`,
    /// MUST never delete a Backup, and MUST leave requests in any other
    /// status alone.
    async fn prune(
        &self,
        status: StatusTypeCode,
        before: DateTime<Utc>,
        today: NaiveDate,
        limit: u32,
    ) -> Result<u64, DomainError>;

    /// How many requests `prune` with the same arguments and no limit would
    /// delete; deletes nothing.
    async fn prunable(&self, status: StatusTypeCode, before: DateTime<Utc>, today: NaiveDate) -> Result<u64, DomainError>;

    /// The pruning lock, as `RecoveryLock::try_lock` but of its own: MUST be
    /// exclusive across every process sharing the store, and freed when its
    /// holder goes away.
    async fn try_lock_pruning(&self) -> Result<Option<Box<dyn HeldLock>>, DomainError>;
}

/// The one recovery lock that every receiver sharing a database competes for.
#[async_trait]
pub trait RecoveryLock: Send + Sync {
    /// Takes the lock without waiting: `Ok(None)` when another holder (in
    /// this process or any other) has it. The lock MUST stay held until the
    /// returned guard is released or dropped, and MUST be freed if the
    /// holder's process dies.
    async fn try_lock(&self) -> Result<Option<Box<dyn HeldLock>>, DomainError>;
}

/// A held `RecoveryLock`.
#[async_trait]
pub trait HeldLock: Send {
    /// Frees the lock. A failure to say so is not reported: the lock is then
    /// freed when its connection ends, which dropping the guard also does.
    async fn release(self: Box<Self>);
}

/// Waiting, as a use case sees it: tokio's timer in the processes, paused
/// time in tests.
#[async_trait]
pub trait Timer: Send + Sync {
    async fn sleep(&self, duration: Duration);
    /// The time on the same clock (paused with it in tests).
    fn now(&self) -> std::time::Instant;
}
