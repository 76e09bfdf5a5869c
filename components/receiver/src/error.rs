//! The HTTP edge's errors: one table from error `code` to status, the JSON
//! body every error shares (`{"code", "message"}`), and the translation of
//! domain errors into it.
//!
//! A 5xx never carries its cause to the caller (it may hold connection strings
//! or SQL); the full cause chain is logged once, here.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use linebacker_domain::DomainError;
use serde::Serialize;

/// The stable `code` strings of error bodies. Callers branch on these, so a
/// variant's spelling never changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidJson,
    InvalidApiVersion,
    BadData,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    IdempotencyConflict,
    Conflict,
    NotCancellable,
    PayloadTooLarge,
    UnsupportedMediaType,
    Unavailable,
    Internal,
}

impl ErrorCode {
    /// Every code, for the API's documentation.
    pub const ALL: &'static [ErrorCode] = &[
        Self::InvalidJson,
        Self::InvalidApiVersion,
        Self::BadData,
        Self::Unauthorized,
        Self::Forbidden,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::IdempotencyConflict,
        Self::Conflict,
        Self::NotCancellable,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::Unavailable,
        Self::Internal,
    ];

    /// The table: each code and the status it is answered with.
    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidJson | Self::InvalidApiVersion | Self::BadData => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::IdempotencyConflict | Self::Conflict | Self::NotCancellable => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidJson => "InvalidJson",
            Self::InvalidApiVersion => "InvalidApiVersion",
            Self::BadData => "BadData",
            Self::Unauthorized => "Unauthorized",
            Self::Forbidden => "Forbidden",
            Self::NotFound => "NotFound",
            Self::MethodNotAllowed => "MethodNotAllowed",
            Self::IdempotencyConflict => "IdempotencyConflict",
            Self::Conflict => "Conflict",
            Self::NotCancellable => "NotCancellable",
            Self::PayloadTooLarge => "PayloadTooLarge",
            Self::UnsupportedMediaType => "UnsupportedMediaType",
            Self::Unavailable => "Unavailable",
            Self::Internal => "Internal",
        }
    }
}

/// `WWW-Authenticate` of every 401.
pub const BEARER_CHALLENGE: &str = "Bearer error=\"invalid_token\"";

/// An error answer: its code, a message for the caller and, for a 503, how
/// long to wait before trying again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub retry_after_secs: Option<u32>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), retry_after_secs: None }
    }

    /// The dependency the request needs is down: 503 with `Retry-After`.
    pub fn unavailable(retry_after_secs: u32) -> Self {
        Self {
            code: ErrorCode::Unavailable,
            message: "the service cannot take this request right now; try again later".to_owned(),
            retry_after_secs: Some(retry_after_secs),
        }
    }

    /// Translates a use case's error, logging what the caller will not see.
    pub fn from_domain(error: DomainError, retry_after_secs: u32) -> Self {
        match error {
            DomainError::NotFound(_) => Self::new(ErrorCode::NotFound, error.to_string()),
            DomainError::IdempotencyConflict => Self::new(ErrorCode::IdempotencyConflict, error.to_string()),
            // At this edge the only contract is the caller's input.
            DomainError::Invalid(_) => Self::new(ErrorCode::BadData, error.to_string()),
            DomainError::InvalidStatus(_) | DomainError::Conflict { .. } => {
                Self::new(ErrorCode::Conflict, error.to_string())
            }
            DomainError::NotCancellable { .. } => Self::new(ErrorCode::NotCancellable, error.to_string()),
            DomainError::Unavailable(cause) => {
                tracing::warn!(error = format!("{cause:#}"), "answering 503: a dependency is unavailable");
                Self::unavailable(retry_after_secs)
            }
            DomainError::Unexpected(cause) => {
                tracing::error!(error = format!("{cause:#}"), "answering 500: unexpected error");
                Self::new(ErrorCode::Internal, "internal error")
            }
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let Some(secs) = self.retry_after_secs {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from(secs)));
        }
        if self.code == ErrorCode::Unauthorized {
            // RFC 6750 §3: the challenge a client answers with a new token.
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static(BEARER_CHALLENGE)));
        }
        response.json(ErrorBody { code: self.code.as_str(), message: &self.message })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_list_of_every_code_has_every_code() {
        for code in [
            ErrorCode::InvalidJson,
            ErrorCode::InvalidApiVersion,
            ErrorCode::BadData,
            ErrorCode::Unauthorized,
            ErrorCode::Forbidden,
            ErrorCode::NotFound,
            ErrorCode::MethodNotAllowed,
            ErrorCode::IdempotencyConflict,
            ErrorCode::Conflict,
            ErrorCode::NotCancellable,
            ErrorCode::PayloadTooLarge,
            ErrorCode::UnsupportedMediaType,
            ErrorCode::Unavailable,
            ErrorCode::Internal,
        ] {
            // A new variant fails to compile here until it is listed in ALL.
            match code {
                ErrorCode::InvalidJson
                | ErrorCode::InvalidApiVersion
                | ErrorCode::BadData
                | ErrorCode::Unauthorized
                | ErrorCode::Forbidden
                | ErrorCode::NotFound
                | ErrorCode::MethodNotAllowed
                | ErrorCode::IdempotencyConflict
                | ErrorCode::Conflict
                | ErrorCode::NotCancellable
                | ErrorCode::PayloadTooLarge
                | ErrorCode::UnsupportedMediaType
                | ErrorCode::Unavailable
                | ErrorCode::Internal => assert!(ErrorCode::ALL.contains(&code)),
            }
        }
    }

    #[test]
    fn an_unavailable_database_is_a_503_with_retry_after() {
        let error = ApiError::from_domain(DomainError::unavailable(anyhow::anyhow!("refused")), 7);
        let response = error.error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "7");
    }

    #[test]
    fn an_unauthorized_answer_challenges_for_a_bearer_token() {
        let response = ApiError::new(ErrorCode::Unauthorized, "no token").error_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers().get(header::WWW_AUTHENTICATE).unwrap(), "Bearer error=\"invalid_token\"");
        let response = ApiError::new(ErrorCode::Forbidden, "no scope").error_response();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(response.headers().get(header::WWW_AUTHENTICATE).is_none());
    }

    #[test]
    fn an_unexpected_error_hides_its_cause() {
        let error = ApiError::from_domain(DomainError::Unexpected(anyhow::anyhow!("password=hunter2")), 5);
        assert_eq!(error.code, ErrorCode::Internal);
        assert!(!error.message.contains("hunter2"));
    }
}
