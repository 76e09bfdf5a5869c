//! The process's Prometheus metrics (SPEC §7, `GET /metrics`): one registry
//! per process, like its one log subscriber, so every part of the process
//! counts into it without being handed a handle.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus::core::Collector;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    /// HTTP requests by route pattern, method and status.
    pub http_requests: IntCounterVec,
    /// Their latency, by the same labels.
    pub http_duration: HistogramVec,
    /// Messages taken from a queue, by how they were settled.
    pub messages: IntCounterVec,
    pub handling_duration: HistogramVec,
    /// Read from the database when scraped (by the receiver).
    pub requests: IntGaugeVec,
    pub outbox_backlog: IntGauge,
    /// Age of the oldest unpublished event: the relay's publish lag.
    pub outbox_oldest_age: IntGauge,
    /// Time from an event's commit to the broker's confirm, per event this
    /// process's relay published.
    pub outbox_publish_lag: HistogramVec,
    /// A worker's circuit breakers: 0 closed, 1 half-open, 2 open.
    pub breaker_state: IntGaugeVec,
    /// Status changes this process committed, by the status left (`none`
    /// for a new request) and the status reached.
    pub transitions: IntCounterVec,
    /// Reconciliation sweeps this process ran (SPEC §9), and the requests
    /// they put back in motion (re-emitted or resent).
    pub sweep_runs: IntCounter,
    pub sweep_reemitted: IntCounter,
    /// Terminal requests deleted by retention passes, by status (SPEC §10).
    pub pruned: IntCounterVec,
}

fn build() -> Result<Metrics, prometheus::Error> {
    let registry = Registry::new_custom(Some("linebacker".to_owned()), None)?;
    let http_requests = IntCounterVec::new(
        Opts::new("http_requests_total", "HTTP requests answered"),
        &["route", "method", "status"],
    )?;
    let http_duration = HistogramVec::new(
        HistogramOpts::new("http_request_duration_seconds", "Time to answer an HTTP request"),
        &["route", "method", "status"],
    )?;
    let messages = IntCounterVec::new(
        Opts::new("messages_total", "Messages taken from a work queue, by outcome (consumed, acked, retried, dead_lettered)"),
        &["queue", "outcome"],
    )?;
    let handling_duration = HistogramVec::new(
        HistogramOpts::new("message_handling_duration_seconds", "Time from taking a message to settling it"),
        &["queue"],
    )?;
    let requests = IntGaugeVec::new(Opts::new("requests", "Backup requests per status"), &["status"])?;
    let outbox_backlog = IntGauge::new("outbox_backlog", "Events in the outbox, not yet confirmed by the broker")?;
    let outbox_oldest_age =
        IntGauge::new("outbox_oldest_age_seconds", "Age of the oldest event still in the outbox")?;
    let outbox_publish_lag = HistogramVec::new(
        HistogramOpts::new("outbox_publish_lag_seconds", "Time from an event's commit to its publish confirm, by event")
            .buckets(vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0]),
        &["event"],
    )?;
    let breaker_state =
        IntGaugeVec::new(Opts::new("breaker_state", "Circuit breaker: 0 closed, 1 half-open, 2 open"), &["breaker"])?;
    let transitions = IntCounterVec::new(
        Opts::new("request_status_transitions_total", "Backup request status changes committed by this process"),
        &["from", "to"],
    )?;
    registry.register(Box::new(http_requests.clone()))?;
    registry.register(Box::new(http_duration.clone()))?;
    registry.register(Box::new(messages.clone()))?;
    registry.register(Box::new(handling_duration.clone()))?;
    registry.register(Box::new(requests.clone()))?;
    registry.register(Box::new(outbox_backlog.clone()))?;
    registry.register(Box::new(outbox_oldest_age.clone()))?;
    registry.register(Box::new(outbox_publish_lag.clone()))?;
    registry.register(Box::new(breaker_state.clone()))?;
    let sweep_runs = IntCounter::new("sweep_runs_total", "Reconciliation sweeps run by this process")?;
    let sweep_reemitted = IntCounter::new(
        "sweep_reemitted_total",
        "Stalled requests re-emitted, and overdue Sent ones resent, by this process's sweeps",
    )?;
    registry.register(Box::new(transitions.clone()))?;
    registry.register(Box::new(sweep_runs.clone()))?;
    registry.register(Box::new(sweep_reemitted.clone()))?;
    let pruned = IntCounterVec::new(
        Opts::new("pruned_requests_total", "Terminal requests deleted by this process's retention passes"),
        &["status"],
    )?;
    registry.register(Box::new(pruned.clone()))?;
    Ok(Metrics {
        registry,
        http_requests,
        http_duration,
        messages,
        handling_duration,
        requests,
        outbox_backlog,
        outbox_oldest_age,
        outbox_publish_lag,
        breaker_state,
        transitions,
        sweep_runs,
        sweep_reemitted,
        pruned,
    })
}

