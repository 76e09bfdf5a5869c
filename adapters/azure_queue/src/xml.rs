//! The Queue service's XML: the body of a put, the list of messages a get
//! returns, and the error document of a refusal. Parsing never panics: odd
//! input is an error with a reason.

use quick_xml::Reader;
use quick_xml::escape::unescape;
use quick_xml::events::Event;

use crate::{PeekedMessage, QueueMessage};

/// `<QueueMessage><MessageText>text</MessageText></QueueMessage>`, the text
/// XML-escaped (not base64: SPEC §5).
pub(crate) fn put_message_body(text: &str) -> String {
    format!("<QueueMessage><MessageText>{}</MessageText></QueueMessage>", escape(text))
}

/// How many bytes `text` takes in a put's body, once escaped.
pub(crate) fn escaped_len(text: &str) -> usize {
    escape(text).len()
}

/// Escapes markup characters, and also `\r`, which an XML parser would
/// otherwise fold into `\n`.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// The fields of one `<QueueMessage>` as they are read.
#[derive(Default)]
struct Partial {
    message_id: Option<String>,
    pop_receipt: Option<String>,
    dequeue_count: Option<String>,
    text: Option<String>,
}

impl Partial {
    /// A message of a get, which carries a pop receipt.
    fn finish(mut self, index: usize) -> Result<QueueMessage, String> {
        let pop_receipt = self
            .pop_receipt
            .take()
            .filter(|r| !r.is_empty())
            .ok_or_else(|| format!("message {index} of the list has no PopReceipt"))?;
        let PeekedMessage { message_id, dequeue_count, text } = self.finish_peeked(index)?;
        Ok(QueueMessage { message_id, pop_receipt, dequeue_count, text })
    }

    /// A message of a peek, which has no pop receipt.
    fn finish_peeked(self, index: usize) -> Result<PeekedMessage, String> {
        let missing = |field: &str| format!("message {index} of the list has no {field}");
        let dequeue_count = self.dequeue_count.ok_or_else(|| missing("DequeueCount"))?;
        Ok(PeekedMessage {
            message_id: self.message_id.filter(|id| !id.is_empty()).ok_or_else(|| missing("MessageId"))?,
            dequeue_count: dequeue_count
                .trim()
                .parse()
                .map_err(|_| format!("message {index} has a DequeueCount of {dequeue_count:?}"))?,
            // An empty message has no MessageText element worth mentioning.
            text: self.text.unwrap_or_default(),
        })
    }
}

/// Parses the `<QueueMessagesList>` of a get.
pub(crate) fn parse_messages(xml: &str) -> Result<Vec<QueueMessage>, String> {
    read_list(xml)?.into_iter().enumerate().map(|(i, partial)| partial.finish(i + 1)).collect()
}

/// Parses the `<QueueMessagesList>` of a peek.
pub(crate) fn parse_peeked(xml: &str) -> Result<Vec<PeekedMessage>, String> {
    read_list(xml)?.into_iter().enumerate().map(|(i, partial)| partial.finish_peeked(i + 1)).collect()
}

