//! Structured JSON logs: one line per event, with the process's service name
//! and instance on every line and the fields of the enclosing spans (such as
//! `backup_request_id`), so one request reads as a story across processes.
//! The request's `trace_id` and `backup_request_id` from the enclosing spans
//! are also lifted to the top of the line (see `correlation`).

mod correlation;

use std::fmt;

use tracing::Subscriber;
use tracing_subscriber::fmt::format::{Format, Json, JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, fmt as tfmt};

pub use correlation::CorrelationLayer;

/// Puts `"service"` and `"instance"` first on every JSON line, then the
/// request's correlation fields.
struct WithProcess {
    inner: Format<Json>,
    prefix: String,
}

impl<S, N> FormatEvent<S, N> for WithProcess
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> tfmt::FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &tracing::Event<'_>) -> fmt::Result {
        let mut line = String::new();
        self.inner.format_event(ctx, Writer::new(&mut line), event)?;
        let correlation = ctx.event_scope().map(|scope| correlation::members(scope, event)).unwrap_or_default();
        match line.strip_prefix('{') {
            Some(rest) => write!(writer, "{{{}{correlation}{rest}", self.prefix),
            None => writer.write_str(&line),
        }
    }
}

/// The level of every process's logs when `RUST_LOG` is not set. PostgreSQL's
/// NOTICEs (sqlx logs them at INFO) are left out: each process applies the
/// migrations at start, and every one after the first would log each
/// `... already exists, skipping`.
const DEFAULT_FILTER: &str = "info,sqlx::postgres::notice=warn";

/// Logs of a process: JSON on stdout, level from `RUST_LOG` (default
/// [`DEFAULT_FILTER`]).
pub fn init(service: &str, instance: u16) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let _ = json_logs(service, instance, std::io::stdout).with(filter).try_init();
}

/// Logs of a command whose output is on stdout (`linebacker-admin`): the
/// same JSON lines, on stderr, so that what it prints stays readable by
/// scripts.
pub fn init_for_command(service: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let _ = json_logs(service, 0, std::io::stderr).with(filter).try_init();
}

/// The JSON log subscriber of one process, writing to `writer`.
fn json_logs<W>(service: &str, instance: u16, writer: W) -> impl Subscriber + for<'a> LookupSpan<'a>
where
    W: for<'w> tfmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let prefix = format!("\"service\":{},\"instance\":{instance},", serde_json_string(service));
    let format = WithProcess {
        inner: tfmt::format().json().flatten_event(true).with_current_span(false).with_span_list(true),
        prefix,
    };
    tracing_subscriber::registry()
        .with(CorrelationLayer)
        .with(tfmt::layer().fmt_fields(JsonFields::new()).event_format(format).with_writer(writer))
}

/// Logs of a test: silent unless `TEST_LOG` is set.
pub fn init_for_tests() {
    if std::env::var_os("TEST_LOG").is_some() {
        init("test", 0);
    }
}

fn serde_json_string(value: &str) -> String {
    let escaped: String = value
        .chars()
        .flat_map(|c| match c {
            '"' => vec!['\\', '"'],
            '\\' => vec!['\\', '\\'],
            c if c.is_control() => format!("\\u{:04x}", c as u32).chars().collect(),
            c => vec![c],
        })
        .collect();
    format!("\"{escaped}\"")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines_of(log: impl FnOnce()) -> Vec<serde_json::Value> {
        let captured = Captured::default();
        let writer = captured.clone();
        tracing::subscriber::with_default(json_logs("check-allowed", 3, move || writer.clone()), log);
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        text.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
    }

    #[test]
    fn the_default_level_leaves_out_postgres_notices_but_keeps_info_and_their_warnings() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = json_logs("check-allowed", 0, move || writer.clone()).with(EnvFilter::new(DEFAULT_FILTER));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "sqlx::postgres::notice", "relation \"outbox\" already exists, skipping");
            tracing::warn!(target: "sqlx::postgres::notice", "a warning from the server");
            tracing::info!("migrations applied");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(!text.contains("already exists"), "{text}");
        assert!(text.contains("a warning from the server"), "{text}");
        assert!(text.contains("migrations applied"), "{text}");
    }

    #[test]
    fn a_line_inside_a_request_span_carries_its_trace_and_request_ids_at_the_top() {
        let lines = lines_of(|| {
            let outer = tracing::info_span!("message", trace_id = "4bf92f3577b34da6a3ce929d0e0e4736");
            let _outer = outer.enter();
            let inner = tracing::info_span!("use case", backup_request_id = %"r-1");
            let _inner = inner.enter();
            tracing::info!("allowed");
        });
        assert_eq!(lines[0]["service"], "check-allowed");
        assert_eq!(lines[0]["instance"], 3);
        assert_eq!(lines[0]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(lines[0]["backup_request_id"], "r-1");
        assert_eq!(lines[0]["message"], "allowed");
    }

    #[test]
    fn an_id_recorded_after_the_span_opened_still_reaches_the_lines_after_it() {
        let lines = lines_of(|| {
            let span = tracing::info_span!("http", trace_id = "t-1", backup_request_id = tracing::field::Empty);
            let _entered = span.enter();
            tracing::info!("before");
            span.record("backup_request_id", "r-2");
            tracing::info!("after");
        });
        assert!(lines[0].get("backup_request_id").is_none());
        assert_eq!(lines[1]["backup_request_id"], "r-2");
        assert_eq!(lines[1]["trace_id"], "t-1");
    }

    #[test]
    fn an_event_naming_the_request_itself_keeps_one_key_and_outside_spans_there_is_none() {
        let captured = Captured::default();
        let writer = captured.clone();
        tracing::subscriber::with_default(json_logs("receive-status", 0, move || writer.clone()), || {
            let span = tracing::info_span!("message", backup_request_id = "from-span");
            span.in_scope(|| tracing::info!(backup_request_id = "from-event", "replied"));
            tracing::info!("no request here");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let first = text.lines().next().unwrap();
        assert_eq!(first.matches("backup_request_id").count(), 2, "the event's and the span list's: {first}");
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines[0]["backup_request_id"], "from-event");
        assert!(lines[1].get("trace_id").is_none() && lines[1].get("backup_request_id").is_none());
    }
}
