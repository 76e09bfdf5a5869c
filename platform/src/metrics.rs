//! A worker's `GET /metrics` (on its zpages port): the process's registry,
//! with the message counts of each of its consumers. The consumer counts into
//! `ConsumerStats` (also shown by `healthz`); the Prometheus counters follow
//! those at each scrape, so the two pages can never disagree.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use actix_web::HttpResponse;
use linebacker_domain::ports::WorkQueue;
use linebacker_runtime::metrics::{CONTENT_TYPE, metrics};
use tracing::Instrument;

use crate::host::Host;

pub async fn render(host: Arc<Host>) -> HttpResponse {
    let metrics = metrics();
    for (queue, stats) in host.all_consumer_stats() {
        for (outcome, count) in [
            ("consumed", &stats.consumed),
            ("acked", &stats.acked),
            ("retried", &stats.retried),
            ("dead_lettered", &stats.dead_lettered),
        ] {
            let counter = metrics.messages.with_label_values(&[queue.as_str(), outcome]);
            counter.inc_by(count.load(Ordering::Relaxed).saturating_sub(counter.get()));
        }
    }
    for (name, state) in host.breaker_levels() {
        metrics.breaker_state.with_label_values(&[name]).set(state);
    }
    HttpResponse::Ok().content_type(CONTENT_TYPE).body(metrics.render())
}

/// Handles one delivery in its span (`correlate::message_span`) and times it, from
/// taking the message to settling it.
pub async fn handle_timed<F: Future<Output = ()>>(queue: WorkQueue, span: tracing::Span, handling: F) {
    let started = Instant::now();
    handling.instrument(span).await;
    observe_handling(queue, started.elapsed());
}

fn observe_handling(queue: WorkQueue, elapsed: Duration) {
    metrics().observe_handling(queue.name(), elapsed);
}
