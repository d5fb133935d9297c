//! Messages to send or draft, built with mail-builder: multipart/alternative for text and
//! HTML, multipart/mixed with attachments, RFC 2047 for non-ASCII headers, then Gmail's
//! base64url `raw`. Addresses are parsed with mail-parser and refused as field errors.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use mail_builder::headers::address::Address;
use mail_builder::MessageBuilder;
use patchbay_core::{ConnectorError, FieldError};
use serde_json::Value;

/// One mailbox: display name and address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub name: Option<String>,
    pub address: String,
}

/// What to write, read from an action's input.
#[derive(Debug, Default)]
pub struct Draft {
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub bcc: Vec<Mailbox>,
    pub subject: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
    pub attachments: Vec<(String, String, Vec<u8>)>,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
}

/// Whether `address` looks deliverable: one `@`, a local part, a dotted domain of letters,
/// digits and hyphens.
fn plausible(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && !local.contains(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
}

/// Parses `Name <addr>` or `addr` with mail-parser.
pub fn parse_mailbox(raw: &str) -> Option<Mailbox> {
    let block = format!("To: {}\r\n\r\n", raw.replace(['\r', '\n'], " "));
    let parsed = mail_parser::MessageParser::default().parse(block.as_bytes())?;
    let mut addrs = parsed.to()?.iter();
    let first = addrs.next()?;
    if addrs.next().is_some() {
        return None;
    }
    let address = first.address.as_deref()?.trim().to_string();
    plausible(&address).then(|| Mailbox {
        name: first
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string),
        address,
    })
}

fn mailboxes(input: &Value, field: &str, errors: &mut Vec<FieldError>) -> Vec<Mailbox> {
    let mut out = Vec::new();
    for (i, v) in input[field].as_array().into_iter().flatten().enumerate() {
        match v.as_str().and_then(parse_mailbox) {
            Some(m) => out.push(m),
            None => errors.push(FieldError::new(
                format!("{field}[{i}]"),
                "invalid_address",
                "not an email address (expected 'ada@example.com' or 'Ada <ada@example.com>')",
            )),
        }
    }
    out
}

/// Reads the compose fields of an action's input; bad addresses or attachments are field
/// errors naming each one.
pub fn draft_from(input: &Value, need_recipient: bool) -> Result<Draft, ConnectorError> {
    let mut errors = Vec::new();
    let mut draft = Draft {
        to: mailboxes(input, "to", &mut errors),
        cc: mailboxes(input, "cc", &mut errors),
        bcc: mailboxes(input, "bcc", &mut errors),
        subject: input["subject"].as_str().map(str::to_string),
        text: input["text"].as_str().map(str::to_string),
        html: input["html"].as_str().map(str::to_string),
        ..Default::default()
    };
    if need_recipient && draft.to.is_empty() && draft.cc.is_empty() && draft.bcc.is_empty() {
        errors.push(FieldError::new(
            "to",
            "required",
            "at least one recipient is needed",
        ));
    }
    if let Some(s) = &draft.subject {
        if s.contains(['\r', '\n']) {
            errors.push(FieldError::new(
                "subject",
                "format",
                "the subject must be one line",
            ));
        }
    }
    for (i, a) in input["attachments"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let bytes = a["content_base64"]
            .as_str()
            .and_then(|b| STANDARD.decode(b.trim()).ok());
        match bytes {
            Some(bytes) => draft.attachments.push((
                a["filename"].as_str().unwrap_or("attachment").to_string(),
                a["mime_type"]
                    .as_str()
                    .unwrap_or("application/octet-stream")
                    .to_string(),
                bytes,
            )),
            None => errors.push(FieldError::new(
                format!("attachments[{i}].content_base64"),
                "format",
                "not valid base64",
            )),
        }
    }
    if errors.is_empty() {
        Ok(draft)
    } else {
        Err(ConnectorError::InvalidInput(errors))
    }
}

