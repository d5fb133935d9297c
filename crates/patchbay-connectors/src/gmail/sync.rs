//! Syncing a mailbox. A full run takes the mailbox's `historyId` first (the next incremental
//! run starts there, so nothing that changes during the run is missed), then lists message ids
//! page by page and fetches each message with bounded concurrency. An incremental run reads
//! `users.history.list` from the stored `historyId`: added and relabelled messages are fetched
//! again, deleted ones reported. Threads follow the same history: each thread it touched is
//! read again. A `historyId` too old for Gmail (404) falls back to listing the whole mailbox in
//! the same run.

use super::client::Api;
use super::message;
use futures_util::stream::{self, StreamExt};
use patchbay_core::{ConnectorError, Record, SyncMode, SyncPage, SyncRequest};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Message ids listed per page (each is then fetched).
pub const LIST_PAGE: u32 = 100;
const HISTORY_PAGE: u32 = 500;

/// Where a messages run stands, carried between pages.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Cursor {
    /// Gmail's `pageToken` for the next list or history page.
    #[serde(skip_serializing_if = "Option::is_none")]
    page: Option<String>,
    /// The mailbox's `historyId` when the listing began: the next incremental start.
    #[serde(skip_serializing_if = "Option::is_none")]
    history: Option<String>,
    /// The stored `historyId` had expired and this incremental run lists everything.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    fell_back: bool,
    /// Reading the history, not listing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    history_mode: bool,
}

impl Cursor {
    fn parse(raw: Option<&str>) -> Result<Option<Cursor>, ConnectorError> {
        raw.map(|r| {
            serde_json::from_str(r)
                .map_err(|_| ConnectorError::Config(format!("invalid page cursor '{r}'")))
        })
        .transpose()
    }

    /// The stored `historyId` had expired: list everything from the start.
    fn fell_back() -> Cursor {
        Cursor {
            fell_back: true,
            ..Cursor::default()
        }
    }

    fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What a messages run reads, from the connection's config.
pub struct Options {
    pub query: Option<String>,
    pub label_ids: Vec<String>,
    pub format: &'static str,
    /// Read invites and action items, and derive people, invites and action items.
    pub context: bool,
    pub concurrency: usize,
}

/// Fetches `ids` (at most `concurrency` at once); a message gone since it was listed is
/// reported as deleted.
async fn fetch_all(
    api: &Api<'_>,
    ids: Vec<String>,
    opts: &Options,
) -> Result<(Vec<Record>, Vec<String>), ConnectorError> {
    let format = opts.format;
    let results: Vec<(String, Result<Value, ConnectorError>)> = stream::iter(ids)
        .map(|id| async move {
            let got = api
                .get(&["messages", &id], &[("format", format.to_string())])
                .await;
            (id, got)
        })
        .buffered(opts.concurrency.max(1))
        .collect()
        .await;
    let mut records = Vec::with_capacity(results.len());
    let mut gone = Vec::new();
    for (id, got) in results {
        match got {
            Ok(msg) => {
                let (mut data, _) = message::record_with(&msg, opts.context);
                if opts.context {
                    attached_invites(api, &id, &mut data).await?;
                }
                records.push(Record {
                    entity: "messages".into(),
                    id,
                    data,
                });
            }
            Err(ConnectorError::NotFound(_)) => gone.push(id),
            Err(e) => return Err(e),
        }
    }
    Ok((records, gone))
}

/// Invites in `.ics` attachments Gmail did not send inline are fetched and read too.
pub async fn attached_invites(
    api: &Api<'_>,
    message_id: &str,
    data: &mut Value,
) -> Result<(), ConnectorError> {
    let wanted: Vec<String> = data["attachments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| {
            a["mime_type"] == "text/calendar"
                || a["filename"]
                    .as_str()
                    .is_some_and(|f| f.to_ascii_lowercase().ends_with(".ics"))
        })
        .filter_map(|a| a["attachment_id"].as_str().map(str::to_string))
        .collect();
    for aid in wanted {
        let got = match api
            .get(&["messages", message_id, "attachments", &aid], &[])
            .await
        {
            Ok(v) => v,
            Err(ConnectorError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        let Some(bytes) = got["data"].as_str().and_then(message::decode_data) else {
            continue;
        };
        let found = crate::mail::invites::parse(&String::from_utf8_lossy(&bytes));
        if let Some(list) = data["invites"].as_array_mut() {
            list.extend(found);
        }
    }
    Ok(())
}

fn id_list(v: &Value, field: &str) -> Vec<String> {
    v[field]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["id"].as_str().map(str::to_string))
        .collect()
}

/// One page of a listing (full runs, and incremental runs that fell back).
async fn list_page(
    api: &Api<'_>,
    mut cursor: Cursor,
    opts: &Options,
) -> Result<SyncPage, ConnectorError> {
    if cursor.history.is_none() {
        let profile = api.get(&["profile"], &[]).await?;
        cursor.history = profile["historyId"].as_str().map(str::to_string);
    }
    let mut query = vec![("maxResults", LIST_PAGE.to_string())];
    if let Some(q) = &opts.query {
        query.push(("q", q.clone()));
    }
    for l in &opts.label_ids {
        query.push(("labelIds", l.clone()));
    }
    if let Some(p) = &cursor.page {
        query.push(("pageToken", p.clone()));
    }
    let page = api.get(&["messages"], &query).await?;
    let (records, _gone) = fetch_all(api, id_list(&page, "messages"), opts).await?;
    let next = page["nextPageToken"].as_str().map(str::to_string);
    let checkpoint = cursor.history.clone();
    cursor.page = next.clone();
    Ok(SyncPage {
        records,
        deleted_ids: Vec::new(),
        next_page_cursor: next.map(|_| cursor.encode()),
        checkpoint,
        note: None,
    })
}

/// One page of the mailbox history from `start`; `None` when Gmail no longer keeps it (404
/// on the first page).
async fn read_history(
    api: &Api<'_>,
    start: &str,
    cursor: &Cursor,
) -> Result<Option<Value>, ConnectorError> {
    let mut query = vec![
        ("startHistoryId", start.to_string()),
        ("maxResults", HISTORY_PAGE.to_string()),
    ];
    for t in [
        "messageAdded",
        "messageDeleted",
        "labelAdded",
        "labelRemoved",
    ] {
        query.push(("historyTypes", t.to_string()));
    }
    if let Some(p) = &cursor.page {
        query.push(("pageToken", p.clone()));
    }
    match api.get(&["history"], &query).await {
        Ok(p) => Ok(Some(p)),
        // Gmail keeps history for about a week; an older start cannot be read from.
        Err(ConnectorError::NotFound(_)) if cursor.page.is_none() => Ok(None),
        Err(e) => Err(e),
    }
}

/// The first page of an incremental run that lists everything, saying why.
fn with_expired_note(mut page: SyncPage, start: &str) -> SyncPage {
    page.note = Some(format!(
        "Gmail no longer keeps history from {start}; the whole mailbox was listed instead"
    ));
    page
}

/// One page of the mailbox history from `start`.
async fn history_page(
    api: &Api<'_>,
    start: &str,
    mut cursor: Cursor,
    opts: &Options,
) -> Result<SyncPage, ConnectorError> {
    let Some(page) = read_history(api, start, &cursor).await? else {
        let page = list_page(api, Cursor::fell_back(), opts).await?;
        return Ok(with_expired_note(page, start));
    };
    // The last change to a message decides: fetched again, or deleted.
    let mut last: BTreeMap<String, bool> = BTreeMap::new();
    for h in page["history"].as_array().into_iter().flatten() {
        for (field, deleted) in [
            ("messagesAdded", false),
            ("labelsAdded", false),
            ("labelsRemoved", false),
            ("messagesDeleted", true),
        ] {
            for item in h[field].as_array().into_iter().flatten() {
                if let Some(id) = item["message"]["id"].as_str() {
                    last.insert(id.to_string(), deleted);
                }
            }
        }
    }
    let (fetch, mut deleted): (Vec<_>, Vec<_>) = last.into_iter().partition(|(_, d)| !d);
    let (records, gone) =
        fetch_all(api, fetch.into_iter().map(|(id, _)| id).collect(), opts).await?;
    let mut deleted_ids: Vec<String> = deleted.drain(..).map(|(id, _)| id).collect();
    deleted_ids.extend(gone);
    let next = page["nextPageToken"].as_str().map(str::to_string);
    cursor.page = next.clone();
    cursor.history_mode = true;
    Ok(SyncPage {
        records,
        deleted_ids,
        next_page_cursor: next.map(|_| cursor.encode()),
        checkpoint: page["historyId"].as_str().map(str::to_string),
        note: None,
    })
}

pub async fn messages(
    api: &Api<'_>,
    req: &SyncRequest,
    opts: &Options,
) -> Result<SyncPage, ConnectorError> {
    let cursor = Cursor::parse(req.page_cursor.as_deref())?;
    let start = req.since.as_deref().filter(|s| !s.is_empty());
    match (req.mode, start, cursor) {
        (SyncMode::Incremental, Some(start), None) => {
            history_page(api, start, Cursor::default(), opts).await
        }
        (SyncMode::Incremental, Some(start), Some(c)) if c.history_mode => {
            history_page(api, start, c, opts).await
        }
        (_, _, cursor) => list_page(api, cursor.unwrap_or_default(), opts).await,
    }
}

/// Threads: listed like messages on a full run (with the starting `historyId` as the
/// checkpoint), and on an incremental run every thread the history touched is read again (or
/// reported deleted when it is gone).
pub async fn threads(
    api: &Api<'_>,
    req: &SyncRequest,
    query: Option<&str>,
) -> Result<SyncPage, ConnectorError> {
    // Cursors of runs begun before threads kept history were bare page tokens.
    let cursor = Cursor::parse(req.page_cursor.as_deref()).unwrap_or_else(|_| {
        Some(Cursor {
            page: req.page_cursor.clone(),
            ..Cursor::default()
        })
    });
    let start = req.since.as_deref().filter(|s| !s.is_empty());
    let (start, mut cursor) = match (req.mode, start, cursor) {
        (SyncMode::Incremental, Some(start), None) => (start, Cursor::default()),
        (SyncMode::Incremental, Some(start), Some(c)) if c.history_mode => (start, c),
        (_, _, cursor) => return thread_list_page(api, cursor.unwrap_or_default(), query).await,
    };
    let Some(page) = read_history(api, start, &cursor).await? else {
        let page = thread_list_page(api, Cursor::fell_back(), query).await?;
        return Ok(with_expired_note(page, start));
    };
    let mut touched = std::collections::BTreeSet::new();
    for h in page["history"].as_array().into_iter().flatten() {
        for m in h["messages"].as_array().into_iter().flatten() {
            if let Some(t) = m["threadId"].as_str() {
                touched.insert(t.to_string());
            }
        }
        for field in [
            "messagesAdded",
            "messagesDeleted",
            "labelsAdded",
            "labelsRemoved",
        ] {
            for item in h[field].as_array().into_iter().flatten() {
                if let Some(t) = item["message"]["threadId"].as_str() {
                    touched.insert(t.to_string());
                }
            }
        }
    }
    let got: Vec<(String, Result<Value, ConnectorError>)> = stream::iter(touched)
        .map(|id| async move {
            let thread = api
                .get(&["threads", &id], &[("format", "minimal".into())])
                .await;
            (id, thread)
        })
        .buffered(8)
        .collect()
        .await;
    let mut records = Vec::new();
    let mut deleted_ids = Vec::new();
    for (id, thread) in got {
        match thread {
            Ok(t) => {
                let last = t["messages"].as_array().and_then(|m| m.last());
                let snippet = t["snippet"]
                    .as_str()
                    .or_else(|| last.and_then(|m| m["snippet"].as_str()))
                    .unwrap_or_default();
                records.push(Record {
                    entity: "threads".into(),
                    data: thread_data(&id, &json!(snippet), &t["historyId"]),
                    id,
                });
            }
            Err(ConnectorError::NotFound(_)) => deleted_ids.push(id),
            Err(e) => return Err(e),
        }
    }
    let next = page["nextPageToken"].as_str().map(str::to_string);
    cursor.page = next.clone();
    cursor.history_mode = true;
    Ok(SyncPage {
        records,
        deleted_ids,
        next_page_cursor: next.map(|_| cursor.encode()),
        checkpoint: page["historyId"].as_str().map(str::to_string),
        note: None,
    })
}

fn thread_data(id: &str, snippet: &Value, history_id: &Value) -> Value {
    json!({"id": id, "snippet": snippet, "history_id": history_id})
}

/// One page of the thread listing; the first records the mailbox `historyId` to start the
/// next incremental run from.
async fn thread_list_page(
    api: &Api<'_>,
    mut cursor: Cursor,
    query: Option<&str>,
) -> Result<SyncPage, ConnectorError> {
    if cursor.history.is_none() {
        let profile = api.get(&["profile"], &[]).await?;
        cursor.history = profile["historyId"].as_str().map(str::to_string);
    }
    let mut page = listed(api, "threads", cursor.page.as_deref(), query).await?;
    cursor.page = page.next_page_cursor.take();
    page.next_page_cursor = cursor.page.as_ref().map(|_| cursor.encode());
    page.checkpoint = cursor.history.clone();
    Ok(page)
}

/// A list read page by page (`threads`, `drafts`), each item kept as listed.
pub async fn listed(
    api: &Api<'_>,
    entity: &str,
    page_token: Option<&str>,
    query: Option<&str>,
) -> Result<SyncPage, ConnectorError> {
    let mut q = vec![("maxResults", LIST_PAGE.to_string())];
    if let Some(query) = query.filter(|_| entity == "threads") {
        q.push(("q", query.to_string()));
    }
    if let Some(p) = page_token {
        q.push(("pageToken", p.to_string()));
    }
    let page = api.get(&[entity], &q).await?;
    let mut records = Vec::new();
    for item in page[entity].as_array().into_iter().flatten() {
        let Some(id) = item["id"].as_str() else {
            return Err(ConnectorError::BadResponse(format!(
                "a listed {entity} item has no id"
            )));
        };
        let data = match entity {
            "threads" => thread_data(id, &item["snippet"], &item["historyId"]),
            _ => {
                json!({"id": id, "message_id": item["message"]["id"], "thread_id": item["message"]["threadId"]})
            }
        };
        records.push(Record {
            entity: entity.into(),
            id: id.into(),
            data,
        });
    }
    Ok(SyncPage {
        records,
        deleted_ids: Vec::new(),
        next_page_cursor: page["nextPageToken"].as_str().map(str::to_string),
        checkpoint: None,
        note: None,
    })
}

/// Labels with their counts (a list gives none, so each label is read).
pub async fn labels(api: &Api<'_>) -> Result<SyncPage, ConnectorError> {
    let list = api.get(&["labels"], &[]).await?;
    let ids = id_list(&list, "labels");
    let got: Vec<Result<Value, ConnectorError>> = stream::iter(ids)
        .map(|id| async move { api.get(&["labels", &id], &[]).await })
        .buffered(8)
        .collect()
        .await;
    let mut records = Vec::new();
    for label in got {
        let label = match label {
            Ok(l) => l,
            Err(ConnectorError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        let id = label["id"].as_str().unwrap_or_default().to_string();
        records.push(Record {
            entity: "labels".into(),
            id,
            data: label,
        });
    }
    Ok(SyncPage {
        records,
        ..Default::default()
    })
}
