//! Domain events: what happened to a backup request, as the rest of the system
//! hears about it. On the wire an event is the JSON envelope of SPEC §4
//! (`messageId`, `type`, `occurredAt`, `backupRequestId`, `data`); its trace
//! context travels beside it (AMQP headers), not inside.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::request::{BackupRequest, BackupRequestId, now};
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

/// The kinds of event, with their names (the envelope's `type`) and routing
/// keys on the `linebacker` topic exchange.
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

    /// The event name in kebab case: `backup-request.received`.
    pub fn routing_key(self) -> &'static str {
        match self {
            Self::BackupRequestReceived => "backup-request.received",
            Self::BackupRequestAllowed => "backup-request.allowed",
            Self::BackupRequestNotAllowed => "backup-request.not-allowed",
            Self::BackupRequestSent => "backup-request.sent",
            Self::StoreStatusReceived => "store-status.received",
            Self::BackupRequestSucceeded => "backup-request.succeeded",
            Self::BackupRequestFailed => "backup-request.failed",
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

/// One event: the envelope of SPEC §4 plus the trace context it travels with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainEvent {
    pub message_id: MessageId,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub occurred_at: DateTime<Utc>,
    pub backup_request_id: BackupRequestId,
    pub data: serde_json::Value,
    /// Carried in AMQP headers, not in the body.
    #[serde(skip)]
    pub traceparent: Option<TraceParent>,
}

impl DomainEvent {
    /// An event about `request` whose data is the request as it now stands.
    pub fn about(event_type: EventType, request: &BackupRequest, trace: Option<&TraceParent>) -> Self {
        Self {
            message_id: MessageId::generate(),
            event_type,
            occurred_at: now(),
            backup_request_id: request.backup_request_id.clone(),
            // A request always serialises: every field is a plain value.
            data: serde_json::to_value(request).unwrap_or(serde_json::Value::Null),
            traceparent: trace.map(TraceParent::child),
        }
    }

    /// The envelope as JSON bytes (the message body).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}
