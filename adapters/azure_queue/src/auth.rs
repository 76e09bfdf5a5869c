//! Shared Key authorization of the Queue service: every request carries
//! `Authorization: SharedKey <account>:<signature>`, the signature being the
//! base64 HMAC-SHA256, under the account key, of a canonical description of
//! the request (the "string to sign").
//!
//! The string to sign is computed from the request as it will be sent (its
//! URL, headers and body), so what is signed cannot drift from what is sent.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Request;
use reqwest::header::{HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sha2::Sha256;

/// The standard headers of the string to sign, in their order. `Date` stays
/// empty because requests carry `x-ms-date` instead.
const SIGNED_HEADERS: [&str; 11] = [
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
];

/// Signs requests for one storage account.
#[derive(Clone)]
pub(crate) struct SharedKey {
    account: String,
    key: SecretSlice<u8>,
}

impl fmt::Debug for SharedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedKey").field("account", &self.account).finish_non_exhaustive()
    }
}

impl SharedKey {
    /// Decodes the account key (base64, as the portal shows it). The error
    /// never repeats the key.
    pub(crate) fn new(account: &str, key: &SecretString) -> Result<Self, String> {
        if account.is_empty() {
            return Err("the storage account name must not be empty".to_owned());
        }
        let key = BASE64
            .decode(key.expose_secret().trim())
            .map_err(|_| format!("the key of storage account {account} is not valid base64"))?;
        if key.is_empty() {
            return Err(format!("the key of storage account {account} is empty"));
        }
        Ok(Self { account: account.to_owned(), key: key.into() })
    }

    /// Adds the `Authorization` header to a request that already has all its
    /// other headers (`x-ms-date`, `x-ms-version`, content type) and body.
    pub(crate) fn sign(&self, request: &mut Request) -> Result<(), String> {
        let to_sign = string_to_sign(&self.account, request);
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.key.expose_secret())
            .map_err(|_| "the storage account key cannot key an HMAC".to_owned())?;
        mac.update(to_sign.as_bytes());
        let signature = BASE64.encode(mac.finalize().into_bytes());
        let mut value = HeaderValue::try_from(format!("SharedKey {}:{signature}", self.account))
            .map_err(|_| format!("storage account name {:?} cannot go in a header", self.account))?;
        value.set_sensitive(true);
        request.headers_mut().insert(reqwest::header::AUTHORIZATION, value);
        Ok(())
    }
}

/// The string to sign of the Shared Key scheme (service version 2009-09-19
/// and later).
fn string_to_sign(account: &str, request: &Request) -> String {
    let headers = request.headers();
    let body_len = request.body().and_then(|body| body.as_bytes()).map_or(0, <[u8]>::len);
    let mut out = format!("{}\n", request.method().as_str());
    for name in SIGNED_HEADERS {
        let value = match name {
            // Since version 2015-02-21 a zero length is signed as empty.
            "content-length" if body_len == 0 => String::new(),
            "content-length" => body_len.to_string(),
            _ => header_text(headers, name),
        };
        out.push_str(&value);
        out.push('\n');
    }
    out.push_str(&canonicalized_headers(headers));
    out.push_str(&canonicalized_resource(account, request.url()));
    out
}

fn header_text(headers: &HeaderMap, name: &str) -> String {
    headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned()
}

/// Every `x-ms-` header, lowercase and sorted, as `name:value\n`, the value
/// trimmed and its runs of white space folded into one space.
fn canonicalized_headers(headers: &HeaderMap) -> String {
    let mut lines: Vec<String> = headers
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("x-ms-"))
        .map(|(name, value)| {
            let value = value.to_str().unwrap_or_default();
            format!("{}:{}\n", name.as_str(), value.split_whitespace().collect::<Vec<_>>().join(" "))
        })
        .collect();
    lines.sort();
    lines.concat()
}

/// `/<account><encoded URI path>`, then each query parameter (name
/// lowercase, sorted; values decoded, sorted, comma-joined) as
/// `\nname:values`. Against Azurite the path starts with the account name
/// too, which is then signed twice: `/devstoreaccount1/devstoreaccount1/q`.
fn canonicalized_resource(account: &str, url: &reqwest::Url) -> String {
    let mut params: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (name, value) in url.query_pairs() {
        params.entry(name.to_lowercase()).or_default().push(value.into_owned());
    }
    let mut out = format!("/{account}{}", url.path());
    for (name, mut values) in params {
        values.sort();
        out.push_str(&format!("\n{name}:{}", values.join(",")));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn request(method: reqwest::Method, url: &str, body: &str) -> Request {
        reqwest::Client::new()
            .request(method, url)
            .header("x-ms-version", "2021-12-02")
            .header("x-ms-date", "Mon, 30 May 2022 01:02:03 GMT")
            .header("Content-Type", "application/xml")
            .body(body.to_owned())
            .build()
            .unwrap()
    }

    #[test]
    fn the_string_to_sign_follows_the_shared_key_rules() {
        let request = request(
            reqwest::Method::GET,
            "http://127.0.0.1:10001/devstoreaccount1/q1/messages?VisibilityTimeout=30&numofmessages=5",
            "",
        );
        assert_eq!(
            string_to_sign("devstoreaccount1", &request),
            "GET\n\n\n\n\napplication/xml\n\n\n\n\n\n\n\
             x-ms-date:Mon, 30 May 2022 01:02:03 GMT\nx-ms-version:2021-12-02\n\
             /devstoreaccount1/devstoreaccount1/q1/messages\nnumofmessages:5\nvisibilitytimeout:30"
        );
    }

    #[test]
    fn a_body_is_signed_by_its_length_and_query_values_decoded() {
        let request = request(
            reqwest::Method::DELETE,
            "https://acct.queue.core.windows.net/q1/messages/id1?popreceipt=AgAAAA%2BAB%3D%3D",
            "abc",
        );
        let to_sign = string_to_sign("acct", &request);
        assert!(to_sign.starts_with("DELETE\n\n\n3\n"), "{to_sign}");
        assert!(to_sign.ends_with("\n/acct/q1/messages/id1\npopreceipt:AgAAAA+AB=="), "{to_sign}");
    }

    #[test]
    fn a_key_that_is_not_base64_is_refused_without_repeating_it() {
        let error = SharedKey::new("acct", &SecretString::from("not*base64!")).unwrap_err();
        assert!(error.contains("not valid base64"), "{error}");
        assert!(!error.contains("not*base64!"), "{error}");
    }

    #[test]
    fn the_signature_is_a_sensitive_authorization_header() {
        let key = SharedKey::new("acct", &SecretString::from(BASE64.encode(b"key"))).unwrap();
        let mut request = request(reqwest::Method::PUT, "http://host/acct/q1", "");
        key.sign(&mut request).unwrap();
        let value = request.headers().get("authorization").unwrap();
        assert!(value.is_sensitive());
        assert!(value.to_str().unwrap().starts_with("SharedKey acct:"));
        assert!(!format!("{key:?}").contains("key\""));
    }
}
