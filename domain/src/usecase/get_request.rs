//! Looking up a backup request and, once it exists, its Backup.

use std::sync::Arc;

use tracing::instrument;

use crate::error::DomainError;
use crate::ports::{BackupRepository, BackupRequestRepository};
use crate::request::{Backup, BackupRequest, BackupRequestId};

/// A request as callers see it: every field, and its Backup once it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupRequestView {
    pub request: BackupRequest,
    pub backup: Option<Backup>,
}

pub struct GetBackupRequest {
    requests: Arc<dyn BackupRequestRepository>,
    backups: Arc<dyn BackupRepository>,
}

impl GetBackupRequest {
    pub fn new(requests: Arc<dyn BackupRequestRepository>, backups: Arc<dyn BackupRepository>) -> Self {
        Self { requests, backups }
    }

    #[instrument(skip_all, fields(backup_request_id = %id))]
    pub async fn execute(&self, id: &BackupRequestId) -> Result<BackupRequestView, DomainError> {
        let request = self
            .requests
            .find(id)
            .await?
            .ok_or_else(|| DomainError::NotFound(id.to_string()))?;
        let backup = self.backups.find_by_request(id).await?;
        Ok(BackupRequestView { request, backup })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::testing::InMemoryStore;
    use crate::usecase::{CreateBackupRequest, Created};
    use crate::testing::fixtures::new_request;

    #[tokio::test]
    async fn returns_the_stored_request_without_a_backup_before_one_exists() {
        let store = Arc::new(InMemoryStore::default());
        let new = new_request("job-1");
        let Created::New(created) = CreateBackupRequest::new(store.clone()).execute(new, None, None).await.unwrap() else {
            panic!("expected a new request");
        };
        let view = GetBackupRequest::new(store.clone(), store).execute(created.backup_request_id()).await.unwrap();
        assert_eq!(view.request, created);
        assert_eq!(view.backup, None);
    }

    #[tokio::test]
    async fn an_unknown_id_is_not_found() {
        let store = Arc::new(InMemoryStore::default());
        let id = BackupRequestId::try_from("nope").unwrap();
        let error = GetBackupRequest::new(store.clone(), store).execute(&id).await.unwrap_err();
        assert!(matches!(error, DomainError::NotFound(_)));
    }
}
