//! How the Queue service's failures become domain errors: what may work when
//! tried again (no answer, a timeout, 5xx, throttling, a queue not created
//! yet) is `Unavailable`; any other refusal is `Unexpected`, naming the HTTP
//! status and the service's error code. Neither ever carries the account key
//! or a signature: a SAS token travels in the request URL's query, so a
//! transport error names the URL without its query.

use anyhow::anyhow;
use linebacker_domain::DomainError;
use reqwest::{Response, StatusCode};

use crate::xml;

/// A request that got no answer: refused, reset, timed out.
pub(crate) fn transport(what: &str, mut error: reqwest::Error) -> DomainError {
    if let Some(url) = error.url_mut() {
        url.set_query(None);
    }
    let chain = linebacker_tls::cause_chain(&error);
    let kind = if error.is_timeout() {
        "timed out"
    } else if linebacker_tls::is_certificate_error(&chain) {
        "TLS certificate not accepted"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    DomainError::Unavailable(anyhow!("{what}: {kind}: {chain}"))
}

/// A refusal, read from the status, the `x-ms-error-code` header and the
/// error document.
pub(crate) async fn refusal(what: &str, response: Response) -> DomainError {
    let status = response.status();
    let header_code = response
        .headers()
        .get("x-ms-error-code")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    // The body only adds the code when the header lacks it (a HEAD-like
    // answer has neither); reading it may fail on a broken connection.
    let body = response.text().await.unwrap_or_default();
    let code = header_code.or_else(|| xml::error_code(&body)).unwrap_or_else(|| "no error code".to_owned());
    classify(what, status, &code)
}

fn classify(what: &str, status: StatusCode, code: &str) -> DomainError {
    let error = anyhow!("{what}: the queue service answered {status} ({code})");
    let transient = status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        // The queue's owner may not have created it yet.
        || code == "QueueNotFound"
        || code == "QueueBeingDeleted";
    if transient { DomainError::Unavailable(error) } else { DomainError::Unexpected(error) }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn server_errors_and_missing_queues_are_transient() {
        for (status, code) in [
            (StatusCode::SERVICE_UNAVAILABLE, "ServerBusy"),
            (StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
            (StatusCode::NOT_FOUND, "QueueNotFound"),
            (StatusCode::TOO_MANY_REQUESTS, "no error code"),
        ] {
            assert!(classify("put", status, code).is_transient(), "{status} {code}");
        }
    }

    #[test]
    fn other_refusals_are_unexpected_and_name_status_and_code() {
        let error = classify("put", StatusCode::FORBIDDEN, "AuthenticationFailed");
        assert!(matches!(error, DomainError::Unexpected(_)));
        let text = error.to_string();
        assert!(text.contains("403") && text.contains("AuthenticationFailed"), "{text}");
        assert!(!classify("put", StatusCode::BAD_REQUEST, "InvalidXmlDocument").is_transient());
    }
}
