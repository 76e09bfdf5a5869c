//! In-memory ports for the use-case unit tests: the same contracts as the
//! PostgreSQL adapter, kept in maps behind one lock (one lock = one
//! transaction).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::error::DomainError;
use crate::event::DomainEvent;
use crate::ports::{BackupRepository, BackupRequestRepository, Stored};
use crate::request::{Backup, BackupRequest, BackupRequestId, IdempotencyKey, StatusTypeCode};

#[derive(Default)]
struct State {
    requests: HashMap<BackupRequestId, BackupRequest>,
    keys: HashMap<(String, IdempotencyKey), BackupRequestId>,
    backups: HashMap<BackupRequestId, Backup>,
    outbox: Vec<DomainEvent>,
}

#[derive(Default)]
pub struct InMemoryStore {
    state: Mutex<State>,
    /// When set, every call fails as a database outage would.
    pub down: std::sync::atomic::AtomicBool,
}

impl InMemoryStore {
    fn state(&self) -> Result<std::sync::MutexGuard<'_, State>, DomainError> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(DomainError::unavailable(anyhow::anyhow!("database is down")));
        }
        self.state
            .lock()
            .map_err(|_| DomainError::Unexpected(anyhow::anyhow!("store lock poisoned")))
    }

    pub fn outbox(&self) -> Vec<DomainEvent> {
        self.state.lock().map(|s| s.outbox.clone()).unwrap_or_default()
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
            let scoped = (request.requester_id.as_str().to_owned(), key.clone());
            if let Some(id) = state.keys.get(&scoped) {
                let original = state.requests.get(id).cloned();
                return original
                    .map(Stored::Existing)
                    .ok_or_else(|| DomainError::Unexpected(anyhow::anyhow!("key without request")));
            }
            state.keys.insert(scoped, request.backup_request_id.clone());
        }
        state.requests.insert(request.backup_request_id.clone(), request.clone());
        state.outbox.extend_from_slice(events);
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
        let mut state = self.state()?;
        let id = &request.backup_request_id;
        let stored = state
            .requests
            .get_mut(id)
            .ok_or_else(|| DomainError::NotFound(id.to_string()))?;
        if stored.status() != expected {
            return Err(DomainError::Conflict { id: id.to_string(), expected });
        }
        *stored = request.clone();
        state.outbox.extend_from_slice(events);
        Ok(())
    }
}

#[async_trait]
impl BackupRepository for InMemoryStore {
    async fn find_by_request(&self, id: &BackupRequestId) -> Result<Option<Backup>, DomainError> {
        Ok(self.state()?.backups.get(id).cloned())
    }
}
