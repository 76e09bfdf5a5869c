//! Hoists the correlation fields of the enclosing spans, `trace_id` and
//! `backup_request_id`, onto every log line, so that an operator finds all
//! the lines of one request with a plain filter (`jq 'select(.trace_id == …)'`)
//! instead of searching the span list.

use std::fmt::Write as _;

use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

/// The span fields that tie a line to one request.
pub const FIELDS: [&str; 2] = ["trace_id", "backup_request_id"];

/// The correlation values a span carries; kept in the span's extensions.
#[derive(Debug, Default, Clone)]
struct Correlation([Option<String>; 2]);

impl Visit for Correlation {
    fn record_str(&mut self, field: &Field, value: &str) {
        if let Some(slot) = FIELDS.iter().position(|name| *name == field.name()) {
            self.0[slot] = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        // `%value` fields arrive here, as Display wrapped in Debug.
        if FIELDS.contains(&field.name()) {
            self.record_str(field, &format!("{value:?}"));
        }
    }
}

/// Records the correlation fields of every span, at creation and whenever
/// one is filled in later (`Span::record`).
pub struct CorrelationLayer;

impl<S> Layer<S> for CorrelationLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut correlation = Correlation::default();
        attrs.record(&mut correlation);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(correlation);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut extensions = span.extensions_mut();
            if let Some(correlation) = extensions.get_mut::<Correlation>() {
                values.record(correlation);
            }
        }
    }
}

/// The JSON members (`"trace_id":"…",`) for the correlation values of the
/// innermost spans around an event (`scope` runs from the innermost out),
/// leaving out those the event names itself: a JSON object must not repeat
/// a key.
pub fn members<'a, S>(scope: impl Iterator<Item = SpanRef<'a, S>>, event: &tracing::Event<'_>) -> String
where
    S: for<'l> LookupSpan<'l> + 'a,
{
    let mut found: [Option<String>; 2] = Default::default();
    for (slot, name) in FIELDS.iter().enumerate() {
        if event.metadata().fields().field(name).is_some() {
            found[slot] = Some(String::new());
        }
    }
    for span in scope {
        if found.iter().all(Option::is_some) {
            break;
        }
        if let Some(correlation) = span.extensions().get::<Correlation>() {
            for (slot, value) in correlation.0.iter().enumerate() {
                if found[slot].is_none() {
                    found[slot].clone_from(value);
                }
            }
        }
    }
    let mut members = String::new();
    for (name, value) in FIELDS.iter().zip(found) {
        if let Some(value) = value.filter(|value| !value.is_empty()) {
            let _ = write!(members, "\"{name}\":{},", super::serde_json_string(&value));
        }
    }
    members
}
