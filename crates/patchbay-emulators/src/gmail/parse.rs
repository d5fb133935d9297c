//! Reading stored RFC 822 bytes with `mail-parser`: the facts search and threading need
//! ([`Meta`]), Gmail's `MessagePart` tree, snippets and attachment bodies.

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::html::html_to_text;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{Address, Encoding, Header, HeaderValue, Message, MessageParser, MimeHeaders};
use mail_parser::{MessagePart, PartType};
use serde_json::{json, Value};

/// What listing, search and threading need to know of a message without parsing it again.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    /// Lowercased `name <address>` of the sender.
    pub from: String,
    /// Lowercased recipients (To, Cc, Bcc), comma separated.
    pub to: String,
    pub subject: String,
    /// Gmail's snippet: the start of the text, whitespace collapsed, HTML-escaped.
    pub snippet: String,
    pub body: Body,
    /// The RFC 822 Message-ID, without angle brackets.
    pub message_id: Option<String>,
    /// In-Reply-To and References ids, without angle brackets.
    pub references: Vec<String>,
    /// Lowercased attachment file names.
    pub filenames: Vec<String>,
    /// The `Date` header in epoch milliseconds.
    pub date_ms: Option<i64>,
    pub size: usize,
}

/// The searchable text of a message.
#[derive(Debug, Clone)]
pub enum Body {
    /// Lowercased text of every text body.
    Text(String),
    /// A generated message, searched without building it.
    Synth(u32),
}

impl Default for Body {
    fn default() -> Self {
        Body::Text(String::new())
    }
}

impl Body {
    pub fn contains(&self, word: &str) -> bool {
        match self {
            Body::Text(text) => text.contains(word),
            Body::Synth(index) => super::synth::body_contains(*index, word),
        }
    }
}

pub fn parse(raw: &[u8]) -> Option<Message<'_>> {
    MessageParser::default().parse(raw)
}

pub fn meta(raw: &[u8]) -> Meta {
    let Some(msg) = parse(raw) else {
        return Meta {
            size: raw.len(),
            ..Default::default()
        };
    };
    let text: Vec<String> = msg.text_bodies().map(plain_text).collect();
    let mut references: Vec<String> = Vec::new();
    for value in [msg.in_reply_to(), msg.references()] {
        match value {
            HeaderValue::Text(id) => references.push(id.to_string()),
            HeaderValue::TextList(ids) => references.extend(ids.iter().map(|i| i.to_string())),
            _ => {}
        }
    }
    let recipients = [msg.to(), msg.cc(), msg.bcc()];
    let to: Vec<String> = recipients.into_iter().flatten().map(addresses).collect();
    let filenames = msg.attachments().filter_map(|p| p.attachment_name());
    Meta {
        from: msg.from().map(addresses).unwrap_or_default().to_lowercase(),
        to: to.join(", ").to_lowercase(),
        subject: msg.subject().unwrap_or_default().to_string(),
        snippet: snippet(text.first().map(String::as_str).unwrap_or_default()),
        body: Body::Text(text.join("\n").to_lowercase()),
        message_id: msg.message_id().map(str::to_string),
        references,
        filenames: filenames.map(str::to_lowercase).collect(),
        date_ms: msg.date().map(|d| d.to_timestamp() * 1000),
        size: raw.len(),
    }
}

/// A text body as plain text; HTML loses its tags, block ends becoming spaces.
fn plain_text(part: &MessagePart) -> String {
    match &part.body {
        PartType::Text(text) => text.to_string(),
        PartType::Html(html) => {
            let mut spaced = html.to_string();
            for tag in [
                "</p", "</div", "</h", "</li", "</td", "</tr", "</table", "<br",
            ] {
                spaced = spaced.replace(tag, &format!(" {tag}"));
            }
            html_to_text(&spaced)
        }
        _ => String::new(),
    }
}

