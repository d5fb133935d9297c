//! Mail written through the API: `messages.send` (JSON or upload), `insert` and `import`,
//! and what drafts share with them: reading the raw message, completing its headers and
//! finding its thread.

use super::messages::brief;
use super::parse::{self, Meta};
use super::request::{json_body, ok, string_list, Params};
use super::routes::{Answer, ApiError, App};
use super::store::{Source, Store, Stored, INBOX, SENT};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use mail_builder::headers::address::Address;
use mail_builder::headers::date::Date;
use mail_builder::headers::message_id::MessageId;
use mail_builder::headers::Header;
use serde_json::{json, Value};
use std::sync::Arc;

type Q = Query<Vec<(String, String)>>;

/// The JSON body and, for `/upload` requests, the uploaded message.
pub fn upload(
    q: &Params,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(Value, Option<Vec<u8>>), ApiError> {
    match q.get("uploadType") {
        None => Ok((json_body(body)?, None)),
        Some("media") => Ok((json!({}), Some(body.to_vec()))),
        Some("multipart") => {
            let ct = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            let parts = ct.and_then(|ct| parse::multipart_related(ct, body));
            let (metadata, media) =
                parts.ok_or_else(|| ApiError::invalid("Invalid multipart request"))?;
            Ok((json_body(&Bytes::from(metadata))?, Some(media)))
        }
        Some(other) => Err(ApiError::invalid(format!(
            "Unsupported uploadType: {other}"
        ))),
    }
}

/// The raw message of a `Message` body (`{"raw": base64url}`) or of an upload.
pub fn raw_of(message: &Value, media: Option<Vec<u8>>) -> Result<Vec<u8>, ApiError> {
    if let Some(raw) = media.filter(|m| !m.is_empty()) {
        return Ok(raw);
    }
    let Some(text) = message
        .get("raw")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return Err(ApiError::invalid(
            "'raw' RFC822 payload message string or uploading message via /upload/* URL required",
        ));
    };
    // Gmail takes padded or unpadded, URL-safe or standard base64.
    let cleaned: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=')
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    URL_SAFE_NO_PAD
        .decode(cleaned)
        .map_err(|_| ApiError::invalid("Invalid value for ByteString: raw"))
}

/// Adds the From, Date and Message-ID headers a client left out, as Gmail does on send.
pub fn complete(store: &mut Store, raw: Vec<u8>) -> (Vec<u8>, Meta) {
    let meta = parse::meta(&raw);
    let mut head = Vec::new();
    if meta.message_id.is_none() {
        head.extend_from_slice(b"Message-ID: ");
        let id = format!("CA+{:032x}@mail.gmail.com", rand::random::<u128>());
        let _ = MessageId::new(id).write_header(&mut head, 12);
    }
    if meta.date_ms.is_none() {
        head.extend_from_slice(b"Date: ");
        let _ = Date::new(store.now_ms() / 1000).write_header(&mut head, 6);
    }
    if meta.from.is_empty() {
        head.extend_from_slice(b"From: ");
        let _ = Address::new_address(None::<&str>, store.email.as_str()).write_header(&mut head, 6);
    }
    if head.is_empty() {
        return (raw, meta);
    }
    head.extend_from_slice(&raw);
    let meta = parse::meta(&head);
    (head, meta)
}

/// The thread a new message of the account joins; an unknown `threadId` is refused.
pub fn thread_for(
    store: &Store,
    meta: &Meta,
    requested: Option<&str>,
) -> Result<Option<String>, ApiError> {
    match requested.filter(|t| !t.is_empty()) {
        Some(t) if !store.threads.contains_key(t) => {
            Err(ApiError::invalid("Invalid thread_id value"))
        }
        requested => Ok(store.thread_for(meta, requested)),
    }
}

/// Sends a raw message from the account: stored with SENT (and INBOX when addressed to the
/// account itself); returns the new id.
pub fn send_raw(store: &mut Store, raw: Vec<u8>, thread: Option<&str>) -> Result<String, ApiError> {
    let (raw, meta) = complete(store, raw);
    if meta.to.is_empty() {
        return Err(ApiError::invalid("Recipient address required"));
    }
    let thread = thread_for(store, &meta, thread)?;
    let mut labels = vec![SENT.to_string()];
    if meta.to.contains(&store.email.to_lowercase()) {
        labels.push(INBOX.to_string());
    }
    store.sent.push(raw.clone());
    let now = store.now_ms();
    let source = Source::Stored(Arc::new(Stored { raw, meta }));
    Ok(store.insert(source, labels, now, thread, true).0)
}

pub async fn send(State(mailbox): App, Query(q): Q, headers: HeaderMap, body: Bytes) -> Answer {
    let (message, media) = upload(&Params(q), &headers, &body)?;
    let raw = raw_of(&message, media)?;
    let thread = message.get("threadId").and_then(Value::as_str);
    let mut store = mailbox.store();
    let id = send_raw(&mut store, raw, thread)?;
    ok(brief(&store.messages[&id]))
}

/// `insert` and `import`: a message straight into the mailbox with the labels given.
fn add(
    mailbox: &super::Mailbox,
    q: Params,
    headers: HeaderMap,
    body: Bytes,
    import: bool,
) -> Answer {
    let (message, media) = upload(&q, &headers, &body)?;
    let raw = raw_of(&message, media)?;
    let labels = string_list(&message, "labelIds");
    let mut store = mailbox.store();
    for label in &labels {
        store
            .labels
            .get(label)
            .ok_or_else(|| ApiError::invalid(format!("Invalid label: {label}")))?;
    }
    let meta = parse::meta(&raw);
    let thread = thread_for(
        &store,
        &meta,
        message.get("threadId").and_then(Value::as_str),
    )?;
    let by_header =
        q.get("internalDateSource")
            .unwrap_or(if import { "dateHeader" } else { "receivedTime" });
    let date = match meta.date_ms.filter(|_| by_header == "dateHeader") {
        Some(ms) => ms,
        None => store.now_ms(),
    };
    let source = Source::Stored(Arc::new(Stored { raw, meta }));
    let (id, _) = store.insert(source, labels, date, thread, true);
    ok(brief(&store.messages[&id]))
}

pub async fn insert(State(mailbox): App, Query(q): Q, headers: HeaderMap, body: Bytes) -> Answer {
    add(&mailbox, Params(q), headers, body, false)
}

pub async fn import(State(mailbox): App, Query(q): Q, headers: HeaderMap, body: Bytes) -> Answer {
    add(&mailbox, Params(q), headers, body, true)
}
