//! A worker's zpages (SPEC §7) on its own port, `zpages.base_port` plus its
//! instance number: `livez` (503 once stopping), `readyz` (200 only while its
//! dependencies are usable) and `healthz`.

use std::sync::Arc;
use std::time::Instant;

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;

use crate::host::Host;

struct State {
    host: Arc<Host>,
    started: Instant,
}

async fn livez(state: web::Data<State>) -> HttpResponse {
    if state.host.is_stopping() || state.host.shutdown.is_cancelled() {
        HttpResponse::ServiceUnavailable().json(serde_json::json!({"status": "stopping"}))
    } else {
        HttpResponse::Ok().json(serde_json::json!({"status": "alive"}))
    }
}

async fn readyz(state: web::Data<State>) -> HttpResponse {
    let database = state.host.database.is_ready().await;
    let ready = !state.host.shutdown.is_cancelled() && state.host.is_ready().await;
    let body = serde_json::json!({"ready": ready, "database": database});
    if ready { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}

async fn healthz(state: web::Data<State>) -> HttpResponse {
    let host = &state.host;
    HttpResponse::Ok().json(serde_json::json!({
        "process": host.process,
        "instance": host.settings.instance,
        "version": env!("CARGO_PKG_VERSION"),
        "uptimeSeconds": state.started.elapsed().as_secs(),
        "ready": host.is_ready().await,
        "messages": host.stats.snapshot(),
        "breakers": host.breaker_states(),
    }))
}

/// Binds the zpages port; a port already taken stops the process at start
/// with a message naming the setting.
pub fn serve(host: Arc<Host>) -> anyhow::Result<Server> {
    let address = (host.settings.http.host.clone(), host.settings.zpages_port());
    let state = web::Data::new(State { host, started: Instant::now() });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/livez", web::get().to(livez))
            .route("/readyz", web::get().to(readyz))
            .route("/healthz", web::get().to(healthz))
            .route("/metrics", web::get().to(|state: web::Data<State>| crate::metrics::render(state.host.clone())))
    })
    .workers(1)
    .disable_signals()
    .bind(address.clone())
    .with_context(|| format!("cannot bind the zpages port {}:{} (zpages.base_port + instance)", address.0, address.1))?
    .run();
    Ok(server)
}
