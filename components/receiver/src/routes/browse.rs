//! `GET /api/backup-requests` (the list), `GET .../{id}/history` and
//! `POST .../{id}/cancel` (SPEC §3).
//!
//! Who sees what (SPEC §8): `read-health` lists and reads every requester's
//! requests, `get-backup-request` only the caller's own; `operate` cancels
//! any request, `get-backup-request` the caller's own. A request the caller
//! may not see is answered 404, as for GET.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use linebacker_domain::listing::{PageCursor, PageLimit, RequestFilter, StatusChange, Visibility};
use linebacker_domain::request::{BackupJobId, BackupRequestId, RequesterId};
use linebacker_domain::{FieldError, Scope, StatusTypeCode};
use serde::Serialize;

use crate::state::ApiState;
use super::bodies::RequestBody;
use crate::action::NoParameters;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorCode};
use crate::observe;

/// The answer of the list.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestList<'a> {
    items: Vec<RequestBody<'a>>,
    next_cursor: Option<String>,
}

/// One entry of a history.
#[derive(Serialize)]
struct HistoryEntry {
    status: StatusTypeCode,
    at: DateTime<Utc>,
    by: String,
    detail: Option<String>,
}

impl From<StatusChange> for HistoryEntry {
    fn from(change: StatusChange) -> Self {
        Self { status: change.status, at: change.at, by: change.by, detail: change.detail }
    }
}

#[derive(Serialize)]
struct History {
    items: Vec<HistoryEntry>,
}

/// What a caller may read: every request with `read-health`, its own with
/// `get-backup-request`, nothing (403) without either.
pub(super) fn reading(caller: &Caller) -> Result<Visibility, ApiError> {
    if caller.has(Scope::ReadHealth) {
        return Ok(Visibility::All);
    }
    caller.require(Scope::GetBackupRequest)?;
    Ok(Visibility::Own(caller.requester_id()))
}

/// What a caller may cancel: any request with `operate`, its own with
/// `get-backup-request`.
fn cancelling(caller: &Caller) -> Result<Visibility, ApiError> {
    if caller.has(Scope::Operate) {
        return Ok(Visibility::All);
    }
    caller.require(Scope::GetBackupRequest)?;
    Ok(Visibility::Own(caller.requester_id()))
}

fn bad(parameter: &str, error: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::BadData, format!("{parameter} {error}"))
}

fn timestamp(parameter: &str, value: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(value)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| bad(parameter, "must be an RFC 3339 timestamp such as 2022-05-30T00:00:00Z"))
}

/// The list's query parameters, each checked and named as the caller spelled it.
fn list_parameters(query: &str) -> Result<(RequestFilter, Option<PageCursor>, PageLimit), ApiError> {
    let parameters = web::Query::<HashMap<String, String>>::from_query(query)
        .map_err(|error| ApiError::new(ErrorCode::BadData, format!("the query string is invalid: {error}")))?
        .into_inner();
    let mut filter = RequestFilter::default();
    let mut cursor = None;
    let mut limit = PageLimit::default();
    for (name, value) in &parameters {
        match name.as_str() {
            "status" => filter.status = Some(StatusTypeCode::try_from(value.as_str()).map_err(|e| bad(name, e))?),
            "backupJobId" => filter.backup_job_id = Some(BackupJobId::try_from(value.as_str()).map_err(|e| bad(name, e))?),
            "requesterId" => filter.requester_id = Some(RequesterId::try_from(value.clone()).map_err(|e| bad(name, e))?),
            "receivedFrom" => filter.received_from = Some(timestamp(name, value)?),
            "receivedTo" => filter.received_to = Some(timestamp(name, value)?),
            // Empty: the first page, as for a caller that always sends the
            // parameter and has no cursor yet.
            "cursor" if value.is_empty() => cursor = None,
            "cursor" => cursor = Some(PageCursor::try_from(value.as_str()).map_err(|e| bad(name, e))?),
            "limit" => {
                let whole = value.parse::<i64>().map_err(|_| FieldError::WrongType { expected: "a whole number from 1 to 500" });
                limit = whole.and_then(PageLimit::try_from).map_err(|e| bad(name, e))?;
            }
            other => return Err(bad(other, "is not a filter of this list")),
        }
    }
    Ok((filter, cursor, limit))
}

