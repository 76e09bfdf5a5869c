//! What a delivery's AMQP headers may be before a worker takes it. Any
//! publisher with access to the vhost can set any header, and linebacker
//! copies a message's headers onto its retry and dead-letter copies: headers
//! that are huge, deeply nested, of the wrong type or forged are refused at
//! the edge, so that the message is dead-lettered once, with the reason,
//! without them.

use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable};
use linebacker_domain::ports::MalformedMessage;

use crate::headers::{ATTEMPT_HEADER, DELIVERY_COUNT_HEADER, LAST_ERROR_HEADER, whole_number};
use crate::publish::{REQUEST_ID_HEADER, TRACEPARENT_HEADER};

/// The most bytes a delivery's headers may take, encoded. linebacker's own
/// come to a few hundred bytes (an error text is cut to `TEXT_MAX`); 16 KiB
/// leaves room for an operator's tracing headers while keeping every copy
/// small enough to list by the hundred.
pub(crate) const HEADERS_MAX: usize = 16 * 1024;
/// How deep tables and arrays may nest in the headers. `x-death` is the
/// deepest linebacker meets: an array of tables of arrays, three levels.
pub(crate) const NESTING_MAX: usize = 8;
/// The most bytes of a text linebacker writes into a header (an error, a
/// reason): the rest is cut, so that a growing error text cannot make its own
/// retry copy too large to take.
pub(crate) const TEXT_MAX: usize = 2048;
/// The highest attempt or delivery count a message may claim. A retried
/// message comes back at most `worker.max_attempts` times (10 by default);
/// a count far above any sane limit was written by someone else.
const COUNT_MAX: i64 = 1000;
/// The most entries `x-death` has on a work queue: one per delay queue a
/// retry copy passed, and each copy starts without any.
const DEATHS_MAX: usize = 16;
/// Why the broker dead-letters a message; the only reason a message on a
/// work queue can have come through a delay queue for is `expired`.
const DEATH_REASON: &str = "expired";

/// `Ok` when the headers of a delivery from `work` (the work queue's broker
/// name) are fit to be read and copied; otherwise why not.
pub(crate) fn check_headers(properties: &BasicProperties, work: &str) -> Result<(), MalformedMessage> {
    let Some(headers) = properties.headers() else { return Ok(()) };
    let size = table_size(headers, 1)?;
    if size > HEADERS_MAX {
        return Err(refused(format!("its headers take more than {HEADERS_MAX} bytes")));
    }
    for key in [TRACEPARENT_HEADER, REQUEST_ID_HEADER, LAST_ERROR_HEADER] {
        if let Some(value) = headers.inner().get(key) {
            utf8_text(value).ok_or_else(|| refused(format!("its {key} header is not UTF-8 text")))?;
        }
    }
    for key in [ATTEMPT_HEADER, DELIVERY_COUNT_HEADER] {
        if let Some(value) = headers.inner().get(key) {
            let low = if key == ATTEMPT_HEADER { 1 } else { 0 };
            match whole_number(value) {
                Some(count) if (low..=COUNT_MAX).contains(&count) => {}
                _ => return Err(refused(format!("its {key} header is not a count from {low} to {COUNT_MAX}"))),
            }
        }
    }
    if let Some(deaths) = headers.inner().get("x-death") {
        check_deaths(deaths, work).map_err(|why| refused(format!("its x-death header {why}")))?;
    }
    Ok(())
}

fn refused(why: String) -> MalformedMessage {
    MalformedMessage(format!("the message's headers are refused: {why}"))
}

/// The encoded size of `table` (within a byte or so per value), refusing
/// one nested deeper than `NESTING_MAX` before walking further down.
fn table_size(table: &FieldTable, depth: usize) -> Result<usize, MalformedMessage> {
    let mut size = 4;
    for (key, value) in table.inner() {
        size += 1 + key.as_str().len() + value_size(value, depth)?;
    }
    Ok(size)
}

fn value_size(value: &AMQPValue, depth: usize) -> Result<usize, MalformedMessage> {
    let nested = || {
        if depth >= NESTING_MAX {
            Err(refused(format!("its headers nest deeper than {NESTING_MAX} levels")))
        } else {
            Ok(depth + 1)
        }
    };
    let payload = match value {
        AMQPValue::FieldTable(table) => table_size(table, nested()?)?,
        AMQPValue::FieldArray(array) => {
            let depth = nested()?;
            let mut size = 4;
            for item in array.as_slice() {
                size += value_size(item, depth)?;
            }
            size
        }
        AMQPValue::LongString(text) => 4 + text.as_bytes().len(),
        AMQPValue::ShortString(text) => 1 + text.as_str().len(),
        AMQPValue::ByteArray(bytes) => 4 + bytes.as_slice().len(),
        _ => 8,
    };
    Ok(1 + payload)
}

/// A header's text, when it is text and UTF-8.
fn utf8_text(value: &AMQPValue) -> Option<&str> {
    match value {
        AMQPValue::LongString(text) => std::str::from_utf8(text.as_bytes()).ok(),
        AMQPValue::ShortString(text) => Some(text.as_str()),
        _ => None,
    }
}

/// `x-death` as the broker writes it on a message that waited in one of
/// `work`'s delay queues: a short array of tables, each naming such a queue,
/// the reason `expired` and a count. Anything else was not written by the
/// broker on the way back to `work`.
fn check_deaths(deaths: &AMQPValue, work: &str) -> Result<(), String> {
    let AMQPValue::FieldArray(deaths) = deaths else { return Err("is not an array".to_owned()) };
    if deaths.as_slice().len() > DEATHS_MAX {
        return Err(format!("has more than {DEATHS_MAX} entries"));
    }
    let delay_queues = format!("{work}.retry.");
    for death in deaths.as_slice() {
        let AMQPValue::FieldTable(death) = death else { return Err("holds something else than tables".to_owned()) };
        let field = |key: &str| death.inner().get(key);
        let queue = field("queue").and_then(utf8_text).ok_or("has an entry without a queue")?;
        if !queue.starts_with(&delay_queues) {
            return Err(format!("names a queue that does not lead back to {work}"));
        }
        if field("reason").and_then(utf8_text) != Some(DEATH_REASON) {
            return Err(format!("has an entry whose reason is not {DEATH_REASON}"));
        }
        if !field("count").and_then(whole_number).is_some_and(|count| (1..=COUNT_MAX).contains(&count)) {
            return Err(format!("has an entry whose count is not from 1 to {COUNT_MAX}"));
        }
    }
    Ok(())
}

/// `text` cut to at most `TEXT_MAX` bytes, on a character boundary, for a
/// header linebacker writes.
pub(crate) fn bounded(text: &str) -> &str {
    if text.len() <= TEXT_MAX {
        return text;
    }
    let mut end = TEXT_MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests;