fn address_list(list: &[Mailbox]) -> Address<'_> {
    Address::new_list(
        list.iter()
            .map(|m| Address::new_address(m.name.as_deref(), m.address.as_str()))
            .collect(),
    )
}

/// The RFC 5322 message, base64url as Gmail's `raw` wants it.
pub fn raw(draft: &Draft, from: Option<&str>) -> Result<String, ConnectorError> {
    let mut b = MessageBuilder::new();
    if let Some(from) = from {
        b = b.from(Address::new_address(None::<&str>, from));
    }
    if !draft.to.is_empty() {
        b = b.to(address_list(&draft.to));
    }
    if !draft.cc.is_empty() {
        b = b.cc(address_list(&draft.cc));
    }
    if !draft.bcc.is_empty() {
        b = b.bcc(address_list(&draft.bcc));
    }
    if let Some(subject) = &draft.subject {
        b = b.subject(subject.as_str());
    }
    if let Some(id) = &draft.in_reply_to {
        b = b.in_reply_to(strip_angles(id));
    }
    if !draft.references.is_empty() {
        let refs: Vec<&str> = draft.references.iter().map(|r| strip_angles(r)).collect();
        b = b.references(refs);
    }
    match (&draft.text, &draft.html) {
        (None, None) => b = b.text_body(""),
        (text, html) => {
            if let Some(t) = text {
                b = b.text_body(t.as_str());
            }
            if let Some(h) = html {
                b = b.html_body(h.as_str());
            }
        }
    }
    for (name, mime, bytes) in &draft.attachments {
        b = b.attachment(mime.as_str(), name.as_str(), bytes.as_slice());
    }
    let bytes = b
        .write_to_vec()
        .map_err(|e| ConnectorError::Config(format!("could not build the message: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

fn strip_angles(id: &str) -> &str {
    id.trim().trim_start_matches('<').trim_end_matches('>')
}

/// `Re: <subject>`, without stacking prefixes.
pub fn reply_subject(subject: &str) -> String {
    let s = subject.trim();
    if s.len() >= 3 && s[..3].eq_ignore_ascii_case("re:") {
        s.to_string()
    } else {
        format!("Re: {s}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn addresses_are_parsed_or_refused_by_field() {
        assert_eq!(
            parse_mailbox("Zoë Müller <zoe@example.com>"),
            Some(Mailbox {
                name: Some("Zoë Müller".into()),
                address: "zoe@example.com".into()
            })
        );
        assert!(parse_mailbox("not an address").is_none());
        assert!(parse_mailbox("a@b").is_none());
        let err = draft_from(&json!({"to": ["ok@example.com", "nope", "x@@y"]}), true).unwrap_err();
        let ConnectorError::InvalidInput(fields) = err else {
            panic!("{err}")
        };
        let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["to[1]", "to[2]"]);
        assert!(draft_from(&json!({}), true).is_err());
    }

    #[test]
    fn messages_are_mime_with_encoded_headers() {
        let draft = draft_from(
            &json!({"to": ["Zoë <zoe@example.com>"], "subject": "Grüße aus Köln",
                    "text": "Hallo", "html": "<p>Hallo</p>",
                    "attachments": [{"filename": "a.txt", "mime_type": "text/plain",
                                     "content_base64": STANDARD.encode("attached")}]}),
            true,
        )
        .unwrap();
        let raw = raw(&draft, Some("ada@example.com")).unwrap();
        let bytes = URL_SAFE_NO_PAD.decode(raw).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("=?utf-8?"), "{text}");
        assert!(text.contains("multipart/mixed"));
        assert!(text.contains("multipart/alternative"));
        let parsed = mail_parser::MessageParser::default().parse(&bytes).unwrap();
        assert_eq!(parsed.subject(), Some("Grüße aus Köln"));
        assert_eq!(parsed.attachment_count(), 1);
        assert_eq!(reply_subject("Re: x"), "Re: x");
        assert_eq!(reply_subject("RE: x"), "RE: x");
        assert_eq!(reply_subject("x"), "Re: x");
    }
}
