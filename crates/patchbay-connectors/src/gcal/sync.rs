//! Syncing calendars and their events. Events are read calendar by calendar: a full run lists
//! each calendar's window (`timeMin`/`timeMax`) with `singleEvents=false`, so a recurring event
//! is stored once as its series (RRULE, EXDATE, RDATE) plus its modified instances, and ends
//! with the calendar's `nextSyncToken`. An incremental run lists each calendar from its token;
//! a 410 Gone (the token expired) lists that calendar again in full, noted on the run. The run's
//! checkpoint is the map of calendar → sync token, written with its last page.

use crate::google::Api;
use patchbay_core::{ConnectorError, Record, SyncMode, SyncPage, SyncRequest};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Events asked for per page (Google allows up to 2,500).
pub const PAGE: u32 = 250;

/// Where an events run stands, carried between pages.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Cursor {
    /// Calendars still to read; the first is being read.
    calendars: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    page: Option<String>,
    /// Sync tokens of the calendars read so far.
    tokens: BTreeMap<String, String>,
    /// The first calendar is listed in full although the run is incremental.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    full: bool,
}

/// The window a full listing reads.
pub struct Window {
    pub time_min: String,
    pub time_max: String,
}

/// The record id of an event: its calendar and its id (an invitation has the same id in every
/// calendar it is on).
pub fn record_id(calendar: &str, event: &str) -> String {
    format!("{calendar}:{event}")
}

/// Every calendar id of the account's list, following pages.
pub async fn calendar_list(api: &Api<'_>) -> Result<Vec<Value>, ConnectorError> {
    let mut out = Vec::new();
    let mut page: Option<String> = None;
    loop {
        let mut q = vec![("maxResults", "250".to_string())];
        if let Some(p) = &page {
            q.push(("pageToken", p.clone()));
        }
        let answer = api.get(&["users", "me", "calendarList"], &q).await?;
        out.extend(answer["items"].as_array().into_iter().flatten().cloned());
        match answer["nextPageToken"].as_str() {
            Some(p) => page = Some(p.to_string()),
            None => return Ok(out),
        }
    }
}

pub async fn calendars(api: &Api<'_>) -> Result<SyncPage, ConnectorError> {
    let records = calendar_list(api)
        .await?
        .into_iter()
        .filter_map(|c| {
            let id = c["id"].as_str()?.to_string();
            Some(Record {
                entity: "calendars".into(),
                id,
                data: c,
            })
        })
        .collect();
    Ok(SyncPage {
        records,
        ..Default::default()
    })
}

fn parse_tokens(since: Option<&str>) -> BTreeMap<String, String> {
    since
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default()
}

/// One page of events. `selected` are the calendars the connection syncs (`None`: all).
pub async fn events(
    api: &Api<'_>,
    req: &SyncRequest,
    selected: Option<Vec<String>>,
    window: &Window,
) -> Result<SyncPage, ConnectorError> {
    let since = parse_tokens(req.since.as_deref());
    let mut cursor: Cursor = match req.page_cursor.as_deref() {
        Some(raw) => serde_json::from_str(raw)
            .map_err(|_| ConnectorError::Config(format!("invalid page cursor '{raw}'")))?,
        None => {
            let calendars = match selected {
                Some(list) => list,
                None => calendar_list(api)
                    .await?
                    .iter()
                    .filter_map(|c| c["id"].as_str().map(str::to_string))
                    .collect(),
            };
            Cursor {
                calendars,
                ..Cursor::default()
            }
        }
    };
    let Some(calendar) = cursor.calendars.first().cloned() else {
        return Ok(SyncPage {
            checkpoint: Some(json!(cursor.tokens).to_string()),
            ..Default::default()
        });
    };
    let token = match req.mode {
        SyncMode::Incremental if !cursor.full => since.get(&calendar).cloned(),
        _ => None,
    };
    let mut q = vec![
        ("maxResults", PAGE.to_string()),
        ("singleEvents", "false".to_string()),
    ];
    match &token {
        Some(t) => q.push(("syncToken", t.clone())),
        None => {
            q.push(("timeMin", window.time_min.clone()));
            q.push(("timeMax", window.time_max.clone()));
        }
    }
    if let Some(p) = &cursor.page {
        q.push(("pageToken", p.clone()));
    }
    let mut note = None;
    let answer = match api.get(&["calendars", &calendar, "events"], &q).await {
        Ok(a) => a,
        // The token expired: this calendar is listed again in full, in this run.
        Err(ConnectorError::Provider { status: 410, .. }) if token.is_some() => {
            cursor.full = true;
            cursor.page = None;
            return Ok(SyncPage {
                next_page_cursor: Some(json!(cursor).to_string()),
                note: Some(format!(
                    "Google no longer accepts the sync token of calendar {calendar}; it was listed again in full"
                )),
                ..Default::default()
            });
        }
        // A calendar removed from the list since the run began has nothing left to sync.
        Err(ConnectorError::NotFound(_)) => {
            note = Some(format!(
                "calendar {calendar} is gone; its events were not read"
            ));
            json!({})
        }
        Err(e) => return Err(e),
    };
    let mut records = Vec::new();
    let mut deleted_ids = Vec::new();
    for event in answer["items"].as_array().into_iter().flatten() {
        let Some(id) = event["id"].as_str() else {
            continue;
        };
        let rid = record_id(&calendar, id);
        let cancelled = event["status"] == "cancelled";
        // A cancelled occurrence of a series is part of the series' shape; anything else
        // cancelled is gone.
        if cancelled && event["recurringEventId"].is_null() {
            deleted_ids.push(rid);
            continue;
        }
        let mut data = event.clone();
        data["calendar_id"] = json!(calendar);
        records.push(Record {
            entity: "events".into(),
            id: rid,
            data,
        });
    }
    match answer["nextPageToken"].as_str() {
        Some(p) => cursor.page = Some(p.to_string()),
        None => {
            if let Some(t) = answer["nextSyncToken"].as_str() {
                cursor.tokens.insert(calendar.clone(), t.to_string());
            }
            cursor.calendars.remove(0);
            cursor.page = None;
            cursor.full = false;
        }
    }
    let done = cursor.calendars.is_empty();
    Ok(SyncPage {
        records,
        deleted_ids,
        next_page_cursor: (!done).then(|| json!(cursor).to_string()),
        checkpoint: done.then(|| json!(cursor.tokens).to_string()),
        note,
    })
}
