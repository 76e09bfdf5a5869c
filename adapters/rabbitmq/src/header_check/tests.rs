//! Which headers a worker takes, without a broker.

// A test that cannot set up fails at once; a panic is the report.
#![allow(clippy::unwrap_used)]

use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldArray, FieldTable, LongString};

use super::{HEADERS_MAX, NESTING_MAX, TEXT_MAX, bounded, check_headers};

const WORK: &str = "p.check-allowed";

fn headers(entries: Vec<(&str, AMQPValue)>) -> BasicProperties {
    let mut table = FieldTable::default();
    for (key, value) in entries {
        table.insert(key.into(), value);
    }
    BasicProperties::default().with_headers(table)
}

fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(value.into())
}

fn table(entries: Vec<(&str, AMQPValue)>) -> AMQPValue {
    let mut table = FieldTable::default();
    for (key, value) in entries {
        table.insert(key.into(), value);
    }
    AMQPValue::FieldTable(table)
}

/// An `x-death` entry as the broker writes it when a delay queue's TTL
/// sends a retry copy back to work.
fn death(queue: &str, reason: &str, count: i64) -> AMQPValue {
    table(vec![
        ("count", AMQPValue::LongLongInt(count)),
        ("reason", text(reason)),
        ("queue", text(queue)),
        ("exchange", text("")),
        ("time", AMQPValue::Timestamp(1_700_000_000)),
        ("routing-keys", AMQPValue::FieldArray(FieldArray::from(vec![text(queue)]))),
        ("original-expiration", text("400")),
    ])
}

fn deaths(entries: Vec<AMQPValue>) -> BasicProperties {
    headers(vec![("x-death", AMQPValue::FieldArray(FieldArray::from(entries)))])
}

fn refusal(properties: &BasicProperties) -> String {
    check_headers(properties, WORK).unwrap_err().0
}

#[test]
fn linebackers_own_headers_and_a_retry_copys_x_death_are_taken() {
    let properties = headers(vec![
        ("traceparent", text("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")),
        ("x-backup-request-id", text("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")),
        ("x-linebacker-attempt", AMQPValue::LongUInt(3)),
        ("x-linebacker-last-error", text("database unavailable")),
        ("x-delivery-count", AMQPValue::LongLongInt(2)),
        ("x-first-death-reason", text("expired")),
    ]);
    assert_eq!(check_headers(&properties, WORK), Ok(()));
    assert_eq!(check_headers(&deaths(vec![death("p.check-allowed.retry.1s", "expired", 1)]), WORK), Ok(()));
    assert_eq!(check_headers(&BasicProperties::default(), WORK), Ok(()));
}

#[test]
fn headers_larger_than_the_bound_are_refused() {
    let fits = headers(vec![("x-operator-note", text(&"a".repeat(HEADERS_MAX - 100)))]);
    assert_eq!(check_headers(&fits, WORK), Ok(()));
    let large = headers(vec![("x-operator-note", text(&"a".repeat(60_000)))]);
    assert!(refusal(&large).contains("more than 16384 bytes"), "{}", refusal(&large));
}

#[test]
fn tables_nested_deeper_than_the_bound_are_refused() {
    let nested = |depth: usize| {
        let mut value = text("bottom");
        for _ in 0..depth {
            value = table(vec![("n", value)]);
        }
        headers(vec![("x-nested", value)])
    };
    assert_eq!(check_headers(&nested(NESTING_MAX - 1), WORK), Ok(()));
    for depth in [NESTING_MAX, 100] {
        assert!(refusal(&nested(depth)).contains("nest deeper"), "{depth}");
    }
    let arrays = headers(vec![("x-nested", (0..100).fold(text("x"), |v, _| AMQPValue::FieldArray(vec![v].into())))]);
    assert!(refusal(&arrays).contains("nest deeper"));
}

#[test]
fn linebackers_text_headers_of_another_type_or_not_utf8_are_refused() {
    for key in ["traceparent", "x-backup-request-id", "x-linebacker-last-error"] {
        let not_utf8 = headers(vec![(key, AMQPValue::LongString(LongString::from(vec![0xff, 0xfe, b'a'])))]);
        assert!(refusal(&not_utf8).contains(key), "{key}");
        let number = headers(vec![(key, AMQPValue::LongLongInt(7))]);
        assert!(refusal(&number).contains("not UTF-8 text"), "{key}");
    }
}

#[test]
fn an_attempt_or_delivery_count_that_is_not_a_sane_count_is_refused() {
    for value in [AMQPValue::LongLongInt(0), AMQPValue::LongLongInt(-3), AMQPValue::LongLongInt(i64::MAX), text("2")] {
        let properties = headers(vec![("x-linebacker-attempt", value.clone())]);
        assert!(refusal(&properties).contains("x-linebacker-attempt"), "{value:?}");
    }
    for value in [AMQPValue::LongLongInt(-1), AMQPValue::LongLongInt(1_000_000), AMQPValue::Boolean(true)] {
        let properties = headers(vec![("x-delivery-count", value.clone())]);
        assert!(refusal(&properties).contains("x-delivery-count"), "{value:?}");
    }
}

#[test]
fn a_forged_or_malformed_x_death_is_refused() {
    let forged = [
        headers(vec![("x-death", text("rejected"))]),
        deaths(vec![text("not a table")]),
        deaths(vec![death("p.send-to-interface.retry.1s", "expired", 1)]),
        deaths(vec![death("p.check-allowed.dead", "expired", 1)]),
        deaths(vec![death("p.check-allowed.retry.1s", "rejected", 1)]),
        deaths(vec![death("p.check-allowed.retry.1s", "expired", 0)]),
        deaths(vec![death("p.check-allowed.retry.1s", "expired", i64::MAX)]),
        deaths((0..17).map(|_| death("p.check-allowed.retry.1s", "expired", 1)).collect()),
    ];
    for properties in &forged {
        assert!(refusal(properties).contains("x-death"), "{properties:?}");
    }
}

#[test]
fn a_long_text_is_cut_to_the_bound_on_a_character_boundary() {
    assert_eq!(bounded("short"), "short");
    let long = "é".repeat(TEXT_MAX);
    let cut = bounded(&long);
    assert!(cut.len() <= TEXT_MAX && cut.len() > TEXT_MAX - 2, "{}", cut.len());
    assert!(cut.chars().all(|c| c == 'é'));
}
