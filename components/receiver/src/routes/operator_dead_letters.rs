//! Operator endpoints for dead letters: the parked messages of each work
//! queue (`<name>.dead`) and of the BZI's `store-statuses-poison`.
//!
//! - `GET /api/operator/dead-letters`: every parking queue with its count.
//! - `GET /api/operator/dead-letters/{queue}[?limit=&messageId=]`: the parked
//!   messages (at most `limit`, default 100), or the one with `messageId`.
//! - `POST /api/operator/dead-letters/{queue}/replay[?messageId=]`: back to
//!   work as a first attempt, one or all.
//! - `DELETE /api/operator/dead-letters/{queue}`: purge.
//!
//! `{queue}` is `check-allowed`, `send-to-interface`, `receive-status` or
//! `store-statuses-poison`.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use linebacker_domain::dead_letter::{DeadLetterQueue, DeadLetters};
use linebacker_platform::DeadLetterView;
use serde::Deserialize;
use serde_json::json;

use crate::state::ApiState;
use crate::action::NoParameters;
use crate::auth::{Authorized, Operate, ReadHealth};
use crate::error::{ApiError, ErrorCode};

pub const DEFAULT_LIMIT: usize = 100;
/// `limit` is 1 to this; the OpenAPI document states the same bounds.
pub const MAX_LIMIT: usize = 10_000;

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(
            web::resource("/api/operator/dead-letters")
                .route(web::get().to(counts)),
        )
        .service(
            web::resource("/api/operator/dead-letters/{queue}")
                .route(web::get().to(list))
                .route(web::delete().to(purge)),
        )
        .service(
            web::resource("/api/operator/dead-letters/{queue}/replay")
                .route(web::post().to(replay)),
        );
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Params {
    limit: Option<usize>,
    message_id: Option<String>,
}

fn params(request: &HttpRequest) -> Result<Params, ApiError> {
    web::Query::<Params>::from_query(request.query_string())
        .map(web::Query::into_inner)
        .map_err(|_| ApiError::new(ErrorCode::BadData, format!("limit must be a whole number from 1 to {MAX_LIMIT}")))
        .and_then(|params| match params.limit {
            Some(limit) if !(1..=MAX_LIMIT).contains(&limit) => {
                Err(ApiError::new(ErrorCode::BadData, format!("limit must be a whole number from 1 to {MAX_LIMIT}")))
            }
            _ => Ok(params),
        })
}

/// The operations on the queue named in the path, or 404.
fn queue(state: &ApiState, name: &str) -> Result<(DeadLetterQueue, Arc<dyn DeadLetters>), ApiError> {
    let queue = DeadLetterQueue::parse(name).ok_or_else(|| {
        let known: Vec<_> = DeadLetterQueue::ALL.iter().map(|q| q.name()).collect();
        ApiError::new(ErrorCode::NotFound, format!("no dead-letter queue {name:?}; one of {}", known.join(", ")))
    })?;
    let letters = state.dead_letters.queue(queue).map_err(|error| state.domain_error(error))?;
    Ok((queue, letters))
}

async fn counts(_caller: Authorized<ReadHealth>, state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let queues = state.dead_letters.clone();
    let counts = state.on_main_runtime(async move { queues.counts().await }).await?;
    Ok(HttpResponse::Ok().json(json!({ "queues": counts })))
}

async fn list(_caller: Authorized<ReadHealth>, request: HttpRequest, path: web::Path<String>, state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let params = params(&request)?;
    let (queue, letters) = queue(&state, &path)?;
    let limit = match params.message_id {
        // One message may sit anywhere in the queue.
        Some(_) => MAX_LIMIT,
        None => params.limit.unwrap_or(DEFAULT_LIMIT),
    };
    let mut items = state
        .on_main_runtime(async move { letters.list(limit).await })
        .await?
        .map_err(|error| state.domain_error(error))?;
    if let Some(id) = &params.message_id {
        items.retain(|item| &item.message_id == id);
        let Some(item) = items.pop() else { return Err(not_parked(queue, id)) };
        return Ok(HttpResponse::Ok().json(DeadLetterView::from(item)));
    }
    let items: Vec<DeadLetterView> = items.into_iter().map(DeadLetterView::from).collect();
    Ok(HttpResponse::Ok().json(json!({ "queue": queue.name(), "items": items })))
}

async fn replay(_caller: Authorized<Operate>, _body: NoParameters, request: HttpRequest, path: web::Path<String>, state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let params = params(&request)?;
    let (queue, letters) = queue(&state, &path)?;
    let id = params.message_id.clone();
    let replayed = state
        .on_main_runtime(async move { letters.replay(id.as_deref()).await })
        .await?
        .map_err(|error| state.domain_error(error))?;
    if let (Some(id), 0) = (&params.message_id, replayed.count) {
        return Err(not_parked(queue, id));
    }
    Ok(HttpResponse::Ok().json(json!({ "queue": queue.name(), "replayed": replayed.count })))
}

async fn purge(_caller: Authorized<Operate>, _body: NoParameters, path: web::Path<String>, state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let (queue, letters) = queue(&state, &path)?;
    let purged = state
        .on_main_runtime(async move { letters.purge().await })
        .await?
        .map_err(|error| state.domain_error(error))?;
    Ok(HttpResponse::Ok().json(json!({ "queue": queue.name(), "purged": purged.count })))
}

fn not_parked(queue: DeadLetterQueue, id: &str) -> ApiError {
    ApiError::new(ErrorCode::NotFound, format!("no dead letter {id} on {}", queue.name()))
}