/// Gmail's snippet of a text: about 200 characters, HTML special characters escaped.
pub fn snippet(text: &str) -> String {
    let mut out = String::new();
    for word in text.split_whitespace() {
        if out.chars().count() + word.chars().count() >= 200 {
            let room = 200usize.saturating_sub(out.chars().count() + 1);
            if room > 0 {
                out.push(' ');
                out.extend(word.chars().take(room));
            }
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    let mut escaped = String::with_capacity(out.len());
    for c in out.trim_start().chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// `name <address>` for each address, names quoted where RFC 5322 needs it.
fn addresses(list: &Address) -> String {
    let items = list.iter().filter_map(|a| {
        let address = a.address()?;
        Some(match a.name().filter(|n| !n.is_empty()) {
            Some(name) if name.contains([',', ';', ':', '<', '>', '@', '"', '(', ')']) => {
                format!("\"{}\" <{address}>", name.replace('"', "\\\""))
            }
            Some(name) => format!("{name} <{address}>"),
            None => address.to_string(),
        })
    });
    items.collect::<Vec<_>>().join(", ")
}

/// A header as Gmail shows it: the name as written, the value unfolded, encoded words decoded.
fn header(raw: &[u8], h: &Header) -> (String, String) {
    let slice = |a: u32, b: u32| raw.get(a as usize..b as usize).unwrap_or_default();
    let name = String::from_utf8_lossy(slice(h.offset_field, h.offset_start));
    let name = name.trim().trim_end_matches(':').trim().to_string();
    let value = String::from_utf8_lossy(slice(h.offset_start, h.offset_end));
    let value = value.replace("\r\n", "").replace('\n', "");
    let value = value.trim();
    if !value.contains("=?") {
        return (name, value.to_string());
    }
    let decoded = match &h.value {
        HeaderValue::Text(text) => text.to_string(),
        HeaderValue::Address(list) => addresses(list),
        _ => value.to_string(),
    };
    (name, decoded)
}

fn headers_json(raw: &[u8], headers: &[Header], only: Option<&[String]>) -> Vec<Value> {
    let all = headers.iter().map(|h| header(raw, h));
    let wanted = all.filter(|(name, _)| {
        only.is_none_or(|only| only.iter().any(|o| o.eq_ignore_ascii_case(name)))
    });
    wanted
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect()
}

fn mime_type(part: &MessagePart) -> String {
    match part.content_type() {
        Some(ct) => match &ct.c_subtype {
            Some(sub) => format!("{}/{}", ct.c_type, sub).to_lowercase(),
            None => ct.c_type.to_lowercase(),
        },
        None if matches!(part.body, PartType::Message(_)) => "message/rfc822".into(),
        None => "text/plain".into(),
    }
}

/// A leaf part's body with its transfer encoding undone, in its own charset, as Gmail
/// returns it.
fn body_bytes(raw: &[u8], part: &MessagePart) -> Vec<u8> {
    let range = part.offset_body as usize..part.offset_end as usize;
    let encoded = raw.get(range).unwrap_or_default();
    let decoded = match part.encoding {
        Encoding::Base64 => base64_decode(encoded),
        Encoding::QuotedPrintable => quoted_printable_decode(encoded),
        Encoding::None => None,
    };
    decoded.unwrap_or_else(|| encoded.to_vec())
}

pub fn attachment_id(message_id: &str, part_id: &str) -> String {
    format!(
        "ANGjdJ{}",
        URL_SAFE.encode(format!("{message_id}/{part_id}"))
    )
}

fn part_of(attachment_id: &str) -> Option<(String, String)> {
    let encoded = attachment_id.strip_prefix("ANGjdJ")?;
    let text = String::from_utf8(URL_SAFE.decode(encoded).ok()?).ok()?;
    let (message, part) = text.split_once('/')?;
    Some((message.to_string(), part.to_string()))
}

/// The bytes of the attachment `attachment_id` of message `message_id`.
pub fn attachment(raw: &[u8], message_id: &str, attachment_id: &str) -> Option<Vec<u8>> {
    let (owner, wanted) = part_of(attachment_id)?;
    if owner != message_id {
        return None;
    }
    let msg = parse(raw)?;
    let mut index = 0u32;
    for step in wanted
        .split('.')
        .filter(|s| !wanted.is_empty() && !s.is_empty())
    {
        let PartType::Multipart(children) = &msg.parts.get(index as usize)?.body else {
            return None;
        };
        index = *children.get(step.parse::<usize>().ok()?)?;
    }
    let part = msg.parts.get(index as usize)?;
    part.attachment_name()?;
    Some(body_bytes(msg.raw_message(), part))
}

/// Gmail's `payload`: the `MessagePart` tree. `only` is the `metadata` format: the root's
/// headers (those named, or all when none are) and no body tree.
pub fn payload(raw: &[u8], message_id: &str, only: Option<&[String]>) -> Value {
    let Some(msg) = parse(raw) else {
        return json!({"partId": "", "mimeType": "text/plain", "filename": "", "headers": [],
                      "body": {"size": 0}});
    };
    if let Some(wanted) = only {
        let root = msg.root_part();
        let wanted = Some(wanted).filter(|w| !w.is_empty());
        return json!({
            "partId": "",
            "mimeType": mime_type(root),
            "filename": "",
            "headers": headers_json(msg.raw_message(), &root.headers, wanted),
            "body": {"size": 0},
        });
    }
    part_json(&msg, 0, String::new(), message_id)
}

fn part_json(msg: &Message, index: u32, part_id: String, message_id: &str) -> Value {
    let Some(part) = msg.parts.get(index as usize) else {
        return Value::Null;
    };
    let raw = msg.raw_message();
    let filename = part.attachment_name().unwrap_or_default();
    let mut out = json!({
        "partId": part_id,
        "mimeType": mime_type(part),
        "filename": filename,
        "headers": headers_json(raw, &part.headers, None),
    });
    if let PartType::Multipart(children) = &part.body {
        let parts = children.iter().enumerate().map(|(i, child)| {
            let id = match part_id.as_str() {
                "" => i.to_string(),
                parent => format!("{parent}.{i}"),
            };
            part_json(msg, *child, id, message_id)
        });
        out["body"] = json!({"size": 0});
        out["parts"] = Value::Array(parts.collect());
        return out;
    }
    let bytes = body_bytes(raw, part);
    out["body"] = if !filename.is_empty() {
        json!({"attachmentId": attachment_id(message_id, &part_id), "size": bytes.len()})
    } else if bytes.is_empty() {
        json!({"size": 0})
    } else {
        json!({"size": bytes.len(), "data": URL_SAFE.encode(&bytes)})
    };
    out
}

/// The JSON metadata and the media of a `multipart/related` upload.
pub fn multipart_related(content_type: &str, body: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut whole = format!("Content-Type: {content_type}\r\n\r\n").into_bytes();
    whole.extend_from_slice(body);
    let msg = parse(&whole)?;
    let PartType::Multipart(children) = &msg.root_part().body else {
        return None;
    };
    let part = |i: usize| msg.parts.get(*children.get(i)? as usize);
    let (metadata, media) = (part(0)?, part(1)?);
    Some((body_bytes(&whole, metadata), body_bytes(&whole, media)))
}
