//! In-memory ports: the same contracts as the PostgreSQL adapter (the
//! contract suites of `testing::contract` hold both to them), kept in maps
//! behind one lock (one lock = one transaction), and fakes of the external
//! systems that record what they were asked.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::OwnedMutexGuard;

use crate::error::DomainError;
use crate::event::DomainEvent;
use crate::external::{BackupJob, InterfaceRequest};
use crate::listing::{PageCursor, PageLimit, RequestFilter, RequestPage, StatusChange};
use crate::ports::{
    BackupInterface, BackupJobService, BackupRepository, BackupRequestQueries, BackupRequestRepository, HeldLock,
    HeldRequest, InboxMessage,
    MessageBus, PendingRequests, RecoveryLock, Reemission, RequestTraces, StatusInbox, Stored, Subscription, Timer,
    WorkQueue, Waiting,
};
use crate::request::{
    Backup, BackupJobId, BackupRequest, BackupRequestId, IdempotencyKey, StatusTypeCode, now,
};
use crate::trace::TraceParent;

/// One request's turn to change: a hold keeps it for as long as it lasts,
/// and every other change of the request waits for it, as for a row lock.
type Turn = Arc<tokio::sync::Mutex<()>>;

#[derive(Default)]
struct State {
    requests: HashMap<BackupRequestId, BackupRequest>,
    keys: HashMap<(String, IdempotencyKey), BackupRequestId>,
    backups: HashMap<BackupRequestId, Backup>,
    outbox: Vec<DomainEvent>,
    /// When each request last changed (`updated_at`), for recovery.
    touched: HashMap<BackupRequestId, DateTime<Utc>>,
    history: HashMap<BackupRequestId, Vec<StatusChange>>,
    /// The trace each request was received under, if it had one.
    traces: HashMap<BackupRequestId, TraceParent>,
    turns: HashMap<BackupRequestId, Turn>,
}

impl State {
    fn touch(&mut self, id: &BackupRequestId, at: DateTime<Utc>) {
        self.touched.insert(id.clone(), at);
    }

    /// Stores a step of a request that was in `expected` status.
    fn step(
        &mut self,
        request: &BackupRequest,
        expected: StatusTypeCode,
        events: &[DomainEvent],
        by: &str,
    ) -> Result<(), DomainError> {
        let id = request.backup_request_id();
        let stored = self.requests.get_mut(id).ok_or_else(|| DomainError::NotFound(id.to_string()))?;
        if stored.status() != expected {
            return Err(DomainError::Conflict { id: id.to_string(), expected });
        }
        *stored = request.clone();
        self.touch(id, now());
        self.outbox.extend_from_slice(events);
        if request.status() != expected {
            self.record(request, request.status_detail().map(str::to_owned), by);
        }
        Ok(())
    }

    fn record(&mut self, request: &BackupRequest, detail: Option<String>, by: &str) {
        let change = StatusChange { status: request.status(), at: now(), by: by.to_owned(), detail };
        self.history.entry(request.backup_request_id().clone()).or_default().push(change);
    }
}

/// Who the in-memory store says made each change, unless told (`acting_as`).
pub const IN_MEMORY: &str = "in-memory";

/// Requests, Backups, their outbox, history and traces, and the recovery
/// lock, in memory. Clones made by `acting_as` share all of it.
pub struct InMemoryStore {
    state: Arc<Mutex<State>>,
    /// The process instance its history names for every change made here.
    by: Arc<str>,
    lock: FakeLock,
    /// The pruning lock, apart from the recovery lock as in PostgreSQL.
    pruning: FakeLock,
    /// When set, every call fails as a database outage would.
    pub down: AtomicBool,
}

impl Default for InMemoryStore {
    fn default() -> Self {
        Self {
            state: Arc::default(),
            by: Arc::from(IN_MEMORY),
            lock: FakeLock::default(),
            pruning: FakeLock::default(),
            down: AtomicBool::new(false),
        }
    }
}

fn poisoned() -> DomainError {
    DomainError::Unexpected(anyhow::anyhow!("store lock poisoned"))
}

