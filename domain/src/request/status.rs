//! The life of a backup request and which steps it may take.
//!
//! ```text
//! Received ──► Allowed ──► Sent ──► Succeeded
//!    │  │         │          └────► Failed ──► Succeeded
//!    │  └─────────┴──► Cancelled (on request; terminal for linebacker)
//!    └──► NotAllowed (terminal)
//! ```
//!
//! The backup zone interface may answer before `Sent` is recorded, so a reply
//! (`Succeeded` / `Failed`) is also legal from `Received` and `Allowed`. A
//! later successful reply may follow a failed one; nothing follows `Succeeded`.
//! A cancelled request takes none of linebacker's own steps again, but the
//! interface may have got it before the cancel (SPEC §2): its reply is still
//! recorded, so a backup that was made is never hidden.


use serde::{Deserialize, Serialize};

use super::fields::code_enum;
use crate::field_error::FieldError;

code_enum!(
    /// Where a backup request stands.
    StatusTypeCode {
        Received => "Received",
        Allowed => "Allowed",
        NotAllowed => "NotAllowed",
        Sent => "Sent",
        Succeeded => "Succeeded",
        Failed => "Failed",
        Cancelled => "Cancelled",
    }
);

/// Why a request cannot take a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The request is already at or past the requested status: a duplicate or
    /// stale message. Consumers acknowledge it without side effects.
    #[error("request is already {current}; {requested} is a stale step")]
    AlreadyDone {
        current: StatusTypeCode,
        requested: StatusTypeCode,
    },
    /// The step makes no sense from the current status (a reply for a request
    /// that was never allowed, for example).
    #[error("a {current} request cannot become {requested}")]
    Illegal {
        current: StatusTypeCode,
        requested: StatusTypeCode,
    },
}

impl StatusTypeCode {
    /// How far along the pipeline a status is; a status never moves back.
    fn stage(self) -> u8 {
        match self {
            Self::Received => 0,
            Self::Allowed | Self::NotAllowed => 1,
            // Past every step of linebacker's own: a check or a send that
            // meets a cancelled request is a stale step.
            Self::Sent | Self::Cancelled => 2,
            Self::Succeeded | Self::Failed => 3,
        }
    }

    fn allows(self, next: Self) -> bool {
        use StatusTypeCode::*;
        matches!(
            (self, next),
            (Received, Allowed | NotAllowed | Succeeded | Failed | Cancelled)
                | (Allowed, Sent | Succeeded | Failed | Cancelled)
                | (Sent | Cancelled, Succeeded | Failed)
                | (Failed, Succeeded)
        )
    }

    /// Checks that a request in this status may become `next`.
    pub fn check_transition(self, next: Self) -> Result<(), TransitionError> {
        if self.allows(next) {
            Ok(())
        } else if self.stage() >= next.stage() {
            Err(TransitionError::AlreadyDone {
                current: self,
                requested: next,
            })
        } else {
            Err(TransitionError::Illegal {
                current: self,
                requested: next,
            })
        }
    }

    /// No step leads out of this status.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::NotAllowed | Self::Succeeded)
    }

    /// The statuses a caller may cancel a request from (SPEC §2, §3).
    pub const CANCELLABLE: &'static [StatusTypeCode] = &[Self::Received, Self::Allowed];

    /// The request waits for linebacker itself (not for the interface): the
    /// statuses that startup recovery re-emits.
    pub fn is_pending_in_linebacker(self) -> bool {
        matches!(self, Self::Received | Self::Allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::StatusTypeCode::{self, *};
    use super::TransitionError;

    const LEGAL: &[(StatusTypeCode, StatusTypeCode)] = &[
        (Received, Allowed),
        (Received, NotAllowed),
        (Received, Succeeded),
        (Received, Failed),
        (Allowed, Sent),
        (Allowed, Succeeded),
        (Allowed, Failed),
        (Sent, Succeeded),
        (Sent, Failed),
        (Failed, Succeeded),
        (Received, Cancelled),
        (Allowed, Cancelled),
        (Cancelled, Succeeded),
        (Cancelled, Failed),
    ];

    const ILLEGAL: &[(StatusTypeCode, StatusTypeCode)] = &[
        (Received, Sent),
        (NotAllowed, Sent),
        (NotAllowed, Succeeded),
        (NotAllowed, Failed),
        (NotAllowed, Cancelled),
    ];

    #[test]
    fn every_legal_transition_is_accepted() {
        for &(from, to) in LEGAL {
            assert_eq!(from.check_transition(to), Ok(()), "{from} -> {to}");
        }
    }

    #[test]
    fn illegal_transitions_are_rejected_as_illegal() {
        for &(from, to) in ILLEGAL {
            assert_eq!(
                from.check_transition(to),
                Err(TransitionError::Illegal { current: from, requested: to }),
                "{from} -> {to}"
            );
        }
    }

    #[test]
    fn every_other_pair_is_a_stale_step() {
        for &from in StatusTypeCode::ALL {
            for &to in StatusTypeCode::ALL {
                if LEGAL.contains(&(from, to)) || ILLEGAL.contains(&(from, to)) {
                    continue;
                }
                assert_eq!(
                    from.check_transition(to),
                    Err(TransitionError::AlreadyDone { current: from, requested: to }),
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn a_status_never_becomes_itself() {
        for &status in StatusTypeCode::ALL {
            assert!(status.check_transition(status).is_err(), "{status}");
        }
    }

    #[test]
    fn succeeded_and_not_allowed_are_terminal() {
        let terminal: Vec<_> = StatusTypeCode::ALL.iter().filter(|s| s.is_terminal()).collect();
        assert_eq!(terminal, [&NotAllowed, &Succeeded]);
        for &from in [NotAllowed, Succeeded].iter() {
            for &to in StatusTypeCode::ALL {
                assert!(from.check_transition(to).is_err(), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn a_cancelled_request_takes_no_step_of_linebackers_own_but_still_takes_a_reply() {
        for next in [Allowed, NotAllowed, Sent] {
            assert!(
                matches!(Cancelled.check_transition(next), Err(TransitionError::AlreadyDone { .. })),
                "Cancelled -> {next}"
            );
        }
        assert_eq!(Cancelled.check_transition(Succeeded), Ok(()));
        assert_eq!(Cancelled.check_transition(Failed), Ok(()));
        assert_eq!(StatusTypeCode::CANCELLABLE, [Received, Allowed]);
    }

    #[test]
    fn status_codes_parse_from_their_wire_spelling_only() {
        for &status in StatusTypeCode::ALL {
            assert_eq!(StatusTypeCode::try_from(status.as_str()), Ok(status));
        }
        assert!(StatusTypeCode::try_from("received").is_err());
        assert!(StatusTypeCode::try_from("").is_err());
    }
}
