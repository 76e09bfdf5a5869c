//! The receiver's zpages (SPEC §7), under `/api/zpages/`: probes that need
//! no token.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::{ApiState, Broker};

/// 200 while the process runs, 503 once it is stopping, so a balancer stops
/// sending it work before it goes away.
pub async fn livez(state: web::Data<ApiState>) -> HttpResponse {
    if state.stopping.is_cancelled() {
        HttpResponse::ServiceUnavailable().json(json!({ "status": "stopping" }))
    } else {
        HttpResponse::Ok().json(json!({ "status": "live" }))
    }
}

/// 200 only when a request could be stored now: the database answers and the
/// schema is in place. The broker is reported but does not gate readiness:
/// the outbox keeps events until it is back.
pub async fn readyz(state: web::Data<ApiState>) -> HttpResponse {
    let database = state.database.clone();
    let database_up = state.on_main_runtime(async move { database.is_ready().await }).await.unwrap_or(false);
    let database = match (database_up, *state.schema_ready.borrow()) {
        (false, _) => "down",
        (true, false) => "migrating",
        (true, true) => "up",
    };
    let broker = match &state.broker {
        Broker::Rabbit(bus) if bus.is_connected() => "up",
        Broker::Rabbit(_) => "down",
        Broker::InMemory => "in-memory",
    };
    let ready = database == "up" && !state.stopping.is_cancelled();
    let body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "dependencies": { "database": database, "broker": broker },
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
