//! A client of one queue of one storage account, over the Queue service's
//! REST API: create, put, get, peek, release, delete, count, clear. Every
//! call is bounded by the configured timeout.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use linebacker_domain::DomainError;
use reqwest::{RequestBuilder, Response, StatusCode, Url};
use secrecy::SecretString;

use crate::credentials::{QueueAuth, Signer};
use crate::encoding::MessageEncoding;
use crate::{errors, xml};

/// The REST API version every request speaks.
const API_VERSION: &str = "2021-12-02";
/// The longest visibility timeout the service takes (7 days), in seconds.
const MAX_VISIBILITY_SECS: u64 = 7 * 24 * 3600;
/// The most messages one get may take.
pub const MAX_MESSAGES_PER_GET: u32 = 32;

/// One message taken by `QueueClient::get`: hidden from other readers until
/// its visibility timeout ends; its pop receipt deletes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    pub message_id: String,
    pub pop_receipt: String,
    /// How often the message was taken, this time included.
    pub dequeue_count: u32,
    /// The message text as the queue holds it (see `MessageEncoding`).
    pub text: String,
}

/// One message seen by `QueueClient::peek`: neither hidden nor taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeekedMessage {
    pub message_id: String,
    /// How often the message was taken.
    pub dequeue_count: u32,
    pub text: String,
}

/// Where the queues are and how to sign for them.
#[derive(Debug, Clone)]
pub struct QueueServiceConfig {
    /// `https://<account>.queue.core.windows.net`, or with Azurite
    /// `http://127.0.0.1:10001/devstoreaccount1` (account in the path).
    pub account_uri: String,
    pub account_name: String,
    /// The base64 account key (used by `QueueAuth::SharedKey`).
    pub account_key: SecretString,
    /// How requests are authorized.
    pub auth: QueueAuth,
    /// The bound of every call, connecting included.
    pub timeout: Duration,
    /// Certificate authorities trusted beside the system's, for `https://`.
    pub ca_file: Option<PathBuf>,
    /// How the BZI's messages are encoded; callers apply it (`encoding()`),
    /// since only they know what to do with a message that does not decode.
    pub message_encoding: MessageEncoding,
}

/// One queue of one account. Cheap to clone: clones share connections.
#[derive(Debug, Clone)]
pub struct QueueClient {
    http: reqwest::Client,
    signer: Arc<Signer>,
    encoding: MessageEncoding,
    name: String,
    /// `<account_uri>/<queue>`.
    queue_url: Url,
}