impl InMemoryStore {
    /// Another handle on the same store, naming `instance` in the history.
    pub fn acting_as(&self, instance: &str) -> Self {
        Self {
            state: self.state.clone(),
            by: Arc::from(instance),
            lock: self.lock.clone(),
            pruning: self.pruning.clone(),
            down: AtomicBool::new(false),
        }
    }

    fn state(&self) -> Result<std::sync::MutexGuard<'_, State>, DomainError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(down_error("database"));
        }
        self.state.lock().map_err(|_| poisoned())
    }

    /// Waits until no hold on request `id` lasts, then keeps other changes
    /// of it waiting until the returned guard is dropped.
    async fn turn(&self, id: &BackupRequestId) -> Result<OwnedMutexGuard<()>, DomainError> {
        let turn = self.state()?.turns.entry(id.clone()).or_default().clone();
        Ok(turn.lock_owned().await)
    }

    pub fn outbox(&self) -> Vec<DomainEvent> {
        self.state.lock().map(|s| s.outbox.clone()).unwrap_or_default()
    }

    /// Empties the outbox, as a relay does once the broker confirmed every
    /// event in it.
    pub fn relay_outbox(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.outbox.clear();
        }
    }

    pub fn request_count(&self) -> usize {
        self.state.lock().map(|s| s.requests.len()).unwrap_or_default()
    }
}

#[async_trait]
impl BackupRequestRepository for InMemoryStore {
    async fn create(
        &self,
        request: &BackupRequest,
        idempotency_key: Option<&IdempotencyKey>,
        events: &[DomainEvent],
    ) -> Result<Stored, DomainError> {
        let mut state = self.state()?;
        if let Some(key) = idempotency_key {
            let scoped = (request.requester_id().as_str().to_owned(), key.clone());
            if let Some(id) = state.keys.get(&scoped) {
                let original = state.requests.get(id).cloned();
                return original
                    .map(Stored::Existing)
                    .ok_or_else(|| DomainError::Unexpected(anyhow::anyhow!("key without request")));
            }
            state.keys.insert(scoped, request.backup_request_id().clone());
        }
        let id = request.backup_request_id();
        state.requests.insert(id.clone(), request.clone());
        state.touch(id, now());
        // The request's trace is the one its `BackupRequestReceived` carries.
        if let Some(trace) = events.iter().find_map(|event| event.traceparent.clone()) {
            state.traces.insert(id.clone(), trace);
        }
        state.outbox.extend_from_slice(events);
        state.record(request, None, &self.by);
        Ok(Stored::Created)
    }

    async fn find(&self, id: &BackupRequestId) -> Result<Option<BackupRequest>, DomainError> {
        Ok(self.state()?.requests.get(id).cloned())
    }

    async fn update(
        &self,
        request: &BackupRequest,
        expected: StatusTypeCode,
        events: &[DomainEvent],
    ) -> Result<(), DomainError> {
        let _turn = self.turn(&request.backup_request_id()).await?;
        self.state()?.step(request, expected, events, &self.by)
    }

    async fn hold(&self, id: &BackupRequestId) -> Result<Option<Box<dyn HeldRequest>>, DomainError> {
        let turn = self.turn(id).await?;
        let request = self.state()?.requests.get(id).cloned();
        Ok(request.map(|request| {
            Box::new(InMemoryHold { state: self.state.clone(), request, by: self.by.clone(), _turn: turn })
                as Box<dyn HeldRequest>
        }))
    }

    async fn cancel(&self, id: &BackupRequestId, detail: &str) -> Result<Option<BackupRequest>, DomainError> {
        let _turn = self.turn(id).await?;
        let mut state = self.state()?;
        let Some(stored) = state.requests.get_mut(id) else {
            return Ok(None);
        };
        if stored.cancel().is_err() {
            return Ok(None);
        }
        let cancelled = stored.clone();
        state.touch(id, now());
        state.record(&cancelled, Some(detail.to_owned()), &self.by);
        Ok(Some(cancelled))
    }
}

