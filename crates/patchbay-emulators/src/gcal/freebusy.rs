//! `POST /freeBusy`: busy periods of calendars in a window, recurring events expanded.
//! Cancelled events, `transparency: transparent` ones and those the account declined do
//! not make it busy; overlapping periods are merged and clipped to the window.

use super::request::{json_body, ok};
use super::routes::{Answer, ApiError, App};
use super::store::CalendarData;
use super::time;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use std::collections::HashSet;

/// Google answers at most this many calendars per query.
const MAX_CALENDARS: usize = 50;

fn instant(body: &Value, name: &str) -> Result<DateTime<Utc>, ApiError> {
    let given = body[name].as_str().filter(|s| !s.is_empty());
    let given = given.ok_or_else(|| ApiError::required(format!("Missing {name} parameter.")))?;
    DateTime::parse_from_rfc3339(given)
        .map(|t| t.to_utc())
        .map_err(|_| ApiError::invalid(format!("Invalid {name} value.")))
}

/// Busy periods of `cal` within `[from, to)`, merged, in order.
pub fn busy(
    cal: &CalendarData,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut periods = Vec::new();
    let busy = |e: &super::event::Event| {
        !e.cancelled() && e.transparency.as_deref() != Some("transparent") && !e.declined_by_self()
    };
    for event in cal.events.values().filter(|e| busy(e)) {
        let zone = event.span().zone;
        if event.series().is_none() {
            if event.overlaps(Some(from), Some(to)) {
                let span = event.span();
                periods.push((span.start.instant(zone), span.end.instant(zone)));
            }
            continue;
        }
        let exceptions: HashSet<String> = cal.exceptions(&event.id).map(|e| e.id.clone()).collect();
        for (start, end) in event.occurrences(Some(from), to) {
            if !exceptions.contains(&format!("{}_{}", event.id, start.id_suffix())) {
                periods.push((start.instant(zone), end.instant(zone)));
            }
        }
    }
    periods.retain(|(s, e)| e > s);
    periods.sort();
    let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for (start, end) in periods {
        let (start, end) = (start.max(from), end.min(to));
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

pub async fn query(State(app): App, body: Bytes) -> Answer {
    let body = json_body(&body)?;
    let (from, to) = (instant(&body, "timeMin")?, instant(&body, "timeMax")?);
    if to <= from {
        let message = "The specified time range is empty.";
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "timeRangeEmpty",
            message,
        ));
    }
    let zone = match body["timeZone"].as_str().filter(|z| !z.is_empty()) {
        None => chrono_tz::UTC,
        Some(name) => time::zone(name).ok_or_else(|| ApiError::invalid("Invalid time zone."))?,
    };
    let items = body["items"].as_array().cloned().unwrap_or_default();
    if items.len() > MAX_CALENDARS {
        let message = "The number of calendars requested is too large.";
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "tooManyCalendarsRequested",
            message,
        ));
    }
    let store = app.store();
    let mut calendars = Map::new();
    for item in items {
        let id = item["id"].as_str().unwrap_or_default().to_string();
        let entry = match store.calendar(&id) {
            Ok(cal) => {
                let periods = busy(cal, from, to).into_iter().map(
                    |(s, e)| json!({"start": time::render(s, zone), "end": time::render(e, zone)}),
                );
                json!({"busy": periods.collect::<Vec<_>>()})
            }
            Err(_) => json!({"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}),
        };
        calendars.insert(id, entry);
    }
    ok(json!({
        "kind": "calendar#freeBusy",
        "timeMin": crate::rfc3339(from),
        "timeMax": crate::rfc3339(to),
        "calendars": calendars,
    }))
}
