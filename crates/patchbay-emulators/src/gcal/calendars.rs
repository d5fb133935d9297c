//! `calendarList.list` (paging, `showDeleted`, sync tokens), `calendarList.get` and
//! `calendars.get`. The account owns every calendar it lists.

use super::request::{ok, read_token, token, Params};
use super::routes::{Answer, ApiError, App};
use super::store::{CalendarData, Store};
use axum::extract::{Path, Query, State};
use serde_json::{json, Value};

fn entry_json(c: &CalendarData) -> Value {
    if c.deleted {
        return json!({"kind": "calendar#calendarListEntry", "etag": c.etag(), "id": c.id, "deleted": true});
    }
    let mut out = json!({
        "kind": "calendar#calendarListEntry",
        "etag": c.etag(),
        "id": c.id,
        "summary": c.summary,
        "timeZone": c.time_zone,
        "colorId": c.color_id,
        "backgroundColor": c.background_color,
        "foregroundColor": c.foreground_color,
        "selected": true,
        "accessRole": "owner",
        "defaultReminders": [{"method": "popup", "minutes": 10}],
        "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
    });
    if let Some(description) = &c.description {
        out["description"] = description.as_str().into();
    }
    if c.primary {
        out["primary"] = true.into();
        out["notificationSettings"] = json!({"notifications": [
            {"type": "eventCreation", "method": "email"},
            {"type": "eventChange", "method": "email"},
            {"type": "eventCancellation", "method": "email"},
            {"type": "eventResponse", "method": "email"},
        ]});
    }
    out
}

fn list_sync_token(store: &Store, change: u64) -> String {
    token('l', &[store.generation.to_string(), change.to_string()])
}

/// `GET /users/me/calendarList`: the primary calendar first, then by id.
pub async fn list(State(app): App, Query(q): Query<Vec<(String, String)>>) -> Answer {
    let q = Params(q);
    let store = app.store();
    let max = q.max_results(100, 250)?;
    let show_deleted = q.flag("showDeleted")?;
    q.flag("showHidden")?;
    let since = match q.get("syncToken").filter(|t| !t.is_empty()) {
        None => None,
        Some(given) => {
            if q.has("minAccessRole") {
                let message = "Sync token cannot be used together with minAccessRole.";
                return Err(ApiError::invalid_parameter("syncToken", message));
            }
            let fields = read_token(given, 'l').ok_or_else(ApiError::full_sync_required)?;
            match fields.as_slice() {
                [generation, change] if *generation == store.generation.to_string() => Some(
                    change
                        .parse::<u64>()
                        .ok()
                        .filter(|c| *c <= store.change)
                        .ok_or_else(ApiError::full_sync_required)?,
                ),
                _ => return Err(ApiError::full_sync_required()),
            }
        }
    };
    if let Some(role) = q.get("minAccessRole").filter(|r| !r.is_empty()) {
        if !["freeBusyReader", "reader", "writer", "owner"].contains(&role) {
            return Err(ApiError::invalid_parameter(
                "minAccessRole",
                "Invalid minAccessRole.",
            ));
        }
    }
    let (snapshot, after) = match q.get("pageToken").filter(|t| !t.is_empty()) {
        None => (store.change, None),
        Some(given) => {
            let bad = || ApiError::invalid_parameter("pageToken", "Invalid page token.");
            let fields = read_token(given, 'c').ok_or_else(bad)?;
            let [snapshot, key] = fields.as_slice() else {
                return Err(bad());
            };
            (snapshot.parse().map_err(|_| bad())?, Some(key.clone()))
        }
    };
    let key = |c: &CalendarData| format!("{}{}", u8::from(!c.primary), c.id);
    let mut calendars: Vec<&CalendarData> = store
        .calendars
        .values()
        .filter(|c| match since {
            Some(since) => c.changed > since,
            None => show_deleted || !c.deleted,
        })
        .collect();
    calendars.sort_by_key(|c| key(c));
    let mut rest = calendars
        .into_iter()
        .filter(|c| after.as_ref().is_none_or(|a| key(c) > *a))
        .peekable();
    let page: Vec<&CalendarData> = rest.by_ref().take(max).collect();
    let mut out = json!({
        "kind": "calendar#calendarList",
        "etag": format!("\"p{}\"", 33_000_000_000_000u64 + store.change),
        "items": page.iter().map(|c| entry_json(c)).collect::<Vec<_>>(),
    });
    match (page.last(), rest.peek()) {
        (Some(last), Some(_)) => {
            out["nextPageToken"] = token('c', &[snapshot.to_string(), key(last)]).into();
        }
        _ => out["nextSyncToken"] = list_sync_token(&store, snapshot).into(),
    }
    ok(out)
}

/// `GET /users/me/calendarList/{calendarId}`.
pub async fn entry(State(app): App, Path(calendar): Path<String>) -> Answer {
    let store = app.store();
    ok(entry_json(store.calendar(&calendar)?))
}

/// `GET /calendars/{calendarId}`.
pub async fn get(State(app): App, Path(calendar): Path<String>) -> Answer {
    let store = app.store();
    let c = store.calendar(&calendar)?;
    let mut out = json!({
        "kind": "calendar#calendar",
        "etag": c.etag(),
        "id": c.id,
        "summary": c.summary,
        "timeZone": c.time_zone,
        "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
    });
    if let Some(description) = &c.description {
        out["description"] = description.as_str().into();
    }
    ok(out)
}
