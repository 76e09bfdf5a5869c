//! The simulator's HTTP side: the backup job service API (SPEC §5), a
//! liveness probe and the BZI's statistics.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::{HttpResponse, web};
use linebacker_domain::external::BackupJob;
use serde_json::json;

use crate::stats::Stats;

pub struct HttpState {
    pub jobs: HashMap<String, BackupJob>,
    pub stats: Arc<Stats>,
}

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/backup-jobs/{backupJobId}", web::get().to(backup_job))
        .route("/livez", web::get().to(livez))
        .route("/stats", web::get().to(stats));
}

async fn backup_job(state: web::Data<HttpState>, id: web::Path<String>) -> HttpResponse {
    match state.jobs.get(id.as_str()) {
        Some(job) => HttpResponse::Ok().json(job),
        None => HttpResponse::NotFound()
            .json(json!({"code": "NotFound", "message": format!("backup job {} not found", id.as_str())})),
    }
}

async fn livez() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

async fn stats(state: web::Data<HttpState>) -> HttpResponse {
    HttpResponse::Ok().json(state.stats.snapshot())
}
