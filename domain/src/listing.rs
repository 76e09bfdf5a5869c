//! Reading many requests at once: the filters and keyset pages of the list
//! (SPEC §3), the history of one request, and who may see what.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::field_error::FieldError;
use crate::request::{BackupJobId, BackupRequest, BackupRequestId, RequesterId, StatusTypeCode};

/// What a list is narrowed to; `None` filters nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestFilter {
    pub status: Option<StatusTypeCode>,
    pub backup_job_id: Option<BackupJobId>,
    pub requester_id: Option<RequesterId>,
    /// Received at or after this instant.
    pub received_from: Option<DateTime<Utc>>,
    /// Received strictly before this instant.
    pub received_to: Option<DateTime<Utc>>,
}

impl RequestFilter {
    /// Whether `request` passes every filter (for in-memory stores; the
    /// database answers the same question with its indexes).
    pub fn matches(&self, request: &BackupRequest) -> bool {
        self.status.is_none_or(|status| request.status() == status)
            && self.backup_job_id.as_ref().is_none_or(|job| request.backup_job_id() == job)
            && self.requester_id.as_ref().is_none_or(|who| request.requester_id() == who)
            && self.received_from.is_none_or(|from| request.received_timestamp() >= from)
            && self.received_to.is_none_or(|to| request.received_timestamp() < to)
    }
}

/// How many requests one page holds: 1–500, 50 unless asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(u16);

impl PageLimit {
    pub const MAX: u16 = 500;

    pub fn get(self) -> u16 {
        self.0
    }
}

impl Default for PageLimit {
    fn default() -> Self {
        Self(50)
    }
}

impl TryFrom<i64> for PageLimit {
    type Error = FieldError;

    fn try_from(value: i64) -> Result<Self, Self::Error> {
        match u16::try_from(value) {
            Ok(limit @ 1..=Self::MAX) => Ok(Self(limit)),
            _ => Err(FieldError::WrongType { expected: "a whole number from 1 to 500" }),
        }
    }
}

/// Where the next page starts: just after (older than) this request, in the
/// list's order (newest `received_timestamp` first, then greatest id). A
/// request received after the first page was read sorts before the cursor,
/// so paging on never shows a request twice nor skips an older one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCursor {
    pub received_timestamp: DateTime<Utc>,
    pub backup_request_id: BackupRequestId,
}

impl PageCursor {
    pub fn after(request: &BackupRequest) -> Self {
        Self { received_timestamp: request.received_timestamp(), backup_request_id: request.backup_request_id().clone() }
    }

    /// The opaque form callers pass back: hex of `<microseconds>:<id>`.
    /// Opaque so that callers do not build cursors, not to hide anything.
    pub fn encode(&self) -> String {
        let plain = format!("{}:{}", self.received_timestamp.timestamp_micros(), self.backup_request_id);
        plain.bytes().fold(String::with_capacity(plain.len() * 2), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
    }
}

impl TryFrom<&str> for PageCursor {
    type Error = FieldError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        let invalid = || FieldError::WrongType { expected: "a cursor returned as nextCursor" };
        if !value.len().is_multiple_of(2) || value.len() > 400 {
            return Err(invalid());
        }
        let bytes = (0..value.len())
            .step_by(2)
            .map(|i| value.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(invalid)?;
        let plain = String::from_utf8(bytes).map_err(|_| invalid())?;
        let (micros, id) = plain.split_once(':').ok_or_else(invalid)?;
        let micros: i64 = micros.parse().map_err(|_| invalid())?;
        Ok(Self {
            received_timestamp: DateTime::from_timestamp_micros(micros).ok_or_else(invalid)?,
            backup_request_id: BackupRequestId::try_from(id).map_err(|_| invalid())?,
        })
    }
}

/// One page of a list, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestPage {
    pub items: Vec<BackupRequest>,
    /// Present when more requests may follow.
    pub next: Option<PageCursor>,
}

impl RequestPage {
    /// The page made of `items` read in list order, up to one more than
    /// `limit`: the extra one only tells that another page follows.
    pub fn cut(mut items: Vec<BackupRequest>, limit: PageLimit) -> Self {
        let more = items.len() > usize::from(limit.get());
        items.truncate(usize::from(limit.get()));
        let next = if more { items.last().map(PageCursor::after) } else { None };
        Self { items, next }
    }
}

/// One status change of a request, as its history shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub status: StatusTypeCode,
    pub at: DateTime<Utc>,
    /// The process instance that made the change (`check-allowed-0`).
    pub by: String,
    /// The reason or the interface's reply text, when there is one.
    pub detail: Option<String>,
}

/// Which requests a caller may see and act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    /// Every requester's requests (scope `read-health`, or `operate` to cancel).
    All,
    /// Only the requests this requester submitted.
    Own(RequesterId),
}

impl Visibility {
    pub fn sees(&self, request: &BackupRequest) -> bool {
        match self {
            Self::All => true,
            Self::Own(requester) => request.requester_id() == requester,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_itself_and_garbage_is_refused() {
        let cursor = PageCursor {
            received_timestamp: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            backup_request_id: BackupRequestId::try_from("0190-abc").unwrap(),
        };
        assert_eq!(PageCursor::try_from(cursor.encode().as_str()), Ok(cursor));
        for garbage in ["", "zz", "abc", "3a", "313a", "hello:world"] {
            assert!(PageCursor::try_from(garbage).is_err(), "{garbage}");
        }
    }

    #[test]
    fn a_page_limit_is_1_to_500_and_50_by_default() {
        assert_eq!(PageLimit::default().get(), 50);
        assert_eq!(PageLimit::try_from(1).unwrap().get(), 1);
        assert_eq!(PageLimit::try_from(500).unwrap().get(), 500);
        for bad in [0, -1, 501, 70_000] {
            assert!(PageLimit::try_from(bad).is_err(), "{bad}");
        }
    }
}
