//! The AMQP headers linebacker reads and writes beside the envelope: what a
//! message carries from one attempt to the next and onto its dead-letter
//! queue, and how a copy of a message gets its headers.

use std::collections::BTreeMap;

use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, ShortString};

/// Set by quorum queues on every redelivery: how often the message was
/// handed out before.
pub(crate) const DELIVERY_COUNT_HEADER: &str = "x-delivery-count";
/// The attempt the message is on (1 = first); raised by every retry.
pub(crate) const ATTEMPT_HEADER: &str = "x-linebacker-attempt";
/// Why the previous attempt failed.
pub(crate) const LAST_ERROR_HEADER: &str = "x-linebacker-last-error";
/// Why the message was dead-lettered.
pub(crate) const REASON_HEADER: &str = "x-linebacker-reason";
/// The work queue it was dead-lettered from.
pub(crate) const QUEUE_HEADER: &str = "x-linebacker-queue";
/// When it was dead-lettered (RFC 3339).
pub(crate) const DEAD_LETTERED_AT_HEADER: &str = "x-linebacker-dead-lettered-at";

/// Headers the broker sets on its own deliveries; a copy we publish must not
/// carry them, or the broker's counts would skew ours.
const BROKER_HEADERS: [&str; 2] = [DELIVERY_COUNT_HEADER, "x-death"];

pub(crate) fn header<'a>(properties: &'a BasicProperties, key: &str) -> Option<&'a AMQPValue> {
    properties.headers().as_ref()?.inner().get(key)
}

pub(crate) fn header_text(properties: &BasicProperties, key: &str) -> Option<String> {
    match header(properties, key)? {
        AMQPValue::LongString(text) => Some(String::from_utf8_lossy(text.as_bytes()).into_owned()),
        AMQPValue::ShortString(text) => Some(text.as_str().to_owned()),
        _ => None,
    }
}

/// A whole-number header, whatever integer type the sender chose; negative
/// values count as 0.
pub(crate) fn header_count(properties: &BasicProperties, key: &str) -> Option<u32> {
    let value = whole_number(header(properties, key)?)?;
    Some(u32::try_from(value.max(0)).unwrap_or(u32::MAX))
}

/// A value of any AMQP integer type, as one.
pub(crate) fn whole_number(value: &AMQPValue) -> Option<i64> {
    Some(match value {
        AMQPValue::LongLongInt(n) => *n,
        AMQPValue::LongInt(n) => i64::from(*n),
        AMQPValue::LongUInt(n) => i64::from(*n),
        AMQPValue::ShortInt(n) => i64::from(*n),
        AMQPValue::ShortUInt(n) => i64::from(*n),
        AMQPValue::ShortShortInt(n) => i64::from(*n),
        AMQPValue::ShortShortUInt(n) => i64::from(*n),
        _ => return None,
    })
}

/// The attempt a delivery is on: the attempt its publisher wrote (1 when
/// none), plus the times the broker redelivered this copy (a consumer died
/// holding it).
pub(crate) fn attempt(properties: &BasicProperties) -> u32 {
    let written = header_count(properties, ATTEMPT_HEADER).unwrap_or(1).max(1);
    written.saturating_add(header_count(properties, DELIVERY_COUNT_HEADER).unwrap_or(0))
}

pub(crate) fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(value.into())
}

/// The headers of a copy of `properties`' message: the original ones minus
/// the broker's own and minus `drop`, plus `set`.
pub(crate) fn copied_headers(properties: &BasicProperties, drop: &[&str], set: Vec<(&str, AMQPValue)>) -> FieldTable {
    let mut headers: BTreeMap<ShortString, AMQPValue> =
        properties.headers().as_ref().map(|h| h.inner().clone()).unwrap_or_default();
    for key in BROKER_HEADERS.iter().chain(drop) {
        headers.remove(*key);
    }
    for (key, value) in set {
        headers.insert(key.into(), value);
    }
    headers.into()
}
