//! Domain events: what happened to a backup request, as the rest of the system
//! hears about it. On the wire an event is the JSON envelope of SPEC §4
//! (`messageId`, `type`, `occurredAt`, `backupRequestId`, `data`); its trace
//! context travels beside it (AMQP headers), not inside.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::external::StoreStatus;
use crate::request::{BackupRequest, BackupRequestId, RequestSnapshot, now};
use crate::trace::TraceParent;

/// Identifies one event; consumers use it to recognise a redelivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageId(Uuid);

impl MessageId {
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }

    pub fn as_uuid(self) -> Uuid {
        self.0
    }
}

impl From<Uuid> for MessageId {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The kinds of event, with their names (the envelope's `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum EventType {
    BackupRequestReceived,
    BackupRequestAllowed,
    BackupRequestNotAllowed,
    BackupRequestSent,
    StoreStatusReceived,
    BackupRequestSucceeded,
    BackupRequestFailed,
}

impl EventType {
    pub const ALL: &'static [EventType] = &[
        Self::BackupRequestReceived,
        Self::BackupRequestAllowed,
        Self::BackupRequestNotAllowed,
        Self::BackupRequestSent,
        Self::StoreStatusReceived,
        Self::BackupRequestSucceeded,
        Self::BackupRequestFailed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::BackupRequestReceived => "BackupRequestReceived",
            Self::BackupRequestAllowed => "BackupRequestAllowed",
            Self::BackupRequestNotAllowed => "BackupRequestNotAllowed",
            Self::BackupRequestSent => "BackupRequestSent",
            Self::StoreStatusReceived => "StoreStatusReceived",
            Self::BackupRequestSucceeded => "BackupRequestSucceeded",
            Self::BackupRequestFailed => "BackupRequestFailed",
        }
    }
}

impl TryFrom<&str> for EventType {
    type Error = String;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::ALL
            .iter()
            .copied()
            .find(|t| t.name() == value)
            .ok_or_else(|| format!("unknown event type {value:?}"))
    }
}

impl TryFrom<String> for EventType {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::try_from(value.as_str())
    }
}

impl From<EventType> for &'static str {
    fn from(value: EventType) -> Self {
        value.name()
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What an event says, typed by its kind: the request as it stood after the
/// step, for every `BackupRequest…` event, or the BZI's status, for
/// `StoreStatusReceived`. On the wire it is the envelope's `data`, the
/// value itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum EventPayload {
    Request(RequestSnapshot),
    Status(StoreStatus),
}

/// A message that reached a consumer but is not a valid event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed message: {0}")]
pub struct MalformedMessage(pub String);

/// One event: the envelope of SPEC §4 plus the trace context it travels with.
/// Build one with [`DomainEvent::about`] or [`DomainEvent::status_received`],
/// read one with [`DomainEvent::from_json`]: each keeps the payload the kind
/// its type says.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainEvent {
    pub message_id: MessageId,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub occurred_at: DateTime<Utc>,
    pub backup_request_id: BackupRequestId,
    #[serde(rename = "data")]
    pub payload: EventPayload,
    /// Carried in AMQP headers, not in the body.
    #[serde(skip)]
    pub traceparent: Option<TraceParent>,
}

/// The envelope as it arrives, its `data` not yet read: what it must hold
/// depends on `type`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    message_id: MessageId,
    #[serde(rename = "type")]
    event_type: EventType,
    occurred_at: DateTime<Utc>,
    backup_request_id: BackupRequestId,
    data: serde_json::Value,
}

impl DomainEvent {
    /// An event about `request` whose data is the request as it now stands.
    pub fn about(event_type: EventType, request: &BackupRequest, trace: Option<&TraceParent>) -> Self {
        Self {
            message_id: MessageId::generate(),
            event_type,
            occurred_at: now(),
            backup_request_id: request.backup_request_id().clone(),
            payload: EventPayload::Request(request.snapshot()),
            traceparent: trace.map(TraceParent::child),
        }
    }

    /// `StoreStatusReceived`: the BZI's status of the request it names.
    pub fn status_received(status: StoreStatus, trace: Option<TraceParent>) -> Self {
        Self {
            message_id: MessageId::generate(),
            event_type: EventType::StoreStatusReceived,
            occurred_at: now(),
            backup_request_id: status.backup_request_id.clone(),
            payload: EventPayload::Status(status),
            traceparent: trace,
        }
    }