impl QueueClient {
    /// Checks the configuration and the queue name; connects to nothing yet.
    pub fn new(config: &QueueServiceConfig, queue_name: &str) -> Result<Self, DomainError> {
        check_queue_name(queue_name).map_err(|reason| DomainError::Unexpected(anyhow!(reason)))?;
        let signer = Signer::new(&config.auth, &config.account_name, &config.account_key)
            .map_err(|reason| DomainError::Unexpected(anyhow!(reason)))?;
        let mut queue_url = Url::parse(&config.account_uri)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.query().is_none())
            .ok_or_else(|| {
                DomainError::Unexpected(anyhow!("account_uri {:?} is not an http(s) URL", config.account_uri))
            })?;
        queue_url
            .path_segments_mut()
            .map_err(|()| DomainError::Unexpected(anyhow!("account_uri {:?} cannot have a path", config.account_uri)))?
            .pop_if_empty()
            .push(queue_name);
        let http = linebacker_tls::http_client(config.timeout, config.ca_file.as_deref())
            .map_err(|reason| DomainError::Unexpected(anyhow!("azure_queue.ca_file: {reason}")))?;
        Ok(Self {
            http,
            signer: Arc::new(signer),
            encoding: config.message_encoding,
            name: queue_name.to_owned(),
            queue_url,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The encoding of the BZI's messages (`put` and `get` move text as is).
    pub fn encoding(&self) -> MessageEncoding {
        self.encoding
    }

    /// Creates the queue; an existing queue is fine (201 or 204).
    #[tracing::instrument(level = "debug", skip_all, fields(queue = %self.name))]
    pub async fn create_if_missing(&self) -> Result<(), DomainError> {
        let what = format!("creating queue {}", self.name);
        let response = self.send(&what, self.http.put(self.queue_url.clone())).await?;
        expect(&what, response, &[StatusCode::CREATED, StatusCode::NO_CONTENT]).await.map(drop)
    }

    /// Puts a message whose text is `text` itself (XML-escaped in the body,
    /// not base64). It never expires: an accepted request waits for its
    /// reader however long that takes.
    #[tracing::instrument(level = "debug", skip_all, fields(queue = %self.name))]
    pub async fn put(&self, text: &str) -> Result<(), DomainError> {
        let what = format!("putting a message on queue {}", self.name);
        let mut url = self.messages_url();
        url.query_pairs_mut().append_pair("messagettl", "-1");
        let request = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/xml; charset=utf-8")
            .body(xml::put_message_body(text));
        let response = self.send(&what, request).await?;
        expect(&what, response, &[StatusCode::CREATED]).await.map(drop)
    }

    /// Takes up to `max` messages (1 to 32), hiding them for
    /// `visibility_timeout` (whole seconds, 1 s to 7 days).
    #[tracing::instrument(level = "debug", skip_all, fields(queue = %self.name))]
    pub async fn get(&self, max: u32, visibility_timeout: Duration) -> Result<Vec<QueueMessage>, DomainError> {
        let what = format!("getting messages from queue {}", self.name);
        let mut url = self.messages_url();
        url.query_pairs_mut()
            .append_pair("numofmessages", &max.clamp(1, MAX_MESSAGES_PER_GET).to_string())
            .append_pair("visibilitytimeout", &visibility_secs(visibility_timeout).to_string());
        let response = self.send(&what, self.http.get(url)).await?;
        let response = expect(&what, response, &[StatusCode::OK]).await?;
        let body = response.text().await.map_err(|e| errors::transport(&what, e))?;
        xml::parse_messages(&body).map_err(|reason| DomainError::Unexpected(anyhow!("{what}: {reason}")))
    }

    /// Up to `max` messages (1 to 32) from the front of the queue, without
    /// taking them: their visibility and dequeue count stay as they were.
    #[tracing::instrument(level = "debug", skip_all, fields(queue = %self.name))]
    pub async fn peek(&self, max: u32) -> Result<Vec<PeekedMessage>, DomainError> {
        let what = format!("peeking at messages of queue {}", self.name);
        let mut url = self.messages_url();
        url.query_pairs_mut()
            .append_pair("peekonly", "true")
            .append_pair("numofmessages", &max.clamp(1, MAX_MESSAGES_PER_GET).to_string());
        let response = self.send(&what, self.http.get(url)).await?;
        let response = expect(&what, response, &[StatusCode::OK]).await?;
        let body = response.text().await.map_err(|e| errors::transport(&what, e))?;
        xml::parse_peeked(&body).map_err(|reason| DomainError::Unexpected(anyhow!("{what}: {reason}")))
    }

    /// Makes a message taken by `get` visible again at once, unchanged.
    #[tracing::instrument(level = "debug", skip_all, fields(queue = %self.name, message_id = %message.message_id))]
    pub async fn release(&self, message: &QueueMessage) -> Result<(), DomainError> {
        let what = format!("releasing message {} of queue {}", message.message_id, self.name);
        let mut url = self.message_url(message);
        url.query_pairs_mut().append_pair("visibilitytimeout", "0");
        let request = self.http.put(url).header(reqwest::header::CONTENT_LENGTH, "0");
        let response = self.send(&what, request).await?;
        expect(&what, response, &[StatusCode::NO_CONTENT]).await.map(drop)
    }

    /// Deletes a message taken by `get`. One already gone (404) counts as
    /// deleted.
    #[tracing::instrument(level = "debug", skip_all, fields(queue = %self.name, message_id = %message.message_id))]
    pub async fn delete(&self, message: &QueueMessage) -> Result<(), DomainError> {
        let what = format!("deleting message {} from queue {}", message.message_id, self.name);
        let url = self.message_url(message);
        let response = self.send(&what, self.http.delete(url)).await?;
        expect(&what, response, &[StatusCode::NO_CONTENT, StatusCode::NOT_FOUND]).await.map(drop)
    }

    /// The service's approximate count of messages in the queue.
    #[tracing::instrument(level = "debug", skip_all, fields(queue = %self.name))]
    pub async fn approximate_count(&self) -> Result<u64, DomainError> {
        let what = format!("counting the messages of queue {}", self.name);
        let mut url = self.queue_url.clone();
        url.query_pairs_mut().append_pair("comp", "metadata");
        let response = self.send(&what, self.http.get(url)).await?;
        let response = expect(&what, response, &[StatusCode::OK]).await?;
        response
            .headers()
            .get("x-ms-approximate-messages-count")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok())
            .ok_or_else(|| DomainError::Unexpected(anyhow!("{what}: no x-ms-approximate-messages-count in the answer")))
    }

    /// Deletes every message of the queue (for tests and operators).
    #[tracing::instrument(level = "debug", skip_all, fields(queue = %self.name))]
    pub async fn clear(&self) -> Result<(), DomainError> {
        let what = format!("clearing queue {}", self.name);
        let response = self.send(&what, self.http.delete(self.messages_url())).await?;
        expect(&what, response, &[StatusCode::NO_CONTENT]).await.map(drop)
    }

    /// Deletes the queue itself; one already gone counts as deleted (for
    /// tests' cleanup).
    #[tracing::instrument(level = "debug", skip_all, fields(queue = %self.name))]
    pub async fn delete_queue(&self) -> Result<(), DomainError> {
        let what = format!("deleting queue {}", self.name);
        let response = self.send(&what, self.http.delete(self.queue_url.clone())).await?;
        expect(&what, response, &[StatusCode::NO_CONTENT, StatusCode::NOT_FOUND]).await.map(drop)
    }

    fn messages_url(&self) -> Url {
        let mut url = self.queue_url.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.push("messages");
        }
        url
    }

