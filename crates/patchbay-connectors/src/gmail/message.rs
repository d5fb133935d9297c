//! A Gmail `Message` resource (format `full` or `metadata`) as a record: headers, addresses,
//! snippet, labels, thread, dates, the text and HTML bodies decoded from their charsets,
//! attachment metadata (never the bytes) and calendar parts. What cannot be read becomes a
//! parse note on the record; a message never fails a run.

use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use mail_parser::MessageParser;
use serde_json::{json, Map, Value};

/// Bodies longer than this are cut (characters), with a note.
const MAX_BODY_CHARS: usize = 512 * 1024;

/// What the walk over the MIME parts collected.
#[derive(Default)]
struct Parts {
    text: String,
    html: String,
    attachments: Vec<Value>,
    /// `text/calendar` bodies found inline, for invite extraction.
    calendars: Vec<String>,
    notes: Vec<String>,
}

/// Decodes Gmail's base64url part data (padding optional).
pub fn decode_data(data: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(data.trim_end_matches('='))
        .or_else(|_| URL_SAFE.decode(data))
        .ok()
}

fn header<'a>(headers: &'a [Value], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|h| {
            h["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .and_then(|h| h["value"].as_str())
}

/// The `charset` parameter of a part's Content-Type header.
fn charset_of(headers: &[Value]) -> Option<String> {
    let ct = header(headers, "Content-Type")?;
    ct.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// Text in `charset`; an unknown charset is read as UTF-8 (lossy) with a note.
fn decode_text(bytes: &[u8], charset: Option<&str>, notes: &mut Vec<String>) -> String {
    let label = charset.unwrap_or("utf-8");
    match encoding_rs::Encoding::for_label(label.as_bytes()) {
        Some(enc) => enc.decode(bytes).0.into_owned(),
        None => {
            notes.push(format!("unknown charset '{label}', read as UTF-8"));
            String::from_utf8_lossy(bytes).into_owned()
        }
    }
}

fn walk(part: &Value, out: &mut Parts) {
    let mime = part["mimeType"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let headers = part["headers"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let filename = part["filename"].as_str().unwrap_or_default();
    let body = &part["body"];
    if let Some(children) = part["parts"].as_array() {
        for child in children {
            walk(child, out);
        }
        return;
    }
    if !filename.is_empty() || body.get("attachmentId").is_some() {
        out.attachments.push(json!({
            "filename": filename,
            "mime_type": mime,
            "size": body["size"].as_u64().unwrap_or(0),
            "attachment_id": body["attachmentId"],
            "part_id": part["partId"],
        }));
        // A calendar attachment small enough to come inline is read like an inline one.
        if mime != "text/calendar" && !filename.to_ascii_lowercase().ends_with(".ics") {
            return;
        }
    }
    let Some(data) = body["data"].as_str() else {
        return;
    };
    let Some(bytes) = decode_data(data) else {
        out.notes
            .push(format!("part {} is not valid base64url", part["partId"]));
        return;
    };
    let charset = charset_of(headers);
    match mime.as_str() {
        "text/plain" if filename.is_empty() => append(
            &mut out.text,
            &decode_text(&bytes, charset.as_deref(), &mut out.notes),
        ),
        "text/html" if filename.is_empty() => append(
            &mut out.html,
            &decode_text(&bytes, charset.as_deref(), &mut out.notes),
        ),
        "text/calendar" | "application/ics" => {
            out.calendars
                .push(decode_text(&bytes, charset.as_deref(), &mut out.notes))
        }
        _ if filename.to_ascii_lowercase().ends_with(".ics") => {
            out.calendars
                .push(decode_text(&bytes, charset.as_deref(), &mut out.notes))
        }
        _ => {}
    }
}

fn append(into: &mut String, text: &str) {
    if !into.is_empty() {
        into.push('\n');
    }
    into.push_str(text);
}

fn cut(text: String, what: &str, notes: &mut Vec<String>) -> String {
    if text.chars().count() <= MAX_BODY_CHARS {
        return text;
    }
    notes.push(format!("{what} body cut at {MAX_BODY_CHARS} characters"));
    text.chars().take(MAX_BODY_CHARS).collect()
}

/// Addresses of the address headers, parsed by mail-parser: `[{name, address}]` with the
/// address in lower case.
pub fn addresses(headers: &[Value]) -> Map<String, Value> {
    let mut block = String::new();
    for name in ["From", "To", "Cc", "Bcc", "Reply-To"] {
        if let Some(v) = header(headers, name) {
            // Header values come decoded; keep them on one line for the parser.
            block.push_str(&format!("{name}: {}\r\n", v.replace(['\r', '\n'], " ")));
        }
    }
    block.push_str("\r\n");
    let mut out = Map::new();
    let Some(parsed) = MessageParser::default().parse(block.as_bytes()) else {
        return out;
    };
    let list = |a: Option<&mail_parser::Address<'_>>| -> Value {
        let Some(a) = a else { return json!([]) };
        Value::Array(
            a.iter()
                .filter_map(|addr| {
                    let address = addr.address.as_deref()?.trim().to_ascii_lowercase();
                    address.contains('@').then(
                        || json!({"name": addr.name.as_deref().map(str::trim), "address": address}),
                    )
                })
                .collect(),
        )
    };
    out.insert("from".into(), list(parsed.from()));
    out.insert("to".into(), list(parsed.to()));
    out.insert("cc".into(), list(parsed.cc()));
    out.insert("bcc".into(), list(parsed.bcc()));
    out.insert("reply_to".into(), list(parsed.reply_to()));
    out
}

/// Requests and commitments in the message's own text.
fn action_items(data: &Value, day: Option<chrono::NaiveDate>) -> Value {
    let (Some(text), Some(day)) = (data["text"].as_str(), day) else {
        return json!([]);
    };
    let from = data["from"][0]["address"].as_str().unwrap_or_default();
    let to: Vec<String> = data["to"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["address"].as_str().map(str::to_string))
        .collect();
    let items = crate::mail::action_items::extract(&crate::mail::action_items::Mail {
        text,
        from,
        to: &to,
        date: day,
    });
    serde_json::to_value(items).unwrap_or(Value::Null)
}

/// The record data of a Gmail message resource (with the invites its calendar parts carry),
/// and those calendar texts.
pub fn record(msg: &Value) -> (Value, Vec<String>) {
    record_with(msg, true)
}

/// [`record`], reading invites and action items only when `context` is on.
pub fn record_with(msg: &Value, context: bool) -> (Value, Vec<String>) {
    let payload = &msg["payload"];
    let headers = payload["headers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let mut parts = Parts::default();
    walk(payload, &mut parts);
    let internal_ms = msg["internalDate"]
        .as_str()
        .and_then(|s| s.parse::<i64>().ok())
        .or_else(|| msg["internalDate"].as_i64());
    let internal = internal_ms
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    let mut day = internal_ms
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.date_naive());
    let date = match header(headers, "Date") {
        Some(d) => match chrono::DateTime::parse_from_rfc2822(d.trim()) {
            Ok(t) => {
                // Deadlines in the text are relative to the day where the sender was.
                day = Some(t.date_naive());
                Some(t.to_rfc3339())
            }
            Err(_) => {
                parts.notes.push(format!("unreadable Date header '{d}'"));
                None
            }
        },
        None => {
            parts
                .notes
                .push("no Date header; internal date used".into());
            None
        }
    };
    let mut notes = std::mem::take(&mut parts.notes);
    let text = cut(parts.text, "text", &mut notes);
    let html = cut(parts.html, "HTML", &mut notes);
    let mut data = json!({
        "id": msg["id"],
        "thread_id": msg["threadId"],
        "label_ids": msg["labelIds"].as_array().cloned().unwrap_or_default(),
        "snippet": msg["snippet"],
        "history_id": msg["historyId"],
        "internal_date": internal,
        "date": date.or_else(|| internal.clone()),
        "size_estimate": msg["sizeEstimate"],
        "subject": header(headers, "Subject"),
        "message_id": header(headers, "Message-ID").or_else(|| header(headers, "Message-Id")),
        "in_reply_to": header(headers, "In-Reply-To"),
        "references": header(headers, "References"),
        "headers": Value::Array(headers.iter().map(|h| json!({"name": h["name"], "value": h["value"]})).collect()),
        "text": text,
        "html": if html.is_empty() { Value::Null } else { Value::String(html) },
        "attachments": parts.attachments,
        "invites": if context {
            parts.calendars.iter().flat_map(|c| crate::mail::invites::parse(c)).collect::<Vec<_>>()
        } else {
            Vec::new()
        },
        "unread": msg["labelIds"].as_array().is_some_and(|l| l.iter().any(|x| x == "UNREAD")),
        "parse_notes": notes,
    });
    if let Value::Object(o) = &mut data {
        o.extend(addresses(headers));
    }
    data["action_items"] = if context {
        action_items(&data, day)
    } else {
        json!([])
    };
    (data, parts.calendars)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn parts_headers_and_charsets_become_a_record() {
        let latin1 = [b'G', b'r', 0xFC, 0xDF, b'e'];
        let msg = json!({
            "id": "m1", "threadId": "t1", "labelIds": ["INBOX", "UNREAD"], "snippet": "Hi",
            "historyId": "42", "internalDate": "1764000000000", "sizeEstimate": 1234,
            "payload": {"mimeType": "multipart/mixed", "headers": [
                {"name": "From", "value": "Zoë Müller <Zoe@Example.COM>"},
                {"name": "To", "value": "ada@example.com, \"Bob B\" <bob@example.com>"},
                {"name": "Subject", "value": "Grüße"},
                {"name": "Date", "value": "Tue, 24 Nov 2026 10:00:00 +0100"}],
              "parts": [
                {"partId": "0", "mimeType": "multipart/alternative", "filename": "", "parts": [
                    {"partId": "0.0", "mimeType": "text/plain", "filename": "",
                     "headers": [{"name": "Content-Type", "value": "text/plain; charset=\"ISO-8859-1\""}],
                     "body": {"size": 5, "data": b64(&latin1)}},
                    {"partId": "0.1", "mimeType": "text/html", "filename": "",
                     "headers": [{"name": "Content-Type", "value": "text/html; charset=x-unknown"}],
                     "body": {"size": 9, "data": b64(b"<p>hi</p>")}}]},
                {"partId": "1", "mimeType": "application/pdf", "filename": "q3.pdf",
                 "body": {"size": 52000, "attachmentId": "ANGjdJ"}},
                {"partId": "2", "mimeType": "text/calendar", "filename": "",
                 "headers": [{"name": "Content-Type", "value": "text/calendar; method=REQUEST; charset=UTF-8"}],
                 "body": {"size": 20, "data": b64(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")}}]}
        });
        let (r, cals) = record(&msg);
        assert_eq!(r["text"], "Grüße");
        assert_eq!(r["html"], "<p>hi</p>");
        assert_eq!(r["from"][0]["address"], "zoe@example.com");
        assert_eq!(r["from"][0]["name"], "Zoë Müller");
        assert_eq!(r["to"][1]["name"], "Bob B");
        assert_eq!(r["attachments"][0]["attachment_id"], "ANGjdJ");
        assert_eq!(r["attachments"][0]["size"], 52000);
        assert_eq!(r["unread"], true);
        assert_eq!(r["date"], "2026-11-24T10:00:00+01:00");
        assert_eq!(cals.len(), 1);
        // A calendar without events gives no invite.
        assert_eq!(r["invites"], json!([]));
        assert!(r["parse_notes"][0]
            .as_str()
            .unwrap()
            .contains("unknown charset"));
    }

    #[test]
    fn broken_parts_and_missing_dates_are_notes() {
        let msg = json!({"id": "m2", "threadId": "t2", "internalDate": "1764000000000",
            "payload": {"mimeType": "text/plain", "headers": [],
                "body": {"size": 3, "data": "***"}}});
        let (r, _) = record(&msg);
        let notes: Vec<&str> = r["parse_notes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(notes.iter().any(|n| n.contains("base64url")), "{notes:?}");
        assert!(
            notes.iter().any(|n| n.contains("no Date header")),
            "{notes:?}"
        );
        assert_eq!(r["date"], "2025-11-24T16:00:00.000Z");
    }
}
