//! `events.get`, `insert`, `update`, `patch`, `delete` and `quickAdd`.

use super::quickadd::{self, Slot};
use super::request::{json_body, no_content, ok, Params};
use super::routes::{Answer, ApiError, App};
use super::store::Write;
use super::time;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use chrono::DateTime;
use serde_json::{json, Value};

type EventPath = Path<(String, String)>;
type Q = Query<Vec<(String, String)>>;

/// `conferenceDataVersion`: 1 creates and changes conference data, 0 leaves it alone.
fn conference(q: &Params) -> Result<bool, ApiError> {
    match q.get("conferenceDataVersion") {
        None | Some("") | Some("0") => Ok(false),
        Some("1") => Ok(true),
        Some(v) => Err(ApiError::invalid_parameter(
            "conferenceDataVersion",
            format!("Invalid value '{v}'. Values must be within the range: [0, 1]"),
        )),
    }
}

/// `sendUpdates` is accepted and checked; the emulator sends no mail.
fn check_send_updates(q: &Params) -> Result<(), ApiError> {
    match q.get("sendUpdates") {
        None | Some("all" | "externalOnly" | "none") => Ok(()),
        Some(v) => Err(ApiError::invalid_parameter(
            "sendUpdates",
            format!("Invalid value for sendUpdates: {v}"),
        )),
    }
}

/// Renders `start`/`end` in the `timeZone` parameter's zone, when given.
fn in_zone(mut value: Value, q: &Params) -> Result<Value, ApiError> {
    let Some(name) = q.get("timeZone").filter(|z| !z.is_empty()) else {
        return Ok(value);
    };
    let zone = time::zone(name)
        .ok_or_else(|| ApiError::invalid_parameter("timeZone", "Invalid time zone."))?;
    for field in ["start", "end", "originalStartTime"] {
        let at = value[field]["dateTime"].as_str();
        if let Some(t) = at.and_then(|t| DateTime::parse_from_rfc3339(t).ok()) {
            value[field]["dateTime"] = time::render(t.to_utc(), zone).into();
        }
    }
    Ok(value)
}

pub async fn get(State(app): App, Path((calendar, event)): EventPath, Query(q): Q) -> Answer {
    let event = app.store().find(&calendar, &event)?;
    ok(in_zone(event.render(), &Params(q))?)
}

pub async fn insert(
    State(app): App,
    Path(calendar): Path<String>,
    Query(q): Q,
    body: Bytes,
) -> Answer {
    let q = Params(q);
    check_send_updates(&q)?;
    let conference = conference(&q)?;
    let body = json_body(&body)?;
    let event = app.store().insert(&calendar, body, conference)?;
    ok(event.render())
}

async fn write(
    app: App,
    path: (String, String),
    q: Vec<(String, String)>,
    body: Bytes,
    mode: Write,
) -> Answer {
    let q = Params(q);
    check_send_updates(&q)?;
    let conference = conference(&q)?;
    let body = json_body(&body)?;
    let (calendar, event) = path;
    let event = app
        .store()
        .write(&calendar, &event, body, mode, conference)?;
    ok(event.render())
}

pub async fn update(app: App, Path(path): EventPath, Query(q): Q, body: Bytes) -> Answer {
    write(app, path, q, body, Write::Replace).await
}

pub async fn patch(app: App, Path(path): EventPath, Query(q): Q, body: Bytes) -> Answer {
    write(app, path, q, body, Write::Patch).await
}

pub async fn delete(State(app): App, Path((calendar, event)): EventPath, Query(q): Q) -> Answer {
    check_send_updates(&Params(q))?;
    app.store().delete(&calendar, &event)?;
    no_content()
}

/// `POST /calendars/{calendarId}/events/quickAdd?text=…` (see `quickadd.rs` for what it reads).
pub async fn quick_add(State(app): App, Path(calendar): Path<String>, Query(q): Q) -> Answer {
    let q = Params(q);
    check_send_updates(&q)?;
    let text = q.get("text").filter(|t| !t.trim().is_empty());
    let text = text.ok_or_else(|| ApiError::required("Required parameter: text"))?;
    let mut store = app.store();
    let cal = store.calendar(&calendar)?;
    let now = time::local(store.now(), cal.zone);
    let parsed = quickadd::parse(text, now);
    let zone = cal.time_zone.clone();
    let (start, end) = match parsed.slot {
        Slot::AllDay(d) => (
            json!({"date": d.to_string()}),
            json!({"date": d.succ_opt().unwrap_or(d).to_string()}),
        ),
        Slot::Timed(s, e) => {
            let f = |t: chrono::NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%S").to_string();
            (
                json!({"dateTime": f(s), "timeZone": zone}),
                json!({"dateTime": f(e), "timeZone": zone}),
            )
        }
    };
    let mut body = json!({"summary": parsed.summary, "start": start, "end": end});
    if let Some(location) = parsed.location {
        body["location"] = location.into();
    }
    let event = store.insert(&calendar, body, false)?;
    ok(event.render())
}
