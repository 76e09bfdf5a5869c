//! What the receiver notes about every HTTP request: it is handled in a span
//! carrying its trace (the caller's `traceparent` continued, or a new trace),
//! so every line it causes shares the `trace_id` of the request's later steps
//! in the other processes; the trace goes back to the caller in the
//! `traceparent` response header; one line sums the request up; and it is
//! counted for `GET /metrics`, by route pattern, method and status.

use std::future::Future;
use std::time::Instant;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::{HttpMessage, HttpRequest};
use linebacker_runtime::metrics::metrics;
use linebacker_domain::TraceParent;
use tracing::Instrument;
use tracing::field::Empty;

pub const TRACEPARENT: &str = "traceparent";

/// The trace a request is handled under: the next hop of the caller's valid
/// `traceparent`, or a new trace.
pub fn incoming_trace(headers: &HeaderMap) -> TraceParent {
    headers
        .get(TRACEPARENT)
        .and_then(|value| value.to_str().ok())
        .and_then(TraceParent::parse)
        .map_or_else(TraceParent::new_root, |trace| trace.child())
}

/// The trace `observe` chose for this request.
pub fn trace_of(request: &HttpRequest) -> Option<TraceParent> {
    request.extensions().get::<TraceParent>().cloned()
}

/// Names the request a handler is about in the request's span, so the
/// summary line and every later line carry it.
pub fn record_request_id(id: &str) {
    tracing::Span::current().record("backup_request_id", id);
}

/// The middleware (`App::wrap_fn`) that does all of the above.
pub fn observe<S, B>(
    request: ServiceRequest,
    service: &S,
) -> impl Future<Output = Result<ServiceResponse<B>, actix_web::Error>> + use<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    let trace = incoming_trace(request.headers());
    let (method, path) = (request.method().clone(), request.path().to_owned());
    let span = tracing::info_span!(
        "http request",
        %method,
        %path,
        trace_id = trace.trace_id(),
        backup_request_id = Empty
    );
    request.extensions_mut().insert(trace.clone());
    let started = Instant::now();
    let response = span.in_scope(|| service.call(request));
    async move {
        let mut response = response.await?;
        if let Ok(value) = HeaderValue::from_str(&trace.to_string()) {
            response.headers_mut().insert(HeaderName::from_static(TRACEPARENT), value);
        }
        // The pattern, not the path: one series per route, not per id.
        let route = response.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
        metrics().observe_http(&route, method.as_str(), response.status().as_u16(), started.elapsed());
        tracing::info!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "http request"
        );
        Ok(response)
    }
    .instrument(span)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn headers(traceparent: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = traceparent {
            headers.insert(HeaderName::from_static(TRACEPARENT), HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn a_callers_traceparent_is_continued_in_the_same_trace() {
        let caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let trace = incoming_trace(&headers(Some(caller)));
        assert_eq!(trace.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_ne!(trace.to_string(), caller);
    }

    #[test]
    fn without_a_valid_traceparent_a_new_trace_starts() {
        let none = incoming_trace(&headers(None));
        let garbage = incoming_trace(&headers(Some("00-nope")));
        assert_ne!(none.trace_id(), garbage.trace_id());
    }
}
