//! How message text travels on the queues, `azure_queue.message_encoding`:
//! `none` (SPEC §5: the JSON itself, XML-escaped in the REST body) or
//! `base64` (the JSON's UTF-8 bytes in base64, as the Azure SDKs' and Azure
//! Functions' default encoders put and expect it).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageEncoding {
    #[default]
    None,
    Base64,
}

impl MessageEncoding {
    /// The text to put for `text`.
    pub fn encode(self, text: &str) -> String {
        match self {
            Self::None => text.to_owned(),
            Self::Base64 => BASE64.encode(text.as_bytes()),
        }
    }

    /// The text a message taken from a queue carries, or why it cannot be
    /// read in this encoding.
    pub fn decode(self, text: &str) -> Result<String, String> {
        match self {
            Self::None => Ok(text.to_owned()),
            Self::Base64 => {
                let bytes = BASE64
                    .decode(text.trim())
                    .map_err(|error| format!("message text is not valid base64 (message_encoding = base64): {error}"))?;
                String::from_utf8(bytes)
                    .map_err(|_| "message text is base64 of bytes that are not UTF-8 (message_encoding = base64)".to_owned())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn base64_round_trips_non_ascii_json_and_none_leaves_text_alone() {
        let json = r#"{"name":"Zürich 日本 😀","tag":"</MessageText>"}"#;
        assert_eq!(MessageEncoding::Base64.decode(&MessageEncoding::Base64.encode(json)).unwrap(), json);
        assert_eq!(MessageEncoding::None.encode(json), json);
        assert_eq!(MessageEncoding::Base64.encode("{}"), "e30=");
    }

    #[test]
    fn text_that_is_not_base64_or_not_utf8_is_refused_with_a_reason() {
        let error = MessageEncoding::Base64.decode(r#"{"apiVersion":"1.0"}"#).unwrap_err();
        assert!(error.contains("not valid base64"), "{error}");
        let error = MessageEncoding::Base64.decode(&BASE64.encode([0xff, 0xfe])).unwrap_err();
        assert!(error.contains("not UTF-8"), "{error}");
    }
}
