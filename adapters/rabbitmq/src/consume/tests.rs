//! Parsing deliveries at the edge, without a broker.

// A test that cannot set up fails at once; a panic is the report.
#![allow(clippy::unwrap_used)]

use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable};
use linebacker_domain::ports::{MalformedMessage, WorkQueue};
use linebacker_domain::{DomainEvent, EventType, TraceParent};
use linebacker_testkit::sample_event as event;

use super::decode;
use crate::headers::{ATTEMPT_HEADER, DELIVERY_COUNT_HEADER, attempt};
use crate::publish::TRACEPARENT_HEADER;

fn with_header(key: &str, value: AMQPValue) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert(key.into(), value);
    BasicProperties::default().with_headers(headers)
}

#[test]
fn an_envelope_of_the_queues_source_type_decodes_with_its_traceparent() {
    let trace = TraceParent::new_root();
    let sent = event(EventType::BackupRequestReceived);
    let properties = with_header(TRACEPARENT_HEADER, AMQPValue::LongString(trace.to_string().into()));

    let decoded = decode(WorkQueue::CheckAllowed, &sent.to_json(), &properties).unwrap();

    assert_eq!(decoded, DomainEvent { traceparent: Some(trace), ..sent });
}

#[test]
fn an_unparsable_traceparent_is_dropped_not_fatal() {
    let sent = event(EventType::StoreStatusReceived);
    let properties = with_header(TRACEPARENT_HEADER, AMQPValue::LongString("garbage".into()));

    let decoded = decode(WorkQueue::ReceiveStatus, &sent.to_json(), &properties).unwrap();

    assert_eq!(decoded.traceparent, None);
}

#[test]
fn a_body_that_is_not_an_envelope_is_malformed() {
    for body in [&b"not json"[..], b"{}", br#"{"type":"Nope"}"#, b""] {
        let result = decode(WorkQueue::CheckAllowed, body, &BasicProperties::default());
        assert!(matches!(result, Err(MalformedMessage(_))), "{result:?}");
    }
}

#[test]
fn an_envelope_of_another_type_than_the_queues_source_is_malformed() {
    let sent = event(EventType::BackupRequestAllowed);

    let Err(MalformedMessage(reason)) = decode(WorkQueue::CheckAllowed, &sent.to_json(), &BasicProperties::default())
    else {
        panic!("a BackupRequestAllowed on check-allowed must be refused");
    };

    assert!(reason.contains("BackupRequestAllowed"), "{reason}");
}

#[test]
fn the_attempt_is_one_more_than_the_quorum_queues_delivery_count() {
    assert_eq!(attempt(&BasicProperties::default()), 1);
    assert_eq!(attempt(&with_header(DELIVERY_COUNT_HEADER, AMQPValue::LongLongInt(1))), 2);
    assert_eq!(attempt(&with_header(DELIVERY_COUNT_HEADER, AMQPValue::LongInt(4))), 5);
    assert_eq!(attempt(&with_header(DELIVERY_COUNT_HEADER, AMQPValue::LongLongInt(-3))), 1);
    assert_eq!(attempt(&with_header(DELIVERY_COUNT_HEADER, AMQPValue::LongLongInt(i64::MAX))), u32::MAX);
}

#[test]
fn the_attempt_travels_in_its_header_and_counts_redeliveries_of_the_copy_on_top() {
    assert_eq!(attempt(&with_header(ATTEMPT_HEADER, AMQPValue::LongUInt(3))), 3);
    let mut headers = FieldTable::default();
    headers.insert(ATTEMPT_HEADER.into(), AMQPValue::LongLongInt(3));
    headers.insert(DELIVERY_COUNT_HEADER.into(), AMQPValue::LongLongInt(1));
    assert_eq!(attempt(&BasicProperties::default().with_headers(headers)), 4);
    assert_eq!(attempt(&with_header(ATTEMPT_HEADER, AMQPValue::LongLongInt(0))), 1);
    assert_eq!(attempt(&with_header(ATTEMPT_HEADER, AMQPValue::LongString("2".into()))), 1);
}
