//! Routing keys on the `linebacker` topic exchange (SPEC §4): each event's
//! name in kebab case. The work queues are bound by them, and operators bind
//! queues of their own by them.

use linebacker_domain::EventType;

/// The routing key of `event_type`'s messages: `backup-request.received`.
pub fn routing_key(event_type: EventType) -> &'static str {
    match event_type {
        EventType::BackupRequestReceived => "backup-request.received",
        EventType::BackupRequestAllowed => "backup-request.allowed",
        EventType::BackupRequestNotAllowed => "backup-request.not-allowed",
        EventType::BackupRequestSent => "backup-request.sent",
        EventType::StoreStatusReceived => "store-status.received",
        EventType::BackupRequestSucceeded => "backup-request.succeeded",
        EventType::BackupRequestFailed => "backup-request.failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_routes_by_its_name_in_kebab_case() {
        let keys: Vec<_> = EventType::ALL.iter().map(|event_type| routing_key(*event_type)).collect();
        assert_eq!(
            keys,
            [
                "backup-request.received",
                "backup-request.allowed",
                "backup-request.not-allowed",
                "backup-request.sent",
                "store-status.received",
                "backup-request.succeeded",
                "backup-request.failed",
            ]
        );
    }
}
