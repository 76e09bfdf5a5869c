//! Listing requests and reading one request's history, each limited to what
//! the caller may see: a caller who may only see its own requests gets only
//! those, whatever filter it asks for.

use std::sync::Arc;

use tracing::instrument;

use crate::error::DomainError;
use crate::listing::{PageCursor, PageLimit, RequestFilter, RequestPage, StatusChange, Visibility};
use crate::ports::{BackupRequestQueries, BackupRequestRepository};
use crate::request::BackupRequestId;

pub struct BrowseRequests {
    requests: Arc<dyn BackupRequestRepository>,
    queries: Arc<dyn BackupRequestQueries>,
}

impl BrowseRequests {
    pub fn new(requests: Arc<dyn BackupRequestRepository>, queries: Arc<dyn BackupRequestQueries>) -> Self {
        Self { requests, queries }
    }

    /// One page of the requests `visibility` allows that pass `filter`. A
    /// caller limited to its own requests asking for another requester's
    /// gets an empty page, as if that requester had none.
    #[instrument(skip_all)]
    pub async fn list(
        &self,
        mut filter: RequestFilter,
        after: Option<&PageCursor>,
        limit: PageLimit,
        visibility: &Visibility,
    ) -> Result<RequestPage, DomainError> {
        if let Visibility::Own(own) = visibility {
            if filter.requester_id.as_ref().is_some_and(|asked| asked != own) {
                return Ok(RequestPage { items: Vec::new(), next: None });
            }
            filter.requester_id = Some(own.clone());
        }
        self.queries.list(&filter, after, limit).await
    }

    /// The history of a request `visibility` allows; `NotFound` otherwise.
    #[instrument(skip_all, fields(backup_request_id = %id))]
    pub async fn history(&self, id: &BackupRequestId, visibility: &Visibility) -> Result<Vec<StatusChange>, DomainError> {
        match self.requests.find(id).await? {
            Some(request) if visibility.sees(&request) => self.queries.history(id).await,
            _ => Err(DomainError::NotFound(id.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use super::*;
    use crate::request::{BackupRequest, RequesterId, StatusTypeCode, now};
    use crate::testing::InMemoryStore;
    use crate::testing::fixtures::received_by;

    fn of(requester: &str) -> BackupRequest {
        received_by("job-1", requester, crate::request::now())
    }

    fn own(requester: &str) -> Visibility {
        Visibility::Own(RequesterId::try_from(requester.to_owned()).unwrap())
    }

    #[tokio::test]
    async fn a_caller_limited_to_its_own_requests_lists_only_those_and_all_sees_everyone() {
        let store = Arc::new(InMemoryStore::default());
        let (mine, theirs) = (of("me"), of("them"));
        store.put(mine.clone(), None);
        store.put(theirs.clone(), None);
        let browse = BrowseRequests::new(store.clone(), store);

        let page = browse.list(RequestFilter::default(), None, PageLimit::default(), &own("me")).await.unwrap();
        assert_eq!(page.items, vec![mine.clone()]);
        let asked_for_theirs = RequestFilter { requester_id: theirs.requester_id().clone().into(), ..Default::default() };
        let page = browse.list(asked_for_theirs, None, PageLimit::default(), &own("me")).await.unwrap();
        assert!(page.items.is_empty());
        let page = browse.list(RequestFilter::default(), None, PageLimit::default(), &Visibility::All).await.unwrap();
        assert_eq!(page.items.len(), 2);
    }

    #[tokio::test]
    async fn a_history_of_another_requesters_request_is_not_found() {
        let store = Arc::new(InMemoryStore::default());
        let theirs = of("them");
        store.put(theirs.clone(), None);
        let browse = BrowseRequests::new(store.clone(), store);
        let error = browse.history(theirs.backup_request_id(), &own("me")).await.unwrap_err();
        assert!(matches!(error, DomainError::NotFound(_)), "{error:?}");
        let history = browse.history(theirs.backup_request_id(), &Visibility::All).await.unwrap();
        assert_eq!(history.iter().map(|change| change.status).collect::<Vec<_>>(), [StatusTypeCode::Received]);
        assert!(history[0].at <= now());
    }
}
