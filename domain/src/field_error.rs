//! The one error a raw value has when it cannot become a validated domain
//! value; every parser of a field (the request's, the listing's, the
//! external systems') says it the same way.

/// Why a raw value could not become a validated domain value.
///
/// The message reads after the name of the field, as the caller spelled it:
/// `backupJobId must not be empty`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("is required")]
    Missing,
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error("must not contain control characters")]
    ControlCharacter,
    #[error("must be a calendar date in the form YYYY-MM-DD")]
    InvalidDate,
    #[error("must be one of {allowed}")]
    NotOneOf { allowed: &'static str },
    #[error("must be {expected}")]
    WrongType { expected: &'static str },
}
