//! Structured JSON logs: one line per event, with the process's service name
//! and instance on every line and the fields of the enclosing spans (such as
//! `backup_request_id`), so one request reads as a story across processes.

use std::fmt;

use tracing::Subscriber;
use tracing_subscriber::fmt::format::{Format, Json, JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, fmt as tfmt};

/// Puts `"service"` and `"instance"` first on every JSON line.
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
        match line.strip_prefix('{') {
            Some(rest) => write!(writer, "{{{}{rest}", self.prefix),
            None => writer.write_str(&line),
        }
    }
}

/// Logs of a process: JSON on stdout, level from `RUST_LOG` (default `info`).
pub fn init(service: &str, instance: u16) {
    let prefix = format!(
        "\"service\":{},\"instance\":{instance},",
        serde_json_string(service)
    );
    let format = WithProcess {
        inner: tfmt::format().json().flatten_event(true).with_current_span(false).with_span_list(true),
        prefix,
    };
    let _ = tfmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .fmt_fields(JsonFields::new())
        .event_format(format)
        .try_init();
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