/// The messages of a `<QueueMessagesList>`, field by field.
fn read_list(xml: &str) -> Result<Vec<Partial>, String> {
    let mut reader = Reader::from_str(xml);
    let mut messages = Vec::new();
    let mut current: Option<Partial> = None;
    let mut field: Option<String> = None;
    // The element's content still escaped; unescaped once when it ends.
    let mut raw = String::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("malformed XML at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Start(start) => {
                let name = start.local_name().as_ref().to_owned();
                if name == "QueueMessage" {
                    current = Some(Partial::default());
                } else if current.is_some() {
                    field = Some(name);
                    raw.clear();
                }
            }
            Event::Text(text) => raw.push_str(&text.xml10_content()),
            Event::GeneralRef(reference) => {
                raw.push('&');
                raw.push_str(&reference.xml10_content());
                raw.push(';');
            }
            Event::CData(data) => raw.push_str(&escape(&data.xml10_content())),
            Event::End(end) => {
                let name = end.local_name();
                if name.as_ref() == "QueueMessage" {
                    if let Some(partial) = current.take() {
                        messages.push(partial);
                    }
                } else if let (Some(partial), Some(name)) = (current.as_mut(), field.take()) {
                    let value = unescape(&raw).map_err(|e| format!("bad escape in {name}: {e}"))?.into_owned();
                    match name.as_str() {
                        "MessageId" => partial.message_id = Some(value),
                        "PopReceipt" => partial.pop_receipt = Some(value),
                        "DequeueCount" => partial.dequeue_count = Some(value),
                        "MessageText" => partial.text = Some(value),
                        _ => {}
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if current.is_some() {
        return Err("the message list ends inside a QueueMessage".to_owned());
    }
    Ok(messages)
}

/// The `<Code>` of an `<Error>` document, if the body is one.
pub(crate) fn error_code(xml: &str) -> Option<String> {
    let mut reader = Reader::from_str(xml);
    let mut in_code = false;
    let mut raw = String::new();
    loop {
        match reader.read_event().ok()? {
            Event::Start(start) => in_code = start.local_name().as_ref() == "Code",
            Event::Text(text) if in_code => raw.push_str(&text),
            Event::End(_) if in_code => return unescape(&raw).ok().map(|code| code.trim().to_owned()),
            Event::Eof => return None,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const AWKWARD: &str = "{\"a\":\"<b> & 'c' \\\"d\\\" é ü 日本 \u{1F600}\"}\r\n";

    fn list(inner: &str) -> String {
        format!("<?xml version=\"1.0\" encoding=\"utf-8\"?><QueueMessagesList>{inner}</QueueMessagesList>")
    }

    fn message(text: &str) -> String {
        format!(
            "<QueueMessage><MessageId>id-1</MessageId><InsertionTime>Mon, 30 May 2022 01:00:00 GMT</InsertionTime>\
             <PopReceipt>AgAA+/==</PopReceipt><DequeueCount>2</DequeueCount><MessageText>{text}</MessageText></QueueMessage>"
        )
    }

    #[test]
    fn an_escaped_text_parses_back_unchanged() {
        let body = put_message_body(AWKWARD);
        let inner = body.trim_start_matches("<QueueMessage><MessageText>").trim_end_matches("</MessageText></QueueMessage>");
        let parsed = parse_messages(&list(&message(inner))).unwrap();
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].text, AWKWARD);
        assert_eq!(parsed[0].message_id, "id-1");
        assert_eq!(parsed[0].pop_receipt, "AgAA+/==");
        assert_eq!(parsed[0].dequeue_count, 2);
    }

    #[test]
    fn character_references_and_cdata_are_resolved() {
        let parsed = parse_messages(&list(&message("&#x3C;a&#62;<![CDATA[<&>]]>"))).unwrap();
        assert_eq!(parsed[0].text, "<a><&>");
    }

    #[test]
    fn an_empty_list_is_no_messages() {
        assert!(parse_messages(&list("")).unwrap().is_empty());
        assert!(parse_messages("<QueueMessagesList/>").unwrap().is_empty());
    }

    #[test]
    fn odd_input_is_an_error_not_a_panic() {
        for bad in [
            list("<QueueMessage><MessageId>x</MessageId></QueueMessage>"),
            list(&message("&bogus;")),
            list(&message("x").replace("<DequeueCount>2", "<DequeueCount>two")),
            list("<QueueMessage><MessageId>x"),
            "<QueueMessagesList><QueueMessage></Wrong>".to_owned(),
        ] {
            assert!(parse_messages(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_peeked_message_needs_no_pop_receipt_but_a_taken_one_does() {
        let peeked = list(&message("{}").replace("<PopReceipt>AgAA+/==</PopReceipt>", ""));
        let messages = parse_peeked(&peeked).unwrap();
        assert_eq!((messages[0].message_id.as_str(), messages[0].dequeue_count, messages[0].text.as_str()), ("id-1", 2, "{}"));
        assert!(parse_messages(&peeked).unwrap_err().contains("PopReceipt"));
    }

    #[test]
    fn the_error_code_is_read_from_the_error_document() {
        let xml = "<?xml version=\"1.0\"?><Error><Code>AuthenticationFailed</Code><Message>no</Message></Error>";
        assert_eq!(error_code(xml).as_deref(), Some("AuthenticationFailed"));
        assert_eq!(error_code("not xml at all"), None);
        assert_eq!(error_code(""), None);
    }
}
