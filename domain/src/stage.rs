//! The stages an operator can pause and resume (SPEC §10): each worker
//! process's step of the pipeline. The three that consume a work queue are
//! named as their queue; `interface-listener` polls the BZI's status queue.

use std::fmt;
use std::str::FromStr;

use crate::ports::WorkQueue;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    CheckAllowed,
    SendToInterface,
    InterfaceListener,
    ReceiveStatus,
    NotifyRequesters,
}

impl Stage {
    /// In the order of the pipeline, as the stage list shows them.
    pub const ALL: &'static [Stage] = &[
        Self::CheckAllowed,
        Self::SendToInterface,
        Self::InterfaceListener,
        Self::ReceiveStatus,
        Self::NotifyRequesters,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::CheckAllowed => WorkQueue::CheckAllowed.name(),
            Self::SendToInterface => WorkQueue::SendToInterface.name(),
            Self::InterfaceListener => "interface-listener",
            Self::ReceiveStatus => WorkQueue::ReceiveStatus.name(),
            Self::NotifyRequesters => "notify-requesters",
        }
    }
}

impl From<WorkQueue> for Stage {
    fn from(queue: WorkQueue) -> Self {
        match queue {
            WorkQueue::CheckAllowed => Self::CheckAllowed,
            WorkQueue::SendToInterface => Self::SendToInterface,
            WorkQueue::ReceiveStatus => Self::ReceiveStatus,
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is no stage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no stage is named {0:?}")]
pub struct UnknownStage(pub String);

impl FromStr for Stage {
    type Err = UnknownStage;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL.iter().copied().find(|stage| stage.name() == name).ok_or_else(|| UnknownStage(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_stage_reads_back_from_its_name_and_others_are_unknown() {
        for stage in Stage::ALL {
            assert_eq!(stage.name().parse::<Stage>().unwrap(), *stage);
        }
        assert!("check_allowed".parse::<Stage>().is_err());
        assert!("".parse::<Stage>().is_err());
    }

    #[test]
    fn a_work_queue_is_the_stage_of_the_same_name() {
        for queue in WorkQueue::ALL {
            assert_eq!(Stage::from(*queue).name(), queue.name());
        }
    }
}
