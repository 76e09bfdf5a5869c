//! Operator endpoints to pause and resume a stage (SPEC §10), for when the
//! BZI announces maintenance or the job service misbehaves: every copy of
//! the stage, on every host, stops taking new work within seconds (the
//! workers read the pauses every second, see `linebacker_platform::pause`)
//! and its messages wait in their queue until it is resumed.
//!
//! - `GET /api/operator/stages` (`read-health`): every stage with its state.
//! - `POST /api/operator/stages/{stage}/pause` and `.../resume` (`operate`,
//!   body `{}`): the stage's entry, also when it already was in that state.
//!
//! `{stage}` is `check-allowed`, `send-to-interface`, `interface-listener`,
//! `receive-status` or `notify-requesters`.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use linebacker_domain::Stage;
use linebacker_domain::request::now;
use linebacker_postgres::StagePause;
use serde::Serialize;

use crate::action::NoParameters;
use crate::auth::{Authorized, Operate, ReadHealth};
use crate::error::{ApiError, ErrorCode};
use crate::state::ApiState;

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(web::resource("/api/operator/stages").route(web::get().to(list)))
        .service(web::resource("/api/operator/stages/{stage}/pause").route(web::post().to(pause)))
        .service(web::resource("/api/operator/stages/{stage}/resume").route(web::post().to(resume)));
}

/// One stage as the API shows it; who paused it and when only while paused.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StageEntry {
    stage: &'static str,
    state: &'static str,
    paused_by: Option<String>,
    paused_at: Option<DateTime<Utc>>,
}

impl StageEntry {
    fn of(stage: Stage, pause: Option<StagePause>) -> Self {
        match pause {
            Some(pause) => Self {
                stage: stage.name(),
                state: "paused",
                paused_by: Some(pause.paused_by),
                paused_at: Some(pause.paused_at),
            },
            None => Self { stage: stage.name(), state: "running", paused_by: None, paused_at: None },
        }
    }
}

async fn list(_caller: Authorized<ReadHealth>, state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    state.require_schema()?;
    let database = state.database.clone();
    let mut paused = state
        .on_main_runtime(async move { database.paused_stages().await })
        .await?
        .map_err(|error| state.domain_error(error))?;
    let stages: Vec<StageEntry> = Stage::ALL
        .iter()
        .map(|&stage| {
            let pause = paused.iter().position(|(of, _)| *of == stage).map(|at| paused.swap_remove(at).1);
            StageEntry::of(stage, pause)
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "stages": stages })))
}

async fn pause(
    caller: Authorized<Operate>,
    _body: NoParameters,
    path: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    set(&state, &path, caller.client_id(), true).await
}

async fn resume(
    caller: Authorized<Operate>,
    _body: NoParameters,
    path: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    set(&state, &path, caller.client_id(), false).await
}

/// Pauses stage `name` for caller `by`, or resumes it; its entry.
async fn set(state: &ApiState, name: &str, by: &str, paused: bool) -> Result<HttpResponse, ApiError> {
    let stage = stage(name)?;
    state.require_schema()?;
    let (database, paused_by) = (state.database.clone(), by.to_owned());
    let pause = state
        .on_main_runtime(async move {
            if paused {
                database.pause_stage(stage, &paused_by, now()).await.map(Some)
            } else {
                database.resume_stage(stage).await.map(|()| None)
            }
        })
        .await?
        .map_err(|error| state.domain_error(error))?;
    let action = if paused { "paused" } else { "resumed" };
    tracing::info!(stage = %stage, by, "stage {action} by an operator");
    Ok(HttpResponse::Ok().json(StageEntry::of(stage, pause)))
}

fn stage(name: &str) -> Result<Stage, ApiError> {
    name.parse().map_err(|_| {
        let known: Vec<&str> = Stage::ALL.iter().map(|stage| stage.name()).collect();
        ApiError::new(ErrorCode::NotFound, format!("no stage is named {name:?}; the stages are {}", known.join(", ")))
    })
}