pub async fn list(caller: Caller, request: HttpRequest, state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let visibility = reading(&caller)?;
    let (filter, cursor, limit) = list_parameters(request.query_string())?;
    state.require_schema()?;
    let browse = state.browse.clone();
    let page = state
        .on_main_runtime(async move { browse.list(filter, cursor.as_ref(), limit, &visibility).await })
        .await?
        .map_err(|error| state.domain_error(error))?;
    let items = page.items.iter().map(RequestBody::from).collect();
    Ok(HttpResponse::Ok().json(RequestList { items, next_cursor: page.next.map(|next| next.encode()) }))
}

/// The request id of the path; one that could never have been assigned
/// names nothing (404).
fn path_id(raw: &str) -> Result<BackupRequestId, ApiError> {
    observe::record_request_id(raw);
    BackupRequestId::try_from(raw).map_err(|_| ApiError::new(ErrorCode::NotFound, format!("backup request {raw} not found")))
}

pub async fn history(caller: Caller, path: web::Path<String>, state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let visibility = reading(&caller)?;
    let id = path_id(&path)?;
    state.require_schema()?;
    let browse = state.browse.clone();
    let changes = state
        .on_main_runtime(async move { browse.history(&id, &visibility).await })
        .await?
        .map_err(|error| state.domain_error(error))?;
    Ok(HttpResponse::Ok().json(History { items: changes.into_iter().map(HistoryEntry::from).collect() }))
}

pub async fn cancel(
    caller: Caller,
    _body: NoParameters,
    path: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let visibility = cancelling(&caller)?;
    let id = path_id(&path)?;
    state.require_schema()?;
    let cancel = state.cancel.clone();
    let who = caller.client_id().to_owned();
    let cancelled = state
        .on_main_runtime(async move { cancel.execute(&id, &visibility, &who).await })
        .await?
        .map_err(|error| state.domain_error(error))?;
    Ok(HttpResponse::Ok().json(RequestBody::from(&cancelled)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn code_and_message(result: Result<(RequestFilter, Option<PageCursor>, PageLimit), ApiError>) -> String {
        let error = result.err().unwrap();
        assert_eq!(error.code, ErrorCode::BadData);
        error.message
    }

    #[test]
    fn each_invalid_parameter_is_bad_data_naming_it() {
        for (query, named) in [
            ("status=received", "status"),
            ("backupJobId=", "backupJobId"),
            ("receivedFrom=yesterday", "receivedFrom"),
            ("receivedTo=2022-05-30", "receivedTo"),
            ("limit=0", "limit"),
            ("limit=501", "limit"),
            ("limit=ten", "limit"),
            ("cursor=zz", "cursor"),
            ("colour=red", "colour"),
        ] {
            let message = code_and_message(list_parameters(query));
            assert!(message.starts_with(named), "{query}: {message}");
        }
    }

    #[test]
    fn an_empty_cursor_is_the_first_page() {
        let (_, cursor, _) = list_parameters("cursor=").unwrap();
        assert_eq!(cursor, None);
    }

    #[test]
    fn valid_parameters_become_the_filter() {
        let (filter, cursor, limit) =
            list_parameters("status=Sent&backupJobId=job-1&receivedFrom=2022-05-30T00:00:00Z&limit=10").unwrap();
        assert_eq!(filter.status, Some(StatusTypeCode::Sent));
        assert_eq!(filter.backup_job_id.unwrap().as_str(), "job-1");
        assert_eq!(filter.received_from.unwrap().to_rfc3339(), "2022-05-30T00:00:00+00:00");
        assert_eq!((cursor, limit.get()), (None, 10));
    }
}