/// A request held for one step: it keeps the request's turn until it is
/// saved or dropped.
struct InMemoryHold {
    state: Arc<Mutex<State>>,
    request: BackupRequest,
    by: Arc<str>,
    _turn: OwnedMutexGuard<()>,
}

#[async_trait]
impl HeldRequest for InMemoryHold {
    fn request(&self) -> &BackupRequest {
        &self.request
    }

    async fn save(self: Box<Self>, request: &BackupRequest, events: &[DomainEvent]) -> Result<(), DomainError> {
        let mut state = self.state.lock().map_err(|_| poisoned())?;
        state.step(request, self.request.status(), events, &self.by)
    }
}

#[async_trait]
impl BackupRequestQueries for InMemoryStore {
    async fn list(
        &self,
        filter: &RequestFilter,
        after: Option<&PageCursor>,
        limit: PageLimit,
    ) -> Result<RequestPage, DomainError> {
        let state = self.state()?;
        let key = |r: &BackupRequest| (r.received_timestamp(), r.backup_request_id().clone());
        let mut matching: Vec<BackupRequest> = state
            .requests
            .values()
            .filter(|r| filter.matches(r))
            .filter(|r| after.is_none_or(|c| key(r) < (c.received_timestamp, c.backup_request_id.clone())))
            .cloned()
            .collect();
        matching.sort_by_key(|r| std::cmp::Reverse(key(r)));
        matching.truncate(usize::from(limit.get()) + 1);
        Ok(RequestPage::cut(matching, limit))
    }

    async fn history(&self, id: &BackupRequestId) -> Result<Vec<StatusChange>, DomainError> {
        Ok(self.state()?.history.get(id).cloned().unwrap_or_default())
    }
}

#[async_trait]
impl BackupRepository for InMemoryStore {
    async fn find_by_request(&self, id: &BackupRequestId) -> Result<Option<Backup>, DomainError> {
        Ok(self.state()?.backups.get(id).cloned())
    }

    async fn record_backup(
        &self,
        backup: &Backup,
        request: &BackupRequest,
        expected: StatusTypeCode,
        events: &[DomainEvent],
    ) -> Result<(), DomainError> {
        let id = request.backup_request_id();
        let _turn = self.turn(id).await?;
        let mut state = self.state()?;
        let stored = state.requests.get(id).ok_or_else(|| DomainError::NotFound(id.to_string()))?;
        if stored.status() != expected || state.backups.contains_key(id) {
            return Err(DomainError::Conflict { id: id.to_string(), expected });
        }
        state.backups.insert(id.clone(), backup.clone());
        state.step(request, expected, events, &self.by)?;
        Ok(())
    }
}

#[async_trait]
impl RequestTraces for InMemoryStore {
    async fn trace_of(&self, id: &BackupRequestId) -> Result<Option<TraceParent>, DomainError> {
        Ok(self.state()?.traces.get(id).cloned())
    }
}

impl InMemoryStore {
    /// Puts a request in place as it stands, with a Backup if given.
    pub fn put(&self, request: BackupRequest, backup: Option<Backup>) {
        self.put_touched(request, backup, now());
    }

    /// Puts a request in place as last changed at `at`.
    pub fn put_touched(&self, request: BackupRequest, backup: Option<Backup>, at: DateTime<Utc>) {
        if let Ok(mut state) = self.state.lock() {
            state.touch(&request.backup_request_id(), at);
            if let Some(backup) = backup {
                state.backups.insert(request.backup_request_id().clone(), backup);
            }
            state.record(&request, request.status_detail().map(str::to_owned), &self.by);
            state.requests.insert(request.backup_request_id().clone(), request);
        }
    }

    pub fn backups(&self) -> Vec<Backup> {
        self.state.lock().map(|s| s.backups.values().cloned().collect()).unwrap_or_default()
    }

    pub fn request(&self, id: &BackupRequestId) -> Option<BackupRequest> {
        self.state.lock().ok().and_then(|s| s.requests.get(id).cloned())
    }
}

