//! `users.messages`: list and search, get in four formats, label changes, trash, delete,
//! attachments; and the rendering of a `Message` other resources share. Sending, insert and
//! import are in [`super::sending`].

use super::parse;
use super::query::Query;
use super::request::{json_body, no_content, ok, page_token, read_page_token, string_list};
use super::request::{AttachmentPath, IdPath, Params};
use super::routes::{Answer, ApiError, App};
use super::store::{Msg, Store, SPAM, TRASH};
use axum::body::Bytes;
use axum::extract::{Path, Query as QueryString, State};
use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use serde_json::{json, Value};

type Q = QueryString<Vec<(String, String)>>;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Format {
    Full,
    Metadata,
    Minimal,
    Raw,
}

impl Format {
    pub fn parse(q: &Params, allowed: &[Format]) -> Result<Format, ApiError> {
        let format = match q.get("format") {
            None | Some("full") => Some(Format::Full),
            Some("metadata") => Some(Format::Metadata),
            Some("minimal") => Some(Format::Minimal),
            Some("raw") => Some(Format::Raw),
            Some(_) => None,
        };
        match format.filter(|f| allowed.contains(f)) {
            Some(format) => Ok(format),
            None => {
                let v = q.get("format").unwrap_or_default();
                Err(ApiError::invalid(format!(
                    "Invalid value at 'format' (TYPE_ENUM), \"{v}\""
                )))
            }
        }
    }
}

/// A `Message` resource in `format`; `headers` are the `metadataHeaders` asked for.
pub fn render(store: &Store, m: &Msg, format: Format, headers: &[String]) -> Value {
    let raw = store.raw(m);
    let mut out = json!({"id": m.id, "threadId": m.thread_id});
    if !m.labels.is_empty() {
        out["labelIds"] = json!(m.labels);
    }
    out["snippet"] = store.meta(m).snippet.clone().into();
    match format {
        Format::Full => out["payload"] = parse::payload(&raw, &m.id, None),
        Format::Metadata => out["payload"] = parse::payload(&raw, &m.id, Some(headers)),
        Format::Raw => out["raw"] = URL_SAFE.encode(&raw).into(),
        Format::Minimal => {}
    }
    out["sizeEstimate"] = raw.len().into();
    out["historyId"] = m.history_id.to_string().into();
    out["internalDate"] = m.internal_date.to_string().into();
    out
}

/// `{id, threadId, labelIds}`, the answer of send, modify and trash.
pub fn brief(m: &Msg) -> Value {
    let mut out = json!({"id": m.id, "threadId": m.thread_id});
    if !m.labels.is_empty() {
        out["labelIds"] = json!(m.labels);
    }
    out
}

/// The `labelIds`, `q` and `includeSpamTrash` of a list request.
pub struct Filter {
    labels: Vec<String>,
    query: Option<Query>,
    include_spam_trash: bool,
}

impl Filter {
    pub fn new(store: &mut Store, q: &Params) -> Result<Filter, ApiError> {
        let now = store.now_ms();
        let labels = q.all("labelIds");
        let query = q.get("q").filter(|s| !s.trim().is_empty());
        let query = query.map(|s| Query::parse(s, &store.labels, now));
        let named = labels.iter().any(|l| l == TRASH || l == SPAM);
        let asked = query.as_ref().is_some_and(|q| q.wants_spam_trash);
        Ok(Filter {
            labels,
            query,
            include_spam_trash: q.flag("includeSpamTrash")? || named || asked,
        })
    }

    pub fn matches(&self, store: &Store, m: &Msg) -> bool {
        (self.include_spam_trash || !(m.has(TRASH) || m.has(SPAM)))
            && self.labels.iter().all(|l| m.has(l))
            && self.query.as_ref().is_none_or(|q| q.matches(store, m))
    }
}