    /// `<queue>/messages/<id>?popreceipt=<receipt>`: the message `get` took.
    fn message_url(&self, message: &QueueMessage) -> Url {
        let mut url = self.messages_url();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.push(&message.message_id);
        }
        url.query_pairs_mut().append_pair("popreceipt", &message.pop_receipt);
        url
    }

    /// Dates, versions, signs and sends a request; only a missing answer is
    /// an error here.
    async fn send(&self, what: &str, request: RequestBuilder) -> Result<Response, DomainError> {
        let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let mut request = request
            .header("x-ms-date", date)
            .header("x-ms-version", API_VERSION)
            .build()
            .map_err(|e| DomainError::Unexpected(anyhow!("{what}: cannot build the request: {e}")))?;
        self.signer.prepare_url(request.url_mut());
        self.signer.sign(&self.http, &mut request).await?;
        self.http.execute(request).await.map_err(|e| errors::transport(what, e))
    }
}

/// The answer when its status is one of `ok`, else the refusal as an error.
async fn expect(what: &str, response: Response, ok: &[StatusCode]) -> Result<Response, DomainError> {
    if ok.contains(&response.status()) {
        Ok(response)
    } else {
        Err(errors::refusal(what, response).await)
    }
}

fn visibility_secs(timeout: Duration) -> u64 {
    let secs = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
    secs.clamp(1, MAX_VISIBILITY_SECS)
}

/// The service's naming rule: 3–63 characters, lowercase letters, digits and
/// single hyphens, starting and ending with a letter or digit.
fn check_queue_name(name: &str) -> Result<(), String> {
    let well_formed = (3..=63).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if well_formed {
        Ok(())
    } else {
        Err(format!(
            "queue name {name:?} must be 3-63 lowercase letters, digits and single hyphens, \
             starting and ending with a letter or digit"
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn config(uri: &str, key: &str) -> QueueServiceConfig {
        QueueServiceConfig {
            account_uri: uri.into(),
            account_name: "acct".into(),
            account_key: SecretString::from(key),
            auth: QueueAuth::SharedKey,
            timeout: Duration::from_secs(1),
            ca_file: None,
            message_encoding: MessageEncoding::None,
        }
    }

    #[test]
    fn queue_names_follow_the_service_rule() {
        for good in ["abc", "store-statuses-poison", "q-1", "a-b-c", &"a".repeat(63)] {
            assert!(check_queue_name(good).is_ok(), "{good}");
        }
        for bad in ["ab", "Abc", "a_b", "-ab", "ab-", "a--b", &"a".repeat(64), "ab c"] {
            assert!(check_queue_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_queue_url_follows_the_account_uri_with_or_without_a_slash() {
        for uri in ["http://127.0.0.1:10001/devstoreaccount1", "http://127.0.0.1:10001/devstoreaccount1/"] {
            let client = QueueClient::new(&config(uri, "a2V5"), "q-1").unwrap();
            assert_eq!(client.messages_url().as_str(), "http://127.0.0.1:10001/devstoreaccount1/q-1/messages");
        }
        let client = QueueClient::new(&config("https://acct.queue.core.windows.net", "a2V5"), "q-1").unwrap();
        assert_eq!(client.queue_url.as_str(), "https://acct.queue.core.windows.net/q-1");
    }

    #[test]
    fn a_bad_configuration_is_refused_with_a_clear_message() {
        let error = QueueClient::new(&config("http://h/acct", "%%%"), "q-1").unwrap_err().to_string();
        assert!(error.contains("base64") && !error.contains("%%%"), "{error}");
        let error = QueueClient::new(&config("ftp://h", "a2V5"), "q-1").unwrap_err().to_string();
        assert!(error.contains("account_uri"), "{error}");
        let error = QueueClient::new(&config("http://h", "a2V5"), "Bad_Name").unwrap_err().to_string();
        assert!(error.contains("Bad_Name"), "{error}");
    }

    #[test]
    fn visibility_timeouts_round_up_to_whole_seconds_within_the_service_range() {
        assert_eq!(visibility_secs(Duration::ZERO), 1);
        assert_eq!(visibility_secs(Duration::from_millis(1500)), 2);
        assert_eq!(visibility_secs(Duration::from_secs(30)), 30);
        assert_eq!(visibility_secs(Duration::from_secs(30 * 24 * 3600)), MAX_VISIBILITY_SECS);
    }
}
