//! `POST /api/backup-requests` and `GET /api/backup-requests/{id}`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpRequest, HttpResponse, web};
use futures::StreamExt;
use linebacker_domain::request::{BackupRequest, BackupRequestId, IdempotencyKey};
use linebacker_domain::StatusTypeCode;
use linebacker_domain::usecase::Created;
use linebacker_runtime::metrics::metrics;

use crate::state::ApiState;
use super::bodies::{RequestBody, RequestViewBody};
use crate::auth::{self, Authorized, Caller};
use crate::body::parse_new_request;
use crate::error::{ApiError, ErrorCode};
use crate::observe;

const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

pub async fn create(
    caller: Authorized<auth::PostBackupRequest>,
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let idempotency_key = idempotency_key(request.headers())?;
    let trace = Some(observe::trace_of(&request).unwrap_or_else(|| observe::incoming_trace(request.headers())));
    let body = read_body(&request, payload, state.body_limit_bytes).await?;
    let new = parse_new_request(&body, caller.requester_id())?;
    state.require_schema()?;
    let create = state.create.clone();
    let created = state
        .on_main_runtime_while_caller_waits(async move { create.execute(new, idempotency_key, trace).await })
        .await?
        .map_err(|error| state.domain_error(error))?;
    let stored = match &created {
        Created::New(stored) | Created::Replayed(stored) => stored,
    };
    observe::record_request_id(stored.backup_request_id().as_str());
    Ok(match created {
        Created::New(stored) => {
            metrics().count_transition("none", StatusTypeCode::Received.as_str());
            stored_response(StatusCode::ACCEPTED, &stored)
        }
        Created::Replayed(original) => stored_response(StatusCode::OK, &original),
    })
}

/// With `read-health` any request, with `get-backup-request` the caller's own.
pub async fn get(
    caller: Caller,
    path: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    super::browse::reading(&caller)?;
    let raw = path.into_inner();
    observe::record_request_id(&raw);
    let not_found = || ApiError::new(ErrorCode::NotFound, format!("backup request {raw} not found"));
    // An id that could never have been assigned names nothing.
    let id = BackupRequestId::try_from(raw.as_str()).map_err(|_| not_found())?;
    state.require_schema()?;
    let get = state.get.clone();
    let view = state
        .on_main_runtime(async move { get.execute(&id).await })
        .await?
        .map_err(|error| state.domain_error(error))?;
    // Another requester's request is not confirmed to exist.
    if !caller.may_read_requests_of(view.request.requester_id()) {
        return Err(not_found());
    }
    Ok(HttpResponse::Ok().json(RequestViewBody::from(&view)))
}

fn stored_response(status: StatusCode, stored: &BackupRequest) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::LOCATION, format!("/api/backup-requests/{}", stored.backup_request_id())))
        .json(RequestBody::from(stored))
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| {
        ApiError::new(ErrorCode::BadData, format!("{IDEMPOTENCY_KEY} must be visible ASCII text"))
    })?;
    IdempotencyKey::try_from(text)
        .map(Some)
        .map_err(|error| ApiError::new(ErrorCode::BadData, format!("{IDEMPOTENCY_KEY} {error}")))
}

/// Reads the body, refusing it as soon as it is known to exceed `limit`.
async fn read_body(request: &HttpRequest, mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, ApiError> {
    let too_large = || ApiError::new(ErrorCode::PayloadTooLarge, format!("the request body must be at most {limit} bytes"));
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| {
            ApiError::new(ErrorCode::InvalidJson, format!("the request body could not be read: {error}"))
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
