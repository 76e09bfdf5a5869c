//! Taking the dashboard's samples of the system every `SAMPLE_EVERY` (see
//! `ring` for what a sample holds and how long it is kept).

use chrono::Utc;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::ring::{SAMPLE_EVERY, Sample};
use crate::state::ApiState;

/// Takes one sample of the system now.
async fn take(state: &ApiState) -> Sample {
    let at = Utc::now();
    let since = state.samples.last_at().unwrap_or(at - chrono::TimeDelta::seconds(SAMPLE_EVERY.as_secs() as i64));
    let database = crate::routes::zpages::database_counts(state).await;
    let requests = database.get("requests").map(|r| r["byStatus"].clone()).unwrap_or(database);
    let db = state.database.clone();
    let changes = match state.on_main_runtime(async move { db.status_changes_since(since).await }).await {
        Ok(Ok(changes)) => changes.into_iter().map(|(status, n)| (status, Value::from(n))).collect::<serde_json::Map<_, _>>().into(),
        Ok(Err(error)) => json!({ "error": format!("{error:#}") }),
        Err(_) => json!({ "error": "the database could not be read" }),
    };
    Sample { at, requests, changes, queues: crate::routes::zpages::queues(state).await }
}

/// Samples every `SAMPLE_EVERY` until `stop`, starting at once (after the
/// schema is there) so that a freshly started receiver has a first point.
pub fn spawn_sampling(state: actix_web::web::Data<ApiState>, stop: CancellationToken) {
    tokio::spawn(async move {
        let mut schema = state.schema_ready.clone();
        tokio::select! {
            _ = schema.wait_for(|ready| *ready) => {}
            () = stop.cancelled() => return,
        }
        let mut ticks = tokio::time::interval(SAMPLE_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = stop.cancelled() => return,
            }
            let sample = take(&state).await;
            state.samples.push(sample);
        }
    });
}
