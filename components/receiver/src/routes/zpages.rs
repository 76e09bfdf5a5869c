//! The receiver's zpages (SPEC §7), under `/api/zpages/`: probes that need
//! no token (`livez`, `readyz`), its own health, and the health of the whole system
//! (`healthz/all`): every process heard from through its heartbeats, the
//! broker's counts of each work queue, the BZI's queues, and the
//! database's counts of the outbox and of the requests.

use std::future::Future;
use std::time::Duration;

use actix_web::{HttpResponse, web};
use linebacker_domain::DomainError;
use linebacker_runtime::health::{Readiness, liveness};
use serde_json::{Value, json};

use crate::state::ApiState;
use crate::auth::{Authorized, ReadHealth};

/// How long `healthz/all` waits for the broker's or the database's counts
/// before showing them as unavailable.
const COUNTS_TIMEOUT: Duration = Duration::from_secs(3);

/// 200 while the process runs, 503 once it is stopping, so a balancer stops
/// sending it work before it goes away.
pub async fn livez(state: web::Data<ApiState>) -> HttpResponse {
    let stopping = state.stopping.is_cancelled();
    let body = liveness(stopping);
    if stopping { HttpResponse::ServiceUnavailable().json(body) } else { HttpResponse::Ok().json(body) }
}

/// Whether a request could be stored now (the database answers and the
/// schema is in place), with each dependency's state. The broker is
/// reported but does not gate the receiver's readiness: the outbox keeps
/// events until it is back.
async fn readiness(state: &ApiState) -> Readiness {
    let host = state.host.clone();
    match state.on_main_runtime(async move { host.readiness().await }).await {
        Ok(readiness) => readiness,
        Err(_) => Readiness {
            ready: false,
            stopping: state.stopping.is_cancelled(),
            dependencies: json!({ "database": "down", "broker": state.host.bus.state() }),
        },
    }
}

/// 200 only when a request could be stored now.
pub async fn readyz(state: web::Data<ApiState>) -> HttpResponse {
    let readiness = readiness(&state).await;
    let body = readiness.body();
    if readiness.serving() { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}

/// This receiver's health; also what its heartbeat carries.
pub async fn own_health(state: &ApiState) -> Value {
    let host = state.host.clone();
    state.on_main_runtime(async move { host.health().await }).await.unwrap_or(Value::Null)
}

/// `GET /api/zpages/healthz`: process, version, uptime, memory, CPU,
/// dependencies and HTTP request counts; `read-health`, like `healthz/all`,
/// since it shows the same of this process.
pub async fn healthz(_caller: Authorized<ReadHealth>, state: web::Data<ApiState>) -> HttpResponse {
    HttpResponse::Ok().json(own_health(&state).await)
}

/// `GET /api/zpages/healthz/all`: the whole system. Always 200: a part that
/// cannot be read (the broker or the database is away) says so in place,
/// next to everything that could.
pub async fn healthz_all(_caller: Authorized<ReadHealth>, state: web::Data<ApiState>) -> HttpResponse {
    let processes = state.health.roster.processes(own_health(&state).await);
    let stale = processes.iter().filter(|p| p["stale"] == true).count();
    let heartbeat = &state.health.settings;
    HttpResponse::Ok().json(json!({
        "generatedAt": chrono::Utc::now(),
        "heartbeat": {
            "intervalSeconds": heartbeat.interval().as_secs_f64(),
            "staleAfterSeconds": heartbeat.stale_after().as_secs_f64(),
        },
        "summary": { "processes": processes.len(), "stale": stale },
        "processes": processes,
        "queues": queues(&state).await,
        "interfaceQueues": interface_queues(&state).await,
        "database": database_counts(&state).await,
        "sweep": last_sweep(&state).await,
    }))
}

/// The last reconciliation sweep, by any receiver: `{at, reemitted,
/// resent, by}`, or `null` before the first.
async fn last_sweep(state: &ApiState) -> Value {
    let database = state.database.clone();
    match read_within(state, "the database", async move { database.last_sweep().await }).await {
        Ok(Some(sweep)) => json!({
            "at": sweep.swept_at,
            "reemitted": sweep.reemitted,
            "resent": sweep.resent,
            "by": sweep.swept_by,
        }),
        Ok(None) => Value::Null,
        Err(error) => error,
    }
}

/// Each work queue as the broker counts it.
pub(crate) async fn queues(state: &ApiState) -> Value {
    let Some(bus) = state.host.bus.rabbit().cloned() else {
        return json!({ "error": "the in-memory bus has no broker queues" });
    };
    match read_within(state, "the broker", async move { bus.queue_stats().await }).await {
        Ok(stats) => stats
            .into_iter()
            .map(|queue| {
                json!({
                    "queue": queue.queue.name(),
                    "brokerName": queue.name,
                    "depth": queue.ready,
                    "consumers": queue.consumers,
                    "deadLetters": queue.dead_letters,
                    "retrying": queue.retrying,
                })
            })
            .collect(),
        Err(error) => error,
    }
}

/// The BZI's queues as Azure counts them (approximately): requests waiting
/// for the interface, statuses waiting for `interface-listener`, and
/// statuses it parked.
async fn interface_queues(state: &ApiState) -> Value {
    let mut queues = Vec::with_capacity(state.health.interface_queues.len());
    for (role, client) in &state.health.interface_queues {
        let count = match client {
            Ok(client) => {
                let client = client.clone();
                match read_within(state, "the queue service", async move { client.approximate_count().await }).await {
                    Ok(count) => json!({ "approximateCount": count }),
                    Err(error) => error,
                }
            }
            Err(error) => json!({ "error": error }),
        };
        let name = client.as_ref().map(|c| c.name().to_owned()).ok();
        let mut entry = json!({ "queue": role, "name": name });
        if let (Value::Object(entry), Value::Object(count)) = (&mut entry, count) {
            entry.extend(count);
        }
        queues.push(entry);
    }
    Value::from(queues)
}

/// The outbox backlog and the requests per status, from the database.
pub(crate) async fn database_counts(state: &ApiState) -> Value {
    let database = state.database.clone();
    match read_within(state, "the database", async move { database.work_stats().await }).await {
        Ok(stats) => json!({
            "outbox": { "backlog": stats.outbox_backlog, "oldestAgeSeconds": stats.outbox_oldest_age_secs },
            "requests": {
                "byStatus": by_name(stats.requests),
                "oldestWaitingAgeSeconds": by_name(stats.oldest_waiting_age_secs),
            },
        }),
        Err(error) => error,
    }
}

/// Runs `read` on the main runtime (where the pools live) for at most
/// `COUNTS_TIMEOUT`; a failure becomes the `{error}` shown in its place.
async fn read_within<T: Send + 'static>(
    state: &ApiState,
    source: &str,
    read: impl Future<Output = Result<T, DomainError>> + Send + 'static,
) -> Result<T, Value> {
    match state.on_main_runtime(async move { tokio::time::timeout(COUNTS_TIMEOUT, read).await }).await {
        Ok(Ok(Ok(value))) => Ok(value),
        Ok(Ok(Err(error))) => Err(json!({ "error": format!("{error:#}") })),
        Ok(Err(_)) => Err(json!({ "error": format!("{source} did not answer within {COUNTS_TIMEOUT:?}") })),
        Err(_) => Err(json!({ "error": format!("{source} could not be read") })),
    }
}

/// `{"Received": 3, ...}` from `[("Received", 3), ...]`.
fn by_name(counts: Vec<(String, i64)>) -> Value {
    counts.into_iter().map(|(name, count)| (name, Value::from(count))).collect::<serde_json::Map<_, _>>().into()
}
