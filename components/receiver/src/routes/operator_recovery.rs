//! `POST /api/operator/recovery`: a recovery pass on demand (SPEC §6), for an
//! operator who restored the database or suspects stranded requests.
//!
//! Re-emits every request still `Received` or `Allowed` that was last changed
//! more than `olderThanSecs` seconds ago (query parameter, default 0: every
//! one). Answers `202` with the pass's summary (`cutoff`, `reemitted`,
//! `received`, `allowed`, `skipped`, `batches`) once the events are in the
//! outbox, or `409 Conflict` when another recovery (in any receiver) holds the
//! lock. The pass runs to its end even if the caller stops waiting.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::TimeDelta;
use linebacker_domain::request::now;
use linebacker_domain::usecase::Recovery;
use serde::Deserialize;

use crate::state::ApiState;
use super::bodies::RecoveryBody;
use crate::action::NoParameters;
use crate::auth::{Authorized, Operate};
use crate::error::{ApiError, ErrorCode};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Params {
    older_than_secs: Option<u32>,
}

pub async fn recover(
    _caller: Authorized<Operate>,
    _body: NoParameters,
    request: HttpRequest,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let params = web::Query::<Params>::from_query(request.query_string())
        .map_err(|_| ApiError::new(ErrorCode::BadData, "olderThanSecs must be a whole number of seconds"))?;
    state.require_schema()?;
    let cutoff = now() - TimeDelta::seconds(i64::from(params.older_than_secs.unwrap_or(0)));
    let recover = state.recover.clone();
    let outcome = state
        .on_main_runtime(async move { recover.execute(cutoff).await })
        .await?
        .map_err(|error| state.domain_error(error))?;
    match outcome {
        Recovery::Completed(summary) => Ok(HttpResponse::Accepted().json(RecoveryBody::from(&summary))),
        Recovery::Busy => Err(ApiError::new(
            ErrorCode::Conflict,
            "another recovery is running; try again once it is done",
        )),
    }
}