    /// The envelope as JSON bytes (the message body).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads an envelope (a message body, an outbox row), its `data` as the
    /// payload its `type` carries. Anything else (not an envelope, data of
    /// another shape, a status with values the contract refuses) is
    /// malformed. The trace context is not in the body: `traceparent` is
    /// `None`.
    pub fn from_json(body: &[u8]) -> Result<Self, MalformedMessage> {
        let envelope: Envelope = serde_json::from_slice(body)
            .map_err(|error| MalformedMessage(format!("the body is not an event envelope: {error}")))?;
        let event_type = envelope.event_type;
        let unreadable = |error: String| MalformedMessage(format!("the data of a {event_type} event is {error}"));
        let payload = match event_type {
            EventType::StoreStatusReceived => {
                let status: StoreStatus = serde_json::from_value(envelope.data)
                    .map_err(|error| unreadable(format!("not a store status: {error}")))?;
                status.check_values().map_err(|why| unreadable(format!("not a valid store status: {why}")))?;
                EventPayload::Status(status)
            }
            _ => EventPayload::Request(
                serde_json::from_value(envelope.data)
                    .map_err(|error| unreadable(format!("not a backup request: {error}")))?,
            ),
        };
        Ok(Self {
            message_id: envelope.message_id,
            event_type,
            occurred_at: envelope.occurred_at,
            backup_request_id: envelope.backup_request_id,
            payload,
            traceparent: None,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::external::ResultTypeCode;

    /// A `BackupRequestAllowed` envelope as linebacker has always written it
    /// (field for field, in this order): on the broker and in the outbox.
    const ALLOWED: &str = concat!(
        r#"{"messageId":"0191e1a4-0000-7000-8000-000000000000","type":"BackupRequestAllowed","#,
        r#""occurredAt":"2022-05-30T10:00:00.123456Z","backupRequestId":"r-1","data":{"#,
        r#""backupRequestId":"r-1","backupJobId":"job-17","dataDate":"2022-05-30","#,
        r#""preparedDataPathName":"/prepared/job-17","statusTypeCode":"Allowed","transportTypeCode":"HTTP","#,
        r#""requesterId":"","backupProviderCode":"CloudA","storagePathName":"/store/job-17","#,
        r#""receivedTimestamp":"2022-05-30T09:59:59.500Z","checkedTimestamp":"2022-05-30T10:00:00.123456Z","#,
        r#""sentToInterfaceTimestamp":null,"replyTimestamp":null,"replyMessageText":null,"notAllowedReason":null}}"#
    );

    /// A `StoreStatusReceived` envelope as interface-listener writes it.
    const STATUS: &str = concat!(
        r#"{"messageId":"0191e1a4-0000-7000-8000-000000000001","type":"StoreStatusReceived","#,
        r#""occurredAt":"2022-05-31T01:10:00Z","backupRequestId":"r-1","data":{"apiVersion":"2022-05-22","#,
        r#""backupRequestId":"r-1","resultTypeCode":"Succeeded","storagePathName":"/store/r-1","#,
        r#""backupByteCount":42,"copyStartTimestamp":"2022-05-31T01:00:00Z","#,
        r#""copyEndTimestamp":"2022-05-31T01:05:00Z","verifiedHash":"abc"}}"#
    );

    #[test]
    fn a_stored_request_envelope_reads_as_its_request_and_writes_back_byte_for_byte() {
        let event = DomainEvent::from_json(ALLOWED.as_bytes()).unwrap();
        assert_eq!(event.event_type, EventType::BackupRequestAllowed);
        let EventPayload::Request(request) = &event.payload else { panic!("{:?}", event.payload) };
        assert_eq!(request.status_type_code, crate::StatusTypeCode::Allowed);
        assert_eq!(request.storage_path_name.as_deref(), Some("/store/job-17"));
        assert_eq!(String::from_utf8(event.to_json()).unwrap(), ALLOWED);
    }

    #[test]
    fn a_status_envelope_reads_as_its_status_and_writes_back_byte_for_byte() {
        let event = DomainEvent::from_json(STATUS.as_bytes()).unwrap();
        let EventPayload::Status(status) = &event.payload else { panic!("{:?}", event.payload) };
        assert_eq!(status.result_type_code, ResultTypeCode::Succeeded);
        assert_eq!(status.backup_byte_count, Some(42));
        assert_eq!(String::from_utf8(event.to_json()).unwrap(), STATUS);
    }

    #[test]
    fn data_that_is_not_what_the_type_carries_is_malformed() {
        let swapped_types = [
            ALLOWED.replace("BackupRequestAllowed", "StoreStatusReceived"),
            STATUS.replace("StoreStatusReceived", "BackupRequestReceived"),
        ];
        for body in swapped_types {
            let Err(MalformedMessage(reason)) = DomainEvent::from_json(body.as_bytes()) else {
                panic!("accepted {body}");
            };
            assert!(reason.contains("the data of a"), "{reason}");
        }
        let negative = STATUS.replace(r#""backupByteCount":42"#, r#""backupByteCount":-1"#);
        let Err(MalformedMessage(reason)) = DomainEvent::from_json(negative.as_bytes()) else {
            panic!("accepted a negative byte count");
        };
        assert!(reason.contains("backupByteCount"), "{reason}");
        let bad_date = ALLOWED.replace(r#""dataDate":"2022-05-30""#, r#""dataDate":"yesterday""#);
        assert!(DomainEvent::from_json(bad_date.as_bytes()).is_err());
    }

    #[test]
    fn a_body_that_is_not_an_envelope_is_malformed() {
        for body in [&b"not json"[..], b"{}", br#"{"type":"Nope"}"#, b""] {
            let Err(MalformedMessage(reason)) = DomainEvent::from_json(body) else { panic!("accepted {body:?}") };
            assert!(reason.starts_with("the body is not an event envelope"), "{reason}");
        }
    }
}
