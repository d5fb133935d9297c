//! `users.threads`: threads listed by their newest matching message, read with all their
//! messages, and changed as a whole.

use super::messages::{brief, relabel, render, Filter, Format};
use super::request::{json_body, no_content, ok, page_token, read_page_token, IdPath, Params};
use super::routes::{Answer, ApiError, App};
use super::store::{Msg, Store};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use serde_json::{json, Value};
use std::collections::HashSet;

type Q = Query<Vec<(String, String)>>;

fn history_id(messages: &[&Msg]) -> String {
    let max = messages
        .iter()
        .map(|m| m.history_id)
        .max()
        .unwrap_or_default();
    max.to_string()
}

pub async fn list(State(mailbox): App, Query(q): Q) -> Answer {
    let q = Params(q);
    let max = q.max_results()?;
    let offset = match read_page_token(&q, 't')? {
        Some(p) => p
            .parse::<usize>()
            .map_err(|_| ApiError::invalid("Invalid pageToken"))?,
        None => 0,
    };
    let mut store = mailbox.store();
    let filter = Filter::new(&mut store, &q)?;
    let mut seen = HashSet::new();
    let mut order = Vec::new();
    for m in store.messages.values().rev() {
        if !seen.contains(&m.thread_id) && filter.matches(&store, m) {
            seen.insert(&m.thread_id);
            order.push(m.thread_id.clone());
        }
    }
    let page = order.iter().skip(offset).take(max);
    let items: Vec<Value> = page
        .map(|id| {
            let messages = store.thread(id);
            let snippet = messages.last().map(|m| store.meta(m).snippet.clone());
            let snippet = snippet.unwrap_or_default();
            json!({"id": id, "snippet": snippet, "historyId": history_id(&messages)})
        })
        .collect();
    let mut out = json!({});
    if !items.is_empty() {
        out["threads"] = Value::Array(items);
    }
    if offset + max < order.len() {
        out["nextPageToken"] = page_token('t', &(offset + max).to_string()).into();
    }
    out["resultSizeEstimate"] = order.len().into();
    ok(out)
}

pub async fn get(State(mailbox): App, Path(p): Path<IdPath>, Query(q): Q) -> Answer {
    let q = Params(q);
    let format = Format::parse(&q, &[Format::Full, Format::Metadata, Format::Minimal])?;
    let headers = q.all("metadataHeaders");
    let store = mailbox.store();
    let messages = store.thread(&p.id);
    if messages.is_empty() {
        return Err(ApiError::not_found());
    }
    let rendered: Vec<Value> = messages
        .iter()
        .map(|m| render(&store, m, format, &headers))
        .collect();
    ok(json!({"id": p.id, "historyId": history_id(&messages), "messages": rendered}))
}

/// The thread's messages in brief, the answer of modify, trash and untrash.
fn summary(store: &Store, id: &str) -> Answer {
    let messages = store.thread(id);
    let briefs: Vec<Value> = messages.iter().map(|m| brief(m)).collect();
    ok(json!({"id": id, "historyId": history_id(&messages), "messages": briefs}))
}

fn ids(store: &Store, thread: &str) -> Result<Vec<String>, ApiError> {
    let ids: Vec<String> = store.thread(thread).iter().map(|m| m.id.clone()).collect();
    if ids.is_empty() {
        return Err(ApiError::not_found());
    }
    Ok(ids)
}

pub async fn modify(State(mailbox): App, Path(p): Path<IdPath>, body: Bytes) -> Answer {
    let body = json_body(&body)?;
    let mut store = mailbox.store();
    let ids = ids(&store, &p.id)?;
    relabel(&mut store, &ids, &body)?;
    summary(&store, &p.id)
}

pub async fn trash(State(mailbox): App, Path(p): Path<IdPath>) -> Answer {
    let mut store = mailbox.store();
    for id in ids(&store, &p.id)? {
        store.trash(&id);
    }
    summary(&store, &p.id)
}

pub async fn untrash(State(mailbox): App, Path(p): Path<IdPath>) -> Answer {
    let mut store = mailbox.store();
    for id in ids(&store, &p.id)? {
        store.untrash(&id);
    }
    summary(&store, &p.id)
}

pub async fn delete(State(mailbox): App, Path(p): Path<IdPath>) -> Answer {
    let mut store = mailbox.store();
    for id in ids(&store, &p.id)? {
        store.delete(&id);
    }
    no_content()
}
