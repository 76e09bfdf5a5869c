//! Publishing events: what arrives on the exchange, and where.

// A test that cannot set up fails at once; a panic is the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Fixture, RECEIVE_TIMEOUT, header};
use linebacker_domain::ports::{MessageBus, WorkQueue};
use linebacker_domain::{EventType, TraceParent};
use linebacker_testkit::{WatchQueue, eventually, sample_event as event};

#[tokio::test]
async fn a_published_event_is_one_persistent_json_envelope_with_trace_and_request_id_headers() {
    let fixture = Fixture::new().await;
    let watch = WatchQueue::bind(&fixture.settings.exchange, &["backup-request.received"]).await.unwrap();
    let published = event(EventType::BackupRequestReceived);

    // No declare_topology first: the first publish connects and declares.
    fixture.bus.publish(std::slice::from_ref(&published)).await.unwrap();

    let messages = watch.collect(1, RECEIVE_TIMEOUT, Duration::from_millis(300)).await.unwrap();
    assert_eq!(messages.len(), 1);
    let message = &messages[0].delivery;
    let body: serde_json::Value = serde_json::from_slice(&message.data).unwrap();
    assert_eq!(body["messageId"], published.message_id.to_string());
    assert_eq!(body["type"], "BackupRequestReceived");
    assert_eq!(body["backupRequestId"], published.backup_request_id.to_string());
    assert_eq!(body["data"], serde_json::to_value(&published.payload).unwrap());
    assert!(body["occurredAt"].is_string(), "{body}");
    assert!(body.get("traceparent").is_none(), "the trace context travels in the headers: {body}");

    let properties = &message.properties;
    assert_eq!(*properties.delivery_mode(), Some(2));
    assert_eq!(properties.content_type().as_ref().map(|c| c.as_str()), Some("application/json"));
    assert_eq!(properties.message_id().as_ref().map(|m| m.to_string()), Some(published.message_id.to_string()));
    assert_eq!(properties.kind().as_ref().map(|k| k.as_str()), Some("BackupRequestReceived"));
    assert!(properties.timestamp().is_some());
    let trace = header(properties, "traceparent").expect("a traceparent header");
    assert_eq!(TraceParent::parse(&trace), published.traceparent);
    assert_eq!(header(properties, "x-backup-request-id"), Some(published.backup_request_id.to_string()));

    let work_queue = fixture.work_queue(WorkQueue::CheckAllowed);
    eventually(RECEIVE_TIMEOUT, "the event on check-allowed", || async {
        (fixture.probe.message_count(&work_queue).await.ok()? == 1).then_some(())
    })
    .await
    .unwrap();
    for other in [WorkQueue::SendToInterface, WorkQueue::ReceiveStatus] {
        assert_eq!(fixture.probe.message_count(&fixture.work_queue(other)).await.unwrap(), 0);
    }

    watch.delete().await.unwrap();
    fixture.cleanup().await;
}

#[tokio::test]
async fn a_batch_reaches_the_work_queues_of_its_event_types_and_unbound_types_are_still_confirmed() {
    let fixture = Fixture::new().await;
    let batch = [
        event(EventType::BackupRequestAllowed),
        event(EventType::BackupRequestSent),
        event(EventType::StoreStatusReceived),
        event(EventType::BackupRequestAllowed),
    ];

    fixture.bus.publish(&batch).await.unwrap();

    let expected = [(WorkQueue::CheckAllowed, 0), (WorkQueue::SendToInterface, 2), (WorkQueue::ReceiveStatus, 1)];
    eventually(RECEIVE_TIMEOUT, "the batch on its work queues", || async {
        for (queue, count) in expected {
            if fixture.probe.message_count(&fixture.work_queue(queue)).await.ok()? != count {
                return None;
            }
        }
        Some(())
    })
    .await
    .unwrap();
    fixture.cleanup().await;
}

#[tokio::test]
async fn publishing_nothing_succeeds_without_connecting() {
    let fixture = Fixture::new().await;

    fixture.bus.publish(&[]).await.unwrap();

    assert!(!fixture.bus.is_connected());
    fixture.cleanup().await;
}
