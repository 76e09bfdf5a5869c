//! A worker's zpages (SPEC §7) on its own port, `zpages.base_port` plus its
//! instance number: `livez` (503 once stopping), `readyz` (200 only while its
//! dependencies are usable), `healthz` (`Host::health`) and `metrics`.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use actix_web::dev::{Server, Service, ServiceRequest, ServiceResponse};
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use linebacker_runtime::health::liveness;
use linebacker_runtime::metrics::metrics;

use crate::host::Host;

struct State {
    host: Arc<Host>,
}

async fn livez(state: web::Data<State>) -> HttpResponse {
    let stopping = state.host.stopping.is_cancelled();
    let body = liveness(stopping);
    if stopping { HttpResponse::ServiceUnavailable().json(body) } else { HttpResponse::Ok().json(body) }
}

/// `{status, dependencies: {database, broker, <breaker>...}}`, as on the receiver.
async fn readyz(state: web::Data<State>) -> HttpResponse {
    let readiness = state.host.readiness().await;
    let body = readiness.body();
    if readiness.serving() { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}

async fn healthz(state: web::Data<State>) -> HttpResponse {
    HttpResponse::Ok().json(state.host.health().await)
}

/// Counts every answer for `GET /metrics` and `healthz`, by route pattern,
/// method and status.
fn count_http<S, B>(
    request: ServiceRequest,
    service: &S,
) -> impl Future<Output = Result<ServiceResponse<B>, actix_web::Error>> + use<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    let method = request.method().clone();
    let started = Instant::now();
    let response = service.call(request);
    async move {
        let response = response.await?;
        let route = response.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
        metrics().observe_http(&route, method.as_str(), response.status().as_u16(), started.elapsed());
        Ok(response)
    }
}

/// Binds the zpages port; a port already taken stops the process at start
/// with a message naming the setting.
pub fn serve(host: Arc<Host>) -> anyhow::Result<Server> {
    let address = (host.settings.zpages.bind.clone(), host.settings.zpages_port());
    let state = web::Data::new(State { host });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap_fn(count_http)
            .route("/livez", web::get().to(livez))
            .route("/readyz", web::get().to(readyz))
            .route("/healthz", web::get().to(healthz))
            .route("/metrics", web::get().to(|state: web::Data<State>| crate::metrics::render(state.host.clone())))
    })
    .workers(1)
    .disable_signals()
    .bind(address.clone())
    .with_context(|| format!("cannot bind the zpages port {}:{} (zpages.bind, zpages.base_port + instance)", address.0, address.1))?
    .run();
    Ok(server)
}
