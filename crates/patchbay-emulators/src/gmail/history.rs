//! `users.history.list`, `users.getProfile`, `users.watch` and `users.stop`.

use super::request::{json_body, no_content, ok, page_token, read_page_token, string_list, Params};
use super::routes::{Answer, ApiError, App};
use super::store::{Change, Record};
use super::WatchRequest;
use axum::body::Bytes;
use axum::extract::{Query, State};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::atomic::Ordering;

const TYPES: [&str; 4] = [
    "messageAdded",
    "messageDeleted",
    "labelAdded",
    "labelRemoved",
];

/// A history record limited to the `historyTypes` asked for (all when none are); `None`
/// when nothing of it is left.
fn render(r: &Record, types: &[String]) -> Option<Value> {
    let wants = |t: &str| types.is_empty() || types.iter().any(|x| x == t);
    let message = json!({"id": r.message, "threadId": r.thread});
    let mut full = message.clone();
    if !r.labels.is_empty() {
        full["labelIds"] = json!(r.labels);
    }
    let mut out = json!({"id": r.id.to_string(), "messages": [message]});
    let mut any = false;
    match &r.change {
        Change::Added if wants("messageAdded") => {
            out["messagesAdded"] = json!([{"message": full}]);
            any = true;
        }
        Change::Deleted if wants("messageDeleted") => {
            out["messagesDeleted"] = json!([{"message": full}]);
            any = true;
        }
        Change::Labels { added, removed } => {
            if !added.is_empty() && wants("labelAdded") {
                out["labelsAdded"] = json!([{"message": full, "labelIds": added}]);
                any = true;
            }
            if !removed.is_empty() && wants("labelRemoved") {
                out["labelsRemoved"] = json!([{"message": full, "labelIds": removed}]);
                any = true;
            }
        }
        _ => {}
    }
    any.then_some(out)
}

pub fn touches(r: &Record, label: &str) -> bool {
    let changed = match &r.change {
        Change::Labels { added, removed } => added.iter().chain(removed).any(|l| l == label),
        _ => false,
    };
    changed || r.labels.iter().any(|l| l == label)
}

pub async fn list(State(mailbox): App, Query(q): Query<Vec<(String, String)>>) -> Answer {
    let q = Params(q);
    let start = q
        .get("startHistoryId")
        .ok_or_else(|| ApiError::invalid("Required parameter: startHistoryId"))?;
    let start: u64 = start
        .parse()
        .map_err(|_| ApiError::invalid(format!("Invalid startHistoryId: {start}")))?;
    let types = q.all("historyTypes");
    if let Some(bad) = types.iter().find(|t| !TYPES.contains(&t.as_str())) {
        return Err(ApiError::invalid(format!(
            "Invalid value at 'history_types' (TYPE_ENUM), \"{bad}\""
        )));
    }
    let label = q.get("labelId");
    let max = q.max_results()?;
    let after = match read_page_token(&q, 'h')? {
        Some(p) => p
            .parse::<u64>()
            .map_err(|_| ApiError::invalid("Invalid pageToken"))?,
        None => start,
    };
    let store = mailbox.store();
    // Gmail keeps history for a limited time; older start ids are not found.
    if start < store.history_floor {
        return Err(ApiError::not_found());
    }
    let newer = store.history.iter().filter(|r| r.id > after.max(start));
    let labelled = newer.filter(|r| label.is_none_or(|l| touches(r, l)));
    let mut rendered = labelled.filter_map(|r| render(r, &types).map(|v| (r.id, v)));
    let page: Vec<(u64, Value)> = rendered.by_ref().take(max).collect();
    let mut out = json!({});
    if let Some((last, _)) = page.last().filter(|_| rendered.next().is_some()) {
        out["nextPageToken"] = page_token('h', &last.to_string()).into();
    }
    if !page.is_empty() {
        out["history"] = Value::Array(page.into_iter().map(|(_, v)| v).collect());
    }
    out["historyId"] = store.history_id.to_string().into();
    ok(out)
}

pub async fn profile(State(mailbox): App) -> Answer {
    let store = mailbox.store();
    ok(json!({
        "emailAddress": mailbox.config.email,
        "messagesTotal": store.messages.len(),
        "threadsTotal": store.threads.len(),
        "historyId": store.history_id.to_string(),
    }))
}

/// Whether `topic` reads `projects/{project}/topics/{topic}`.
pub fn topic_valid(topic: &str) -> bool {
    let parts: Vec<&str> = topic.split('/').collect();
    parts.len() == 4
        && parts[0] == "projects"
        && parts[2] == "topics"
        && !parts[1].is_empty()
        && !parts[3].is_empty()
}

pub async fn watch(State(mailbox): App, body: Bytes) -> Answer {
    let body = json_body(&body)?;
    let topic = body
        .get("topicName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !topic_valid(topic) {
        return Err(ApiError::invalid(
            "Invalid topicName does not match projects/SOME-PROJECT/topics/SOME-TOPIC",
        ));
    }
    let behavior = body
        .get("labelFilterBehavior")
        .or_else(|| body.get("labelFilterAction"))
        .and_then(Value::as_str)
        .map(str::to_lowercase);
    if behavior
        .as_deref()
        .is_some_and(|b| b != "include" && b != "exclude")
    {
        return Err(ApiError::invalid("Invalid labelFilterBehavior"));
    }
    let label_ids = string_list(&body, "labelIds");
    let mut store = mailbox.store();
    let unique: HashSet<&String> = label_ids.iter().collect();
    for id in unique {
        store
            .labels
            .get(id)
            .ok_or_else(|| ApiError::invalid(format!("Invalid label: {id}")))?;
    }
    let expiration = store.now_ms() + 7 * 86_400_000;
    let watch = WatchRequest {
        topic_name: topic.to_string(),
        label_ids,
        label_filter_behavior: behavior,
        history_id: store.history_id,
        expiration,
    };
    store.watch = Some(watch);
    mailbox.pubsub.watch_calls.fetch_add(1, Ordering::SeqCst);
    ok(json!({"historyId": store.history_id.to_string(), "expiration": expiration.to_string()}))
}

pub async fn stop(State(mailbox): App) -> Answer {
    mailbox.store().watch = None;
    mailbox.pubsub.stop_calls.fetch_add(1, Ordering::SeqCst);
    no_content()
}
