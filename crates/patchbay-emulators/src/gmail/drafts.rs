//! `users.drafts`: a draft is a message with the DRAFT label under a stable draft id.
//! Updating a draft replaces its message (a new message id), and sending it deletes the
//! draft's message and sends a new one, as Gmail does.

use super::messages::{brief, render, Filter, Format};
use super::request::{no_content, ok, page_token, read_page_token, IdPath, Params};
use super::routes::{Answer, ApiError, App};
use super::sending::{complete, raw_of, send_raw, thread_for, upload};
use super::store::{Source, Store, Stored, DRAFT};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde_json::{json, Value};
use std::sync::Arc;

type Q = Query<Vec<(String, String)>>;

fn draft_json(store: &Store, draft: &str, message: &str, format: Option<Format>) -> Value {
    let m = &store.messages[message];
    let message = match format {
        Some(format) => render(store, m, format, &[]),
        None => brief(m),
    };
    json!({"id": draft, "message": message})
}

/// Stores `raw` as the draft's message; returns the message id.
fn store_draft(store: &mut Store, raw: Vec<u8>, thread: Option<&str>) -> Result<String, ApiError> {
    let (raw, meta) = complete(store, raw);
    let thread = thread_for(store, &meta, thread)?;
    let now = store.now_ms();
    let source = Source::Stored(Arc::new(Stored { raw, meta }));
    Ok(store
        .insert(source, vec![DRAFT.to_string()], now, thread, true)
        .0)
}

fn input(draft: &Value, media: Option<Vec<u8>>) -> Result<(Vec<u8>, Option<String>), ApiError> {
    let message = draft.get("message").cloned().unwrap_or(json!({}));
    let raw = raw_of(&message, media)?;
    let thread = message
        .get("threadId")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok((raw, thread))
}

pub async fn list(State(mailbox): App, Query(q): Q) -> Answer {
    let q = Params(q);
    let max = q.max_results()?;
    let offset = match read_page_token(&q, 'd')? {
        Some(p) => p
            .parse::<usize>()
            .map_err(|_| ApiError::invalid("Invalid pageToken"))?,
        None => 0,
    };
    let mut store = mailbox.store();
    let filter = Filter::new(&mut store, &q)?;
    let mut drafts: Vec<(&String, &String)> = store
        .drafts
        .iter()
        .filter(|(_, m)| {
            store
                .messages
                .get(*m)
                .is_some_and(|m| filter.matches(&store, m))
        })
        .collect();
    drafts.sort_by(|a, b| b.1.cmp(a.1));
    let page = drafts.iter().skip(offset).take(max);
    let items: Vec<Value> = page
        .map(|(d, m)| {
            let thread = &store.messages[*m].thread_id;
            json!({"id": d, "message": {"id": m, "threadId": thread}})
        })
        .collect();
    let mut out = json!({});
    if !items.is_empty() {
        out["drafts"] = Value::Array(items);
    }
    if offset + max < drafts.len() {
        out["nextPageToken"] = page_token('d', &(offset + max).to_string()).into();
    }
    out["resultSizeEstimate"] = drafts.len().into();
    ok(out)
}

pub async fn create(State(mailbox): App, Query(q): Q, headers: HeaderMap, body: Bytes) -> Answer {
    let (draft, media) = upload(&Params(q), &headers, &body)?;
    let (raw, thread) = input(&draft, media)?;
    let mut store = mailbox.store();
    let message = store_draft(&mut store, raw, thread.as_deref())?;
    let id = store.new_draft_id();
    store.drafts.insert(id.clone(), message.clone());
    ok(draft_json(&store, &id, &message, None))
}

pub async fn get(State(mailbox): App, Path(p): Path<IdPath>, Query(q): Q) -> Answer {
    let q = Params(q);
    let all = [Format::Full, Format::Metadata, Format::Minimal, Format::Raw];
    let format = Format::parse(&q, &all)?;
    let store = mailbox.store();
    let message = store.drafts.get(&p.id).ok_or_else(ApiError::not_found)?;
    ok(draft_json(&store, &p.id, message, Some(format)))
}

/// Replaces the message of draft `id`; returns the new message id.
fn replace(
    store: &mut Store,
    id: &str,
    raw: Vec<u8>,
    thread: Option<String>,
) -> Result<String, ApiError> {
    let old = store
        .drafts
        .get(id)
        .cloned()
        .ok_or_else(ApiError::not_found)?;
    let thread = thread.or_else(|| {
        let m = &store.messages[&old];
        (store.thread(&m.thread_id).len() > 1).then(|| m.thread_id.clone())
    });
    let message = store_draft(store, raw, thread.as_deref())?;
    store.delete(&old);
    store.drafts.insert(id.to_string(), message.clone());
    Ok(message)
}

pub async fn update(
    State(mailbox): App,
    Path(p): Path<IdPath>,
    Query(q): Q,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let (draft, media) = upload(&Params(q), &headers, &body)?;
    let (raw, thread) = input(&draft, media)?;
    let mut store = mailbox.store();
    let message = replace(&mut store, &p.id, raw, thread)?;
    ok(draft_json(&store, &p.id, &message, None))
}

pub async fn delete(State(mailbox): App, Path(p): Path<IdPath>) -> Answer {
    let mut store = mailbox.store();
    let message = store
        .drafts
        .get(&p.id)
        .cloned()
        .ok_or_else(ApiError::not_found)?;
    store.delete(&message);
    store.drafts.remove(&p.id);
    no_content()
}

pub async fn send(State(mailbox): App, Query(q): Q, headers: HeaderMap, body: Bytes) -> Answer {
    let (draft, media) = upload(&Params(q), &headers, &body)?;
    let id = draft
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let id = id
        .ok_or_else(|| ApiError::invalid("Invalid draft"))?
        .to_string();
    let mut store = mailbox.store();
    let mut message = store
        .drafts
        .get(&id)
        .cloned()
        .ok_or_else(ApiError::not_found)?;
    let new_content = draft.get("message").and_then(|m| m.get("raw")).is_some() || media.is_some();
    if new_content {
        let (raw, thread) = input(&draft, media)?;
        message = replace(&mut store, &id, raw, thread)?;
    }
    let m = &store.messages[&message];
    let raw = store.raw(m).into_owned();
    let own_thread = store.thread(&m.thread_id).len() == 1;
    let thread = (!own_thread).then(|| m.thread_id.clone());
    if super::parse::meta(&raw).to.is_empty() {
        return Err(ApiError::invalid("Recipient address required"));
    }
    store.delete(&message);
    store.drafts.remove(&id);
    let sent = send_raw(&mut store, raw, thread.as_deref())?;
    ok(brief(&store.messages[&sent]))
}