static METRICS: OnceLock<Metrics> = OnceLock::new();

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    // The names and labels above are constants: building cannot fail at run
    // time unless they are edited into something invalid, which the tests catch.
    #[allow(clippy::expect_used)]
    METRICS.get_or_init(|| build().expect("the metric definitions are valid"))
}

impl Metrics {
    pub fn observe_http(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let method = method_label(method);
        let status = status.to_string();
        self.http_requests.with_label_values(&[route, method, &status]).inc();
        self.http_duration.with_label_values(&[route, method, &status]).observe(elapsed.as_secs_f64());
    }

    pub fn count_message(&self, queue: &str, outcome: &str) {
        self.messages.with_label_values(&[queue, outcome]).inc();
    }

    pub fn observe_handling(&self, queue: &str, elapsed: Duration) {
        self.handling_duration.with_label_values(&[queue]).observe(elapsed.as_secs_f64());
    }

    /// Observes the publish lag of events the broker just confirmed.
    pub fn observe_published(&self, events: &[linebacker_domain::DomainEvent]) {
        let now = chrono::Utc::now();
        for event in events {
            let lag = (now - event.occurred_at).to_std().unwrap_or_default();
            self.outbox_publish_lag.with_label_values(&[event.event_type.name()]).observe(lag.as_secs_f64());
        }
    }

    /// Counts a committed status change.
    pub fn count_transition(&self, from: &str, to: &str) {
        self.transitions.with_label_values(&[from, to]).inc();
    }

    /// Every series of `http_requests`: its labels and its count.
    pub fn gather_http_requests(&self) -> Vec<(Vec<(String, String)>, u64)> {
        self.http_requests
            .collect()
            .iter()
            .flat_map(|family| family.get_metric())
            .map(|metric| {
                let labels =
                    metric.get_label().iter().map(|pair| (pair.name().to_owned(), pair.value().to_owned())).collect();
                (labels, metric.get_counter().get_value() as u64)
            })
            .collect()
    }

    /// Everything, in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut text = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut text) {
            tracing::warn!(error = %error, "metrics could not be encoded");
        }
        String::from_utf8_lossy(&text).into_owned()
    }
}

/// The methods counted under their own name. Any caller, without a token,
/// can send a request with a method it invents; counted by name, each would
/// be a new series here and in every heartbeat and `healthz` that carries
/// the counts, without bound.
const COUNTED_METHODS: [&str; 9] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"];

/// The `method` label of a request: its method when it is a standard one,
/// `other` otherwise.
pub fn method_label(method: &str) -> &str {
    COUNTED_METHODS.into_iter().find(|known| *known == method).unwrap_or("other")
}

/// The content type of `render`'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn counted_requests_and_messages_show_in_the_text_format() {
        let metrics = metrics();
        metrics.observe_http("/api/backup-requests", "POST", 202, Duration::from_millis(3));
        metrics.count_message("check-allowed", "acked");
        metrics.requests.with_label_values(&["Received"]).set(4);
        metrics.count_transition("Received", "Allowed");
        metrics.breaker_state.with_label_values(&["database"]).set(2);
        metrics.observe_published(&[linebacker_testkit::sample_event(linebacker_domain::EventType::BackupRequestAllowed)]);
        let text = metrics.render();
        assert!(text.contains(r#"linebacker_http_requests_total{method="POST",route="/api/backup-requests",status="202"} 1"#), "{text}");
        assert!(text.contains("linebacker_http_request_duration_seconds_bucket"), "{text}");
        assert!(text.contains(r#"linebacker_messages_total{outcome="acked",queue="check-allowed"} 1"#), "{text}");
        assert!(text.contains(r#"linebacker_requests{status="Received"} 4"#), "{text}");
        assert!(text.contains(r#"linebacker_request_status_transitions_total{from="Received",to="Allowed"} 1"#), "{text}");
        assert!(text.contains(r#"linebacker_breaker_state{breaker="database"} 2"#), "{text}");
        assert!(text.contains(r#"linebacker_outbox_publish_lag_seconds_count{event="BackupRequestAllowed"} 1"#), "{text}");
    }

    #[test]
    fn invented_methods_are_counted_in_one_other_series() {
        let metrics = metrics();
        let route = "/test/invented-methods";
        for method in ["FOO", "BAR", "get", "PROPFIND", "X".repeat(200).as_str()] {
            metrics.observe_http(route, method, 405, Duration::from_millis(1));
        }
        metrics.observe_http(route, "DELETE", 405, Duration::from_millis(1));
        let mut methods: Vec<(String, u64)> = metrics
            .gather_http_requests()
            .into_iter()
            .filter(|(labels, _)| labels.iter().any(|(name, value)| name == "route" && value == route))
            .filter_map(|(labels, count)| {
                labels.into_iter().find(|(name, _)| name == "method").map(|(_, method)| (method, count))
            })
            .collect();
        methods.sort();
        assert_eq!(methods, vec![("DELETE".to_owned(), 1), ("other".to_owned(), 5)]);
    }
}
