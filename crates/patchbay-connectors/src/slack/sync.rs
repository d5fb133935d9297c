//! Sync: channels and users one Slack page per page; messages channel by channel
//! (`conversations.history` from the last stored `ts` via `oldest`, and thread replies through
//! `conversations.replies`). The page cursor carries the channels left and the marks reached,
//! so a crash resumes where the last committed page ended; the checkpoint (the marks per
//! channel and the threads seen) is handed over on the last page.

use super::client::{next_cursor, Api};
use super::spec::channel_types;
use patchbay_core::{now_ms, ConnectorContext, ConnectorError, Record, SyncPage};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

const PAGE: &str = "200";
/// Threads remembered per channel for incremental reply reads (the most recent ones).
const MAX_THREADS: usize = 50;
const DEFAULT_HISTORY_DAYS: u64 = 90;

/// Marks per channel: the newest `ts` read, and thread parents with their latest reply.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Marks {
    #[serde(default)]
    pub latest: BTreeMap<String, String>,
    #[serde(default)]
    pub threads: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    /// Channels still to read; the first is being read.
    queue: Vec<String>,
    cursor: Option<String>,
    marks: Marks,
    /// Whether the current channel's known threads were re-read already.
    #[serde(default)]
    threads_done: bool,
    /// The current channel's `oldest`, fixed while its pages are read.
    #[serde(default)]
    oldest: Option<String>,
}

/// Checkpoints must compare as later than older ones, so they start with the time.
fn checkpoint(marks: &Marks) -> String {
    format!(
        "{:015}|{}",
        now_ms(),
        serde_json::to_string(marks).unwrap_or_default()
    )
}

pub fn parse_checkpoint(since: Option<&str>) -> Marks {
    since
        .and_then(|s| s.split_once('|'))
        .and_then(|(_, json)| serde_json::from_str(json).ok())
        .unwrap_or_default()
}

fn bad_cursor() -> ConnectorError {
    ConnectorError::Config("the page cursor is not one this connector made".into())
}

fn ts_of(m: &Value) -> Option<&str> {
    m.get("ts").and_then(Value::as_str)
}

/// Slack timestamps compare as numbers (`1700000000.000100`).
pub fn ts_after(a: &str, b: &str) -> bool {
    let n = |s: &str| s.parse::<f64>().unwrap_or(0.0);
    n(a) > n(b)
}

pub fn message_record(channel: &str, mut m: Value) -> Option<Record> {
    let ts = ts_of(&m)?.to_string();
    m["channel"] = Value::String(channel.to_string());
    Some(Record {
        entity: "messages".into(),
        id: format!("{channel}:{ts}"),
        data: m,
    })
}

/// One page of `channels` or `users`.
pub async fn listing(
    api: &Api<'_>,
    ctx: &ConnectorContext,
    entity: &str,
    cursor: Option<&str>,
) -> Result<SyncPage, ConnectorError> {
    let types = channel_types(&ctx.config);
    let (method, field, mut args) = match entity {
        "channels" => (
            "conversations.list",
            "channels",
            vec![("types", types.as_str()), ("exclude_archived", "false")],
        ),
        _ => ("users.list", "members", vec![]),
    };
    args.push(("limit", PAGE));
    if let Some(c) = cursor {
        args.push(("cursor", c));
    }
    let answer = api.form(method, &args).await?;
    let items = answer[field]
        .as_array()
        .ok_or_else(|| ConnectorError::BadResponse(format!("{method} named no {field}")))?;
    let records = items
        .iter()
        .filter_map(|i| {
            Some(Record {
                entity: entity.into(),
                id: i.get("id")?.as_str()?.to_string(),
                data: i.clone(),
            })
        })
        .collect();
    Ok(SyncPage {
        records,
        next_page_cursor: next_cursor(&answer).filter(|n| Some(n.as_str()) != cursor),
        ..Default::default()
    })
}

/// The conversations whose messages are synced: configured ones, else every listed one the
/// app is a member of (direct conversations always are).
async fn message_channels(
    api: &Api<'_>,
    ctx: &ConnectorContext,
) -> Result<Vec<String>, ConnectorError> {
    if let Some(list) = ctx.config.get("message_channels").and_then(Value::as_array) {
        return Ok(list
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect());
    }
    let types = channel_types(&ctx.config);
    let all = api
        .all(
            "conversations.list",
            "channels",
            &[
                ("types", &types),
                ("exclude_archived", "true"),
                ("limit", PAGE),
            ],
            100,
        )
        .await?;
    Ok(all
        .iter()
        .filter(|c| c["is_member"] == true || c["is_im"] == true || c["is_mpim"] == true)
        .filter_map(|c| c["id"].as_str().map(str::to_string))
        .collect())
}