#[async_trait]
impl PendingRequests for InMemoryStore {
    async fn pending_before(
        &self,
        waiting: Waiting,
        cutoff: DateTime<Utc>,
        sent_before: Option<DateTime<Utc>>,
        after: Option<&BackupRequestId>,
        limit: u32,
    ) -> Result<Vec<BackupRequest>, DomainError> {
        let state = self.state()?;
        let in_outbox: HashSet<&BackupRequestId> = match waiting {
            Waiting::Any => HashSet::new(),
            Waiting::Stalled => state.outbox.iter().map(|event| &event.backup_request_id).collect(),
        };
        let mut pending: Vec<BackupRequest> = state
            .requests
            .values()
            .filter(|r| r.status().is_pending_in_linebacker() || sent_before.is_some_and(|at| r.reply_overdue(at)))
            .filter(|r| state.touched.get(&r.backup_request_id()).is_some_and(|at| *at < cutoff))
            .filter(|r| !in_outbox.contains(r.backup_request_id()))
            .filter(|r| after.is_none_or(|after| r.backup_request_id().as_str() > after.as_str()))
            .cloned()
            .collect();
        pending.sort_by(|a, b| a.backup_request_id().as_str().cmp(b.backup_request_id().as_str()));
        pending.truncate(limit as usize);
        Ok(pending)
    }

    async fn reemit(
        &self,
        cutoff: DateTime<Utc>,
        batch: &[Reemission],
    ) -> Result<Vec<BackupRequestId>, DomainError> {
        // Each request's turn first (in id order, as any two batches take
        // them), then the whole batch in one go.
        let mut ids: Vec<&BackupRequestId> = batch.iter().map(|entry| &entry.event.backup_request_id).collect();
        ids.sort();
        ids.dedup();
        let mut turns = Vec::with_capacity(ids.len());
        for id in ids {
            turns.push(self.turn(id).await?);
        }
        let mut state = self.state()?;
        let mut done = Vec::new();
        for entry in batch {
            let id = &entry.event.backup_request_id;
            let still_waiting = state.requests.get(id).is_some_and(|r| r.status() == entry.expected)
                && state.touched.get(id).is_some_and(|at| *at < cutoff);
            if still_waiting {
                // Changed no earlier than the cutoff, even when the caller's
                // clock runs ahead: a second pass with it leaves it out.
                state.touch(id, now().max(cutoff));
                state.outbox.push(entry.event.clone());
                done.push(id.clone());
            }
        }
        Ok(done)
    }
}

#[async_trait]
impl RecoveryLock for InMemoryStore {
    async fn try_lock(&self) -> Result<Option<Box<dyn HeldLock>>, DomainError> {
        drop(self.state()?);
        self.lock.try_lock().await
    }
}

/// A recovery lock within one process: one holder at a time, whichever
/// clone asks.
#[derive(Clone, Default)]
pub struct FakeLock {
    held: std::sync::Arc<AtomicBool>,
}

impl FakeLock {
    pub fn is_held(&self) -> bool {
        self.held.load(Ordering::SeqCst)
    }
}

struct FakeHeldLock(std::sync::Arc<AtomicBool>);

#[async_trait]
impl HeldLock for FakeHeldLock {
    async fn release(self: Box<Self>) {}
}

impl Drop for FakeHeldLock {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

#[async_trait]
impl RecoveryLock for FakeLock {
    async fn try_lock(&self) -> Result<Option<Box<dyn HeldLock>>, DomainError> {
        let taken = self.held.compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst).is_ok();
        Ok(taken.then(|| Box::new(FakeHeldLock(self.held.clone())) as Box<dyn HeldLock>))
    }
}

/// tokio's timer (pause it with `start_paused`), recording every pause.
#[derive(Default)]
pub struct RecordingTimer {
    pub pauses: Mutex<Vec<Duration>>,
}

#[async_trait]
impl Timer for RecordingTimer {
    async fn sleep(&self, duration: Duration) {
        if let Ok(mut pauses) = self.pauses.lock() {
            pauses.push(duration);
        }
        tokio::time::sleep(duration).await;
    }

    fn now(&self) -> std::time::Instant {
        tokio::time::Instant::now().into_std()
    }
}

