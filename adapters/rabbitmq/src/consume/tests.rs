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
fn an_envelope_whose_data_is_not_what_its_type_carries_is_malformed() {
    let mut body: serde_json::Value = serde_json::from_slice(&event(EventType::StoreStatusReceived).to_json()).unwrap();
    body["data"] = serde_json::json!({ "backupJobId": "job-17", "dataDate": "2022-05-30" });

    let result = decode(WorkQueue::ReceiveStatus, body.to_string().as_bytes(), &BasicProperties::default());

    assert!(matches!(&result, Err(MalformedMessage(reason)) if reason.contains("not a store status")), "{result:?}");
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

mod properties {
    use proptest::prelude::*;

    use super::*;

    fn event_type() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => Just("BackupRequestReceived".to_owned()),
            3 => Just("BackupRequestAllowed".to_owned()),
            3 => Just("StoreStatusReceived".to_owned()),
            1 => "[A-Za-z]{0,24}",
        ]
    }

    fn json_leaf() -> impl Strategy<Value = serde_json::Value> {
        prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            // Floats are left out: serde_json (without `float_roundtrip`)
            // may read a long float back one ulp off. No event carries one.
            ".{0,16}".prop_map(serde_json::Value::from),
        ]
    }

    fn json() -> impl Strategy<Value = serde_json::Value> {
        json_leaf().prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::btree_map(".{0,8}", inner, 0..4)
                    .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
            ]
        })
    }

    /// The data an event of `event_type` carries, as JSON.
    fn data_of(event_type: EventType) -> serde_json::Value {
        serde_json::to_value(&event(event_type).payload).unwrap()
    }

    /// Data of either kind, or any JSON at all.
    fn data() -> impl Strategy<Value = serde_json::Value> {
        prop_oneof![
            Just(data_of(EventType::BackupRequestReceived)),
            Just(data_of(EventType::StoreStatusReceived)),
            json(),
        ]
    }

    /// Envelopes that are often, but not always, well formed.
    fn envelope() -> impl Strategy<Value = Vec<u8>> {
        let message_id = prop_oneof![any::<u128>().prop_map(|n| uuid::Uuid::from_u128(n).to_string()), ".{0,40}"];
        (message_id, event_type(), -10_000_000_000i64..10_000_000_000i64, ".{0,40}", data()).prop_map(
            |(message_id, kind, secs, request_id, data)| {
                let occurred_at = chrono::DateTime::from_timestamp(secs, 0).map(|at| at.to_rfc3339());
                serde_json::json!({
                    "messageId": message_id, "type": kind, "occurredAt": occurred_at,
                    "backupRequestId": request_id, "data": data,
                })
                .to_string()
                .into_bytes()
            },
        )
    }

    fn every_queue() -> impl Strategy<Value = WorkQueue> {
        prop::sample::select(WorkQueue::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn any_bytes_decode_or_are_refused_without_a_panic(body in prop::collection::vec(any::<u8>(), 0..512), queue in every_queue()) {
            let _ = decode(queue, &body, &BasicProperties::default());
        }

        #[test]
        fn every_decoded_envelope_encodes_back_to_the_same_event(body in envelope()) {
            for queue in WorkQueue::ALL {
                if let Ok(decoded) = decode(*queue, &body, &BasicProperties::default()) {
                    let again = decode(*queue, &serde_json::to_vec(&decoded).unwrap(), &BasicProperties::default()).unwrap();
                    prop_assert_eq!(again, decoded);
                }
            }
        }
    }
}