/// Replies of a thread newer than `oldest`, with the parent when it has new ones.
async fn replies(
    api: &Api<'_>,
    channel: &str,
    parent: &str,
    oldest: Option<&str>,
    marks: &mut Marks,
    out: &mut Vec<Record>,
) -> Result<(), ConnectorError> {
    let mut args = vec![("channel", channel), ("ts", parent), ("limit", PAGE)];
    if let Some(o) = oldest {
        args.push(("oldest", o));
    }
    let msgs = api
        .all("conversations.replies", "messages", &args, 20)
        .await?;
    let mut newest = oldest.unwrap_or(parent).to_string();
    let mut parent_record = None;
    let mut found = Vec::new();
    for m in msgs {
        let Some(ts) = ts_of(&m).map(str::to_string) else {
            continue;
        };
        if ts == parent {
            parent_record = message_record(channel, m);
            continue;
        }
        if oldest.is_some_and(|o| !ts_after(&ts, o)) {
            continue;
        }
        if ts_after(&ts, &newest) {
            newest = ts.clone();
        }
        found.extend(message_record(channel, m));
    }
    // The parent changed (its reply count) only when there are new replies, or on first read.
    if oldest.is_none() || !found.is_empty() {
        out.extend(parent_record);
    }
    out.extend(found);
    let threads = marks.threads.entry(channel.to_string()).or_default();
    threads.insert(parent.to_string(), newest);
    // Keep the most recent threads only (Slack ts order is time order).
    while threads.len() > MAX_THREADS {
        let first = threads.keys().next().cloned().unwrap_or_default();
        threads.remove(&first);
    }
    Ok(())
}

/// One page of `messages`.
pub async fn messages(
    api: &Api<'_>,
    ctx: &ConnectorContext,
    cursor: Option<&str>,
    since: Option<&str>,
) -> Result<SyncPage, ConnectorError> {
    let mut state: State = match cursor {
        Some(c) => serde_json::from_str(c).map_err(|_| bad_cursor())?,
        None => State {
            queue: message_channels(api, ctx).await?,
            marks: parse_checkpoint(since),
            ..Default::default()
        },
    };
    let mut records = Vec::new();
    let Some(channel) = state.queue.first().cloned() else {
        return Ok(SyncPage {
            checkpoint: Some(checkpoint(&state.marks)),
            ..Default::default()
        });
    };
    let mark = state.marks.latest.get(&channel).cloned();
    // Incremental: replies to threads read before may have arrived under old parents.
    if !state.threads_done {
        let known: Vec<(String, String)> = state
            .marks
            .threads
            .get(&channel)
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        for (parent, latest) in known {
            replies(
                api,
                &channel,
                &parent,
                Some(&latest),
                &mut state.marks,
                &mut records,
            )
            .await?;
        }
        state.threads_done = true;
    }
    let oldest = match (&state.cursor, &state.oldest) {
        (Some(_), Some(o)) => o.clone(),
        _ => mark.unwrap_or_else(|| {
            let days = ctx.config["history_days"]
                .as_u64()
                .unwrap_or(DEFAULT_HISTORY_DAYS);
            let secs = (now_ms() / 1000).saturating_sub((days * 86_400) as i64);
            format!("{secs}.000000")
        }),
    };
    state.oldest = Some(oldest.clone());
    let mut args = vec![
        ("channel", channel.as_str()),
        ("oldest", oldest.as_str()),
        ("limit", PAGE),
    ];
    if let Some(c) = state.cursor.as_deref() {
        args.push(("cursor", c));
    }
    let answer = api.form("conversations.history", &args).await?;
    let msgs = answer["messages"].as_array().cloned().unwrap_or_default();
    let mut newest = state.marks.latest.get(&channel).cloned();
    for m in msgs {
        let Some(ts) = ts_of(&m).map(str::to_string) else {
            continue;
        };
        if newest.as_deref().is_none_or(|n| ts_after(&ts, n)) {
            newest = Some(ts.clone());
        }
        let threaded = m["reply_count"].as_u64().unwrap_or(0) > 0;
        let known = state
            .marks
            .threads
            .get(&channel)
            .is_some_and(|t| t.contains_key(&ts));
        records.extend(message_record(&channel, m));
        if threaded && !known {
            replies(api, &channel, &ts, None, &mut state.marks, &mut records).await?;
        }
    }
    if let Some(n) = newest {
        state.marks.latest.insert(channel.clone(), n);
    }
    match next_cursor(&answer).filter(|n| Some(n) != state.cursor.as_ref()) {
        Some(next) => state.cursor = Some(next),
        None => {
            state.queue.remove(0);
            state.cursor = None;
            state.threads_done = false;
            state.oldest = None;
        }
    }
    // A parent read with its thread and again in the history is one record.
    let mut seen = std::collections::HashSet::new();
    records.reverse();
    records.retain(|r| seen.insert(r.id.clone()));
    records.reverse();
    let done = state.queue.is_empty();
    Ok(SyncPage {
        records,
        checkpoint: done.then(|| checkpoint(&state.marks)),
        next_page_cursor: (!done).then(|| serde_json::to_string(&state).unwrap_or_default()),
        ..Default::default()
    })
}
