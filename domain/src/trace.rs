//! W3C trace context (`traceparent`), so that one request can be followed
//! through every process: each hop keeps the trace id and takes a new span id.

use std::fmt;

use uuid::Uuid;

/// A valid `traceparent` value: `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TraceParent {
    trace_id: String,
    span_id: String,
    flags: String,
}

fn random_hex(len: usize) -> String {
    let hex = Uuid::new_v4().simple().to_string();
    hex[..len].to_owned()
}

fn is_lower_hex(value: &str, len: usize) -> bool {
    value.len() == len && value.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl TraceParent {
    /// Starts a new trace (sampled).
    pub fn new_root() -> Self {
        Self {
            trace_id: random_hex(32),
            span_id: random_hex(16),
            flags: "01".to_owned(),
        }
    }

    /// The next hop of the same trace.
    pub fn child(&self) -> Self {
        Self {
            trace_id: self.trace_id.clone(),
            span_id: random_hex(16),
            flags: self.flags.clone(),
        }
    }

    pub fn trace_id(&self) -> &str {
        &self.trace_id
    }

    /// Parses a header value; anything malformed (including the all-zero ids
    /// the W3C spec forbids) is `None`, and the caller starts a new trace.
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.trim().split('-');
        let (version, trace_id, span_id, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let valid = version == "00"
            && parts.next().is_none()
            && is_lower_hex(trace_id, 32)
            && is_lower_hex(span_id, 16)
            && is_lower_hex(flags, 2)
            && trace_id.bytes().any(|b| b != b'0')
            && span_id.bytes().any(|b| b != b'0');
        valid.then(|| Self {
            trace_id: trace_id.to_owned(),
            span_id: span_id.to_owned(),
            flags: flags.to_owned(),
        })
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "00-{}-{}-{}", self.trace_id, self.span_id, self.flags)
    }
}

#[cfg(test)]
mod tests {
    use super::TraceParent;

    #[test]
    fn a_root_round_trips_through_its_header_value() {
        let root = TraceParent::new_root();
        assert_eq!(TraceParent::parse(&root.to_string()), Some(root));
    }

    #[test]
    fn a_child_keeps_the_trace_id_and_takes_a_new_span() {
        let root = TraceParent::new_root();
        let child = root.child();
        assert_eq!(child.trace_id(), root.trace_id());
        assert_ne!(child.to_string(), root.to_string());
    }

    #[test]
    fn malformed_values_are_refused() {
        for bad in [
            "",
            "00-abc-def-01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad}");
        }
        assert!(TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").is_some());
    }
}
