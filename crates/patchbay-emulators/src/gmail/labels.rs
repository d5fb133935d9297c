//! Labels: Gmail's system labels and the user's own (`Label_N`), with counts on `get`.

use super::request::{json_body, no_content, ok, IdPath};
use super::routes::{Answer, ApiError, App};
use super::store::Store;
use super::Mailbox;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{json, Value};
use std::collections::HashSet;

#[derive(Debug, Clone)]
pub struct Label {
    pub id: String,
    pub name: String,
    pub system: bool,
    pub message_list_visibility: Option<String>,
    pub label_list_visibility: Option<String>,
    pub color: Option<Value>,
}

pub struct Labels {
    list: Vec<Label>,
    next: u64,
}

/// System labels as Gmail lists them; `true` marks those hidden in Gmail's label list.
const SYSTEM: [(&str, bool); 14] = [
    ("CHAT", true),
    ("SENT", false),
    ("INBOX", false),
    ("IMPORTANT", true),
    ("TRASH", true),
    ("DRAFT", false),
    ("SPAM", true),
    ("CATEGORY_FORUMS", true),
    ("CATEGORY_UPDATES", true),
    ("CATEGORY_PERSONAL", true),
    ("CATEGORY_PROMOTIONS", true),
    ("CATEGORY_SOCIAL", true),
    ("STARRED", false),
    ("UNREAD", false),
];

/// Labels a client may not put on or take off a message.
const FIXED: [&str; 3] = ["DRAFT", "SENT", "CHAT"];

/// How search spells a label name: lowercase, spaces and slashes as dashes.
fn search_form(name: &str) -> String {
    name.to_lowercase().replace([' ', '/'], "-")
}

impl Labels {
    pub fn new() -> Self {
        let list = SYSTEM.iter().map(|(id, hidden)| Label {
            id: id.to_string(),
            name: id.to_string(),
            system: true,
            message_list_visibility: hidden.then(|| "hide".into()),
            label_list_visibility: hidden.then(|| {
                if *id == "IMPORTANT" {
                    "labelShow"
                } else {
                    "labelHide"
                }
                .into()
            }),
            color: None,
        });
        Labels {
            list: list.collect(),
            next: 1,
        }
    }

    pub fn get(&self, id: &str) -> Option<&Label> {
        self.list.iter().find(|l| l.id == id)
    }

    /// The id of the label named (or with id) `name`, as search resolves `label:` values.
    pub fn resolve(&self, name: &str) -> Option<String> {
        let wanted = search_form(name);
        let found = self
            .list
            .iter()
            .find(|l| search_form(&l.id) == wanted || search_form(&l.name) == wanted);
        found.map(|l| l.id.clone())
    }

    pub fn user_ids(&self) -> Vec<String> {
        let user = self.list.iter().filter(|l| !l.system);
        user.map(|l| l.id.clone()).collect()
    }

    /// Checks ids a client asks to add or remove: `Err` carries Gmail's 400.
    pub fn check(&self, ids: &[String]) -> Result<(), ApiError> {
        for id in ids {
            if self.get(id).is_none() || FIXED.contains(&id.as_str()) {
                return Err(ApiError::invalid(format!("Invalid label: {id}")));
            }
        }
        Ok(())
    }

    /// Adds a user label; `None` when the name is taken.
    pub fn add(&mut self, mut label: Label) -> Option<Label> {
        if self.name_taken(&label.name, None) {
            return None;
        }
        label.id = format!("Label_{}", self.next);
        self.next += 1;
        self.list.push(label.clone());
        Some(label)
    }

    /// Whether `name` is a system label's, which user labels may not take.
    fn reserved(&self, name: &str) -> bool {
        let system = self.list.iter().filter(|l| l.system);
        system
            .into_iter()
            .any(|l| l.name.eq_ignore_ascii_case(name))
    }

    fn name_taken(&self, name: &str, except: Option<&str>) -> bool {
        let others = self.list.iter().filter(|l| Some(l.id.as_str()) != except);
        others
            .into_iter()
            .any(|l| l.name.eq_ignore_ascii_case(name))
    }

    pub fn render(&self, label: &Label) -> Value {
        let mut out = json!({"id": label.id, "name": label.name});
        if let Some(v) = &label.message_list_visibility {
            out["messageListVisibility"] = v.as_str().into();
        }
        if let Some(v) = &label.label_list_visibility {
            out["labelListVisibility"] = v.as_str().into();
        }
        if let Some(color) = &label.color {
            out["color"] = color.clone();
        }
        out["type"] = if label.system { "system" } else { "user" }.into();
        out
    }
}

