//! The body of an action that takes its parameters from the path and the
//! query (cancel, recovery, replay, purge): the JSON object `{}`. The
//! request must be JSON at all so that no web page can send it cross-site
//! without a preflight (see `auth::state_change`); anything in the object
//! would be a parameter this version does not know, and is refused rather
//! than ignored.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use futures::StreamExt;
use serde_json::Value;

use crate::error::{ApiError, ErrorCode};

/// A longer body is refused unread, as any other body than `{}` is (400,
/// not 413: it is not too large for something valid, it is not `{}`).
const LIMIT_BYTES: usize = 1024;

/// An action's body: `{}`, or none at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoParameters;

impl FromRequest for NoParameters {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(_: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let mut payload = payload.take();
        Box::pin(async move {
            let mut body = Vec::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|error| {
                    ApiError::new(ErrorCode::InvalidJson, format!("the request body could not be read: {error}"))
                })?;
                if body.len() + chunk.len() > LIMIT_BYTES {
                    return Err(not_empty_object());
                }
                body.extend_from_slice(&chunk);
            }
            no_parameters(&body)
        })
    }
}

fn no_parameters(body: &[u8]) -> Result<NoParameters, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(NoParameters);
    }
    match crate::json::from_slice_strict(body) {
        Ok(Value::Object(fields)) if fields.is_empty() => Ok(NoParameters),
        Ok(_) => Err(not_empty_object()),
        Err(error) => Err(ApiError::new(ErrorCode::InvalidJson, format!("the request body is not valid JSON: {error}"))),
    }
}

fn not_empty_object() -> ApiError {
    ApiError::new(ErrorCode::BadData, "this action takes the body {}: its parameters go in the path and the query")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_empty_object_or_no_body_is_no_parameters() {
        for body in [&b""[..], b"{}", b" { } \n", b"\n"] {
            assert_eq!(no_parameters(body).unwrap(), NoParameters, "{body:?}");
        }
    }

    #[test]
    fn anything_else_is_refused_naming_the_body_it_takes() {
        for (body, code) in [
            (&br#"{"messageId":"x"}"#[..], ErrorCode::BadData),
            (b"[]", ErrorCode::BadData),
            (b"null", ErrorCode::BadData),
            (b"{", ErrorCode::InvalidJson),
            (b"olderThanSecs=0", ErrorCode::InvalidJson),
        ] {
            assert_eq!(no_parameters(body).unwrap_err().code, code, "{body:?}");
        }
    }
}