fn down_error(what: &str) -> DomainError {
    DomainError::unavailable(anyhow::anyhow!("{what} is down"))
}

/// A backup job service with a fixed job list.
#[derive(Default)]
pub struct FakeJobs {
    pub jobs: Mutex<HashMap<String, BackupJob>>,
    pub down: AtomicBool,
    pub calls: AtomicUsize,
}

impl FakeJobs {
    pub fn with(jobs: impl IntoIterator<Item = BackupJob>) -> Self {
        let fake = Self::default();
        if let Ok(mut map) = fake.jobs.lock() {
            map.extend(jobs.into_iter().map(|job| (job.backup_job_id.to_string(), job)));
        }
        fake
    }
}

#[async_trait]
impl BackupJobService for FakeJobs {
    async fn find_job(&self, id: &BackupJobId) -> Result<Option<BackupJob>, DomainError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Err(down_error("job service"));
        }
        Ok(self.jobs.lock().ok().and_then(|jobs| jobs.get(id.as_str()).cloned()))
    }
}

/// A backup zone interface that records what it was sent.
#[derive(Default)]
pub struct FakeInterface {
    pub sent: Mutex<Vec<InterfaceRequest>>,
    pub down: AtomicBool,
}

#[async_trait]
impl BackupInterface for FakeInterface {
    async fn send(&self, request: &InterfaceRequest) -> Result<(), DomainError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(down_error("interface"));
        }
        if let Ok(mut sent) = self.sent.lock() {
            sent.push(request.clone());
        }
        Ok(())
    }
}

/// A status queue with its poison queue.
#[derive(Default)]
pub struct FakeInbox {
    pub messages: Mutex<Vec<InboxMessage>>,
    pub parked: Mutex<Vec<(InboxMessage, String)>>,
    pub deleted: Mutex<Vec<String>>,
}

#[async_trait]
impl StatusInbox for FakeInbox {
    async fn receive(&self, max: u32, _visibility: Duration) -> Result<Vec<InboxMessage>, DomainError> {
        let messages = self.messages.lock().map_err(|_| down_error("inbox"))?;
        Ok(messages.iter().take(max as usize).cloned().collect())
    }

    async fn delete(&self, message: &InboxMessage) -> Result<(), DomainError> {
        let mut messages = self.messages.lock().map_err(|_| down_error("inbox"))?;
        messages.retain(|m| m.message_id != message.message_id);
        if let Ok(mut deleted) = self.deleted.lock() {
            deleted.push(message.message_id.clone());
        }
        Ok(())
    }

    async fn park(&self, message: &InboxMessage, reason: &str) -> Result<(), DomainError> {
        if let Ok(mut parked) = self.parked.lock() {
            parked.push((message.clone(), reason.to_owned()));
        }
        self.delete(message).await
    }
}

/// A bus that records what was published (confirmed at once) unless down.
#[derive(Default)]
pub struct FakeBus {
    pub published: Mutex<Vec<DomainEvent>>,
    pub down: AtomicBool,
}

#[async_trait]
impl MessageBus for FakeBus {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), DomainError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(down_error("broker"));
        }
        if let Ok(mut published) = self.published.lock() {
            published.extend_from_slice(events);
        }
        Ok(())
    }

    async fn subscribe(&self, _queue: WorkQueue, _prefetch: u16) -> Result<Subscription, DomainError> {
        Err(DomainError::Unexpected(anyhow::anyhow!("the fake bus does not deliver")))
    }
}

/// Request traces kept in a map; `None` as the map plays a database outage.
pub struct MapTraces(pub Option<std::collections::HashMap<String, crate::trace::TraceParent>>);

#[async_trait::async_trait]
impl crate::ports::RequestTraces for MapTraces {
    async fn trace_of(&self, id: &BackupRequestId) -> Result<Option<crate::trace::TraceParent>, DomainError> {
        match &self.0 {
            Some(traces) => Ok(traces.get(id.as_str()).cloned()),
            None => Err(DomainError::unavailable(anyhow::anyhow!("database down"))),
        }
    }
}

mod retention;