/// `messagesTotal`, `messagesUnread`, `threadsTotal`, `threadsUnread` of a label.
fn counts(store: &Store, id: &str) -> Value {
    let (mut total, mut unread) = (0, 0);
    let (mut threads, mut unread_threads) = (HashSet::new(), HashSet::new());
    for m in store.messages.values().filter(|m| m.has(id)) {
        total += 1;
        threads.insert(&m.thread_id);
        if m.has("UNREAD") {
            unread += 1;
            unread_threads.insert(&m.thread_id);
        }
    }
    json!({
        "messagesTotal": total,
        "messagesUnread": unread,
        "threadsTotal": threads.len(),
        "threadsUnread": unread_threads.len(),
    })
}

pub async fn list(State(mailbox): App) -> Answer {
    let store = mailbox.store();
    let labels = store.labels.list.iter().map(|l| store.labels.render(l));
    ok(json!({"labels": labels.collect::<Vec<_>>()}))
}

pub async fn get(State(mailbox): App, Path(p): Path<IdPath>) -> Answer {
    let store = mailbox.store();
    let label = store.labels.get(&p.id).ok_or_else(ApiError::not_found)?;
    let mut out = store.labels.render(label);
    if let (Value::Object(out), Value::Object(counts)) = (&mut out, counts(&store, &p.id)) {
        out.extend(counts);
    }
    ok(out)
}

/// Applies the writable fields of `body` to `label`; `replace` clears those left out.
fn apply(label: &mut Label, body: &Value, replace: bool) -> Result<(), ApiError> {
    let text = |field: &str, allowed: &[&str]| -> Result<Option<String>, ApiError> {
        match body.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(v)) if allowed.is_empty() || allowed.contains(&v.as_str()) => {
                Ok(Some(v.clone()))
            }
            Some(v) => Err(ApiError::invalid(format!("Invalid value for {field}: {v}"))),
        }
    };
    let name = text("name", &[])?;
    let messages = text("messageListVisibility", &["show", "hide"])?;
    let list = text(
        "labelListVisibility",
        &["labelShow", "labelShowIfUnread", "labelHide"],
    )?;
    let color = body.get("color").filter(|c| c.is_object()).cloned();
    if let Some(name) = name {
        if name.trim().is_empty() {
            return Err(ApiError::invalid("Invalid label name"));
        }
        label.name = name.trim().to_string();
    } else if replace {
        return Err(ApiError::invalid("Invalid label name"));
    }
    if replace || messages.is_some() {
        label.message_list_visibility = messages;
    }
    if replace || list.is_some() {
        label.label_list_visibility = list;
    }
    if replace || color.is_some() {
        label.color = color;
    }
    Ok(())
}

fn conflict() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "duplicate",
        "Label name exists or conflicts",
    )
}

pub async fn create(State(mailbox): App, body: Bytes) -> Answer {
    let body = json_body(&body)?;
    let mut label = Label {
        id: String::new(),
        name: String::new(),
        system: false,
        message_list_visibility: None,
        label_list_visibility: None,
        color: None,
    };
    apply(&mut label, &body, true)?;
    let mut store = mailbox.store();
    if store.labels.reserved(&label.name) {
        return Err(ApiError::invalid("Invalid label name"));
    }
    let label = store.labels.add(label).ok_or_else(conflict)?;
    store.history_id += 1;
    ok(store.labels.render(&label))
}

fn change(mailbox: &Mailbox, id: &str, body: Bytes, replace: bool) -> Answer {
    let body = json_body(&body)?;
    let mut store = mailbox.store();
    let label = store.labels.get(id).ok_or_else(ApiError::not_found)?;
    if label.system {
        return Err(ApiError::invalid(format!("Invalid label: {id}")));
    }
    let mut label = label.clone();
    apply(&mut label, &body, replace)?;
    if store.labels.reserved(&label.name) {
        return Err(ApiError::invalid("Invalid label name"));
    }
    if store.labels.name_taken(&label.name, Some(id)) {
        return Err(conflict());
    }
    let rendered = store.labels.render(&label);
    if let Some(slot) = store.labels.list.iter_mut().find(|l| l.id == id) {
        *slot = label;
    }
    store.history_id += 1;
    ok(rendered)
}

pub async fn patch(State(mailbox): App, Path(p): Path<IdPath>, body: Bytes) -> Answer {
    change(&mailbox, &p.id, body, false)
}

pub async fn update(State(mailbox): App, Path(p): Path<IdPath>, body: Bytes) -> Answer {
    change(&mailbox, &p.id, body, true)
}

/// Deletes a user label and takes it off every message.
pub async fn delete(State(mailbox): App, Path(p): Path<IdPath>) -> Answer {
    let mut store = mailbox.store();
    let label = store.labels.get(&p.id).ok_or_else(ApiError::not_found)?;
    if label.system {
        return Err(ApiError::invalid("Invalid delete request"));
    }
    let carrying: Vec<String> = store
        .messages
        .values()
        .filter(|m| m.has(&p.id))
        .map(|m| m.id.clone())
        .collect();
    for id in carrying {
        store.modify(&id, &[], std::slice::from_ref(&p.id));
    }
    store.labels.list.retain(|l| l.id != p.id);
    no_content()
}