pub async fn list(State(mailbox): App, QueryString(q): Q) -> Answer {
    let q = Params(q);
    let max = q.max_results()?;
    let after = read_page_token(&q, 'm')?;
    let mut store = mailbox.store();
    let filter = Filter::new(&mut store, &q)?;
    let (mut total, mut page, mut more) = (0, Vec::new(), false);
    for m in store.messages.values().rev() {
        if !filter.matches(&store, m) {
            continue;
        }
        total += 1;
        if after.as_ref().is_some_and(|a| m.id >= *a) {
            continue;
        }
        if page.len() < max {
            page.push(m);
        } else {
            more = true;
        }
    }
    let mut out = json!({});
    if !page.is_empty() {
        let items = page
            .iter()
            .map(|m| json!({"id": m.id, "threadId": m.thread_id}));
        out["messages"] = Value::Array(items.collect());
    }
    if let Some(last) = page.last().filter(|_| more) {
        out["nextPageToken"] = page_token('m', &last.id).into();
    }
    out["resultSizeEstimate"] = total.into();
    ok(out)
}

pub async fn get(State(mailbox): App, Path(p): Path<IdPath>, QueryString(q): Q) -> Answer {
    let q = Params(q);
    let all = [Format::Full, Format::Metadata, Format::Minimal, Format::Raw];
    let format = Format::parse(&q, &all)?;
    let store = mailbox.store();
    let m = store.messages.get(&p.id).ok_or_else(ApiError::not_found)?;
    ok(render(&store, m, format, &q.all("metadataHeaders")))
}

/// Checks and applies `addLabelIds` / `removeLabelIds` to each of `ids`.
pub fn relabel(store: &mut Store, ids: &[String], body: &Value) -> Result<(), ApiError> {
    let (add, remove) = (
        string_list(body, "addLabelIds"),
        string_list(body, "removeLabelIds"),
    );
    store.labels.check(&add)?;
    store.labels.check(&remove)?;
    for id in ids {
        store.modify(id, &add, &remove);
    }
    Ok(())
}

pub async fn modify(State(mailbox): App, Path(p): Path<IdPath>, body: Bytes) -> Answer {
    let body = json_body(&body)?;
    let mut store = mailbox.store();
    store.messages.get(&p.id).ok_or_else(ApiError::not_found)?;
    relabel(&mut store, std::slice::from_ref(&p.id), &body)?;
    ok(brief(&store.messages[&p.id]))
}

pub async fn trash(State(mailbox): App, Path(p): Path<IdPath>) -> Answer {
    let mut store = mailbox.store();
    store.trash(&p.id).ok_or_else(ApiError::not_found)?;
    ok(brief(&store.messages[&p.id]))
}

pub async fn untrash(State(mailbox): App, Path(p): Path<IdPath>) -> Answer {
    let mut store = mailbox.store();
    store.untrash(&p.id).ok_or_else(ApiError::not_found)?;
    ok(brief(&store.messages[&p.id]))
}

pub async fn delete(State(mailbox): App, Path(p): Path<IdPath>) -> Answer {
    mailbox
        .store()
        .delete(&p.id)
        .ok_or_else(ApiError::not_found)?;
    no_content()
}

fn ids_of(body: &Value) -> Result<Vec<String>, ApiError> {
    let ids = string_list(body, "ids");
    if ids.len() > 1000 {
        return Err(ApiError::invalid("Too many ids: at most 1000 are allowed"));
    }
    Ok(ids)
}

pub async fn batch_modify(State(mailbox): App, body: Bytes) -> Answer {
    let body = json_body(&body)?;
    let ids = ids_of(&body)?;
    relabel(&mut mailbox.store(), &ids, &body)?;
    no_content()
}

pub async fn batch_delete(State(mailbox): App, body: Bytes) -> Answer {
    let ids = ids_of(&json_body(&body)?)?;
    let mut store = mailbox.store();
    for id in ids {
        store.delete(&id);
    }
    no_content()
}

pub async fn attachment(State(mailbox): App, Path(p): Path<AttachmentPath>) -> Answer {
    let store = mailbox.store();
    let m = store.messages.get(&p.id).ok_or_else(ApiError::not_found)?;
    let raw = store.raw(m);
    let data = parse::attachment(&raw, &m.id, &p.attachment)
        .ok_or_else(|| ApiError::invalid("Invalid attachment token"))?;
    ok(json!({"attachmentId": p.attachment, "size": data.len(), "data": URL_SAFE.encode(&data)}))
}
