//! Validated values of a backup request. Each type can only hold a valid
//! value: raw input becomes one through `TryFrom`, at the edge.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::field_error::FieldError;

/// Checks a text field: not blank, at most `max` characters, no control
/// characters (they have no place in identifiers or paths and break logs).
fn checked_text(value: String, max: usize) -> Result<String, FieldError> {
    if value.trim().is_empty() {
        return Err(FieldError::Empty);
    }
    if value.chars().count() > max {
        return Err(FieldError::TooLong { max });
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::ControlCharacter);
    }
    Ok(value)
}

/// Declares a newtype over a bounded, non-blank string.
macro_rules! bounded_text {
    ($(#[$doc:meta])* $name:ident, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const MAX_CHARS: usize = $max;

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = FieldError;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                checked_text(value, Self::MAX_CHARS).map(Self)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = FieldError;

            fn try_from(value: &str) -> Result<Self, Self::Error> {
                Self::try_from(value.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

bounded_text!(
    /// The id linebacker gives a request: opaque to callers, a UUIDv7 when
    /// linebacker creates it (time-ordered, so recent rows sit together).
    BackupRequestId,
    100
);

impl BackupRequestId {
    pub fn generate() -> Self {
        Self(Uuid::now_v7().to_string())
    }
}

bounded_text!(
    /// The backup job a request belongs to, as the backup job service knows it.
    BackupJobId,
    50
);

bounded_text!(
    /// Where the caller prepared the data to back up.
    PreparedDataPathName,
    250
);

/// The calendar date of the data set being backed up (`YYYY-MM-DD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DataDate(NaiveDate);

impl DataDate {
    pub fn date(self) -> NaiveDate {
        self.0
    }
}

impl From<NaiveDate> for DataDate {
    fn from(date: NaiveDate) -> Self {
        Self(date)
    }
}

impl TryFrom<&str> for DataDate {
    type Error = FieldError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        // Exactly YYYY-MM-DD: chrono alone would also take "2022-5-3".
        let well_formed = value.len() == 10
            && value
                .bytes()
                .enumerate()
                .all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
        if !well_formed {
            return Err(FieldError::InvalidDate);
        }
        NaiveDate::parse_from_str(value, "%Y-%m-%d")
            .map(Self)
            .map_err(|_| FieldError::InvalidDate)
    }
}

impl TryFrom<String> for DataDate {
    type Error = FieldError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::try_from(value.as_str())
    }
}

impl From<DataDate> for String {
    fn from(value: DataDate) -> Self {
        value.to_string()
    }
}

impl fmt::Display for DataDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

/// Who asked: the `sub` of the caller's token, empty when auth is off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RequesterId(String);

impl RequesterId {
    pub const MAX_CHARS: usize = 255;

    pub fn anonymous() -> Self {
        Self::default()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RequesterId {
    type Error = FieldError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        if value.is_empty() {
            return Ok(Self(value));
        }
        checked_text(value, Self::MAX_CHARS).map(Self)
    }
}

impl From<RequesterId> for String {
    fn from(value: RequesterId) -> Self {
        value.0
    }
}

/// Declares a closed set of codes with their wire spelling.
macro_rules! code_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "&'static str")]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl TryFrom<&str> for $name {
            type Error = FieldError;

            fn try_from(value: &str) -> Result<Self, Self::Error> {
                match value {
                    $($text => Ok($name::$variant),)+
                    _ => Err(FieldError::NotOneOf {
                        allowed: concat!($("\"", $text, "\" "),+),
                    }),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = FieldError;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::try_from(value.as_str())
            }
        }

        impl From<$name> for &'static str {
            fn from(value: $name) -> Self {
                value.as_str()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

code_enum!(
    /// How the request reached linebacker.
    TransportTypeCode {
        Http => "HTTP",
        Queue => "Queue",
    }
);

code_enum!(
    /// Where the backup job stores its backups; `None` until the job is known.
    BackupProviderCode {
        None => "",
        Local => "Local",
        CloudA => "CloudA",
        CloudB => "CloudB",
    }
);

pub(crate) use code_enum;

bounded_text!(
    /// A caller's key for making a POST safe to repeat (`Idempotency-Key`).
    IdempotencyKey,
    100
);
