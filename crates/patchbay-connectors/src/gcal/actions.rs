//! Writing to Google Calendar: events (with Meet links through `conferenceData.createRequest`),
//! quick add, RSVP as the connection's account, free/busy, and available slots.

use super::{expand, slots};
use crate::google::Api;
use patchbay_core::{ConnectorError, FieldError};
use reqwest::Method;
use serde_json::{json, Map, Value};

fn calendar(input: &Value) -> &str {
    input["calendar_id"].as_str().unwrap_or("primary")
}

fn invalid(field: &str, message: &str) -> ConnectorError {
    ConnectorError::InvalidInput(vec![FieldError::new(field, "invalid", message)])
}

/// Our `{date}` / `{date_time, time_zone}` as Google's `{date}` / `{dateTime, timeZone}`.
fn when(v: &Value, field: &str) -> Result<Value, ConnectorError> {
    match (v["date"].as_str(), v["date_time"].as_str()) {
        (Some(d), None) => Ok(json!({"date": d})),
        (None, Some(t)) => {
            let mut out = json!({"dateTime": t});
            if let Some(z) = v["time_zone"].as_str() {
                if z.parse::<chrono_tz::Tz>().is_err() {
                    return Err(invalid(
                        &format!("{field}.time_zone"),
                        "not an IANA time zone",
                    ));
                }
                out["timeZone"] = json!(z);
            }
            Ok(out)
        }
        _ => Err(invalid(field, "give either date or date_time")),
    }
}

/// The Event resource fields an input sets (only those it names, so it serves as a patch).
fn event_body(input: &Value) -> Result<Value, ConnectorError> {
    let mut body = Map::new();
    for (ours, theirs) in [
        ("summary", "summary"),
        ("description", "description"),
        ("location", "location"),
        ("recurrence", "recurrence"),
    ] {
        if let Some(v) = input.get(ours).filter(|v| !v.is_null()) {
            body.insert(theirs.into(), v.clone());
        }
    }
    for field in ["start", "end"] {
        if let Some(v) = input.get(field).filter(|v| !v.is_null()) {
            body.insert(field.into(), when(v, field)?);
        }
    }
    if let (Some(s), Some(e)) = (body.get("start"), body.get("end")) {
        if s.get("date").is_some() != e.get("date").is_some() {
            return Err(invalid(
                "end",
                "start and end are both dates (all day) or both date-times",
            ));
        }
    }
    if let Some(list) = input["attendees"].as_array() {
        let attendees: Vec<Value> = list
            .iter()
            .map(|a| {
                let mut out = json!({"email": a["email"]});
                if let Some(o) = a["optional"].as_bool() {
                    out["optional"] = json!(o);
                }
                if let Some(n) = a["display_name"].as_str() {
                    out["displayName"] = json!(n);
                }
                out
            })
            .collect();
        for (n, a) in attendees.iter().enumerate() {
            let email = a["email"].as_str().unwrap_or_default();
            if crate::gmail::compose_address(email).is_none() {
                return Err(invalid(&format!("attendees[{n}].email"), "not an address"));
            }
        }
        body.insert("attendees".into(), json!(attendees));
    }
    if let Some(list) = input["reminders"].as_array() {
        body.insert(
            "reminders".into(),
            json!({"useDefault": false, "overrides": list}),
        );
    }
    if input["conference"] == "meet" {
        body.insert(
            "conferenceData".into(),
            json!({"createRequest": {
                "requestId": format!("pb-{:016x}", rand::random::<u64>()),
                "conferenceSolutionKey": {"type": "hangoutsMeet"}}}),
        );
    }
    Ok(Value::Object(body))
}

fn write_query(input: &Value) -> Vec<(&'static str, String)> {
    let mut q = vec![("conferenceDataVersion", "1".to_string())];
    if let Some(s) = input["send_updates"].as_str() {
        q.push(("sendUpdates", s.to_string()));
    }
    q
}

pub async fn create_event(api: &Api<'_>, input: &Value) -> Result<Value, ConnectorError> {
    let body = event_body(input)?;
    api.send(
        Method::POST,
        &["calendars", calendar(input), "events"],
        &write_query(input),
        Some(&body),
    )
    .await
}

pub async fn update_event(api: &Api<'_>, input: &Value) -> Result<Value, ConnectorError> {
    let id = input["event_id"].as_str().unwrap_or_default();
    let body = event_body(input)?;
    api.send(
        Method::PATCH,
        &["calendars", calendar(input), "events", id],
        &write_query(input),
        Some(&body),
    )
    .await
}

pub async fn delete_event(api: &Api<'_>, input: &Value) -> Result<Value, ConnectorError> {
    let id = input["event_id"].as_str().unwrap_or_default();
    let mut q = Vec::new();
    if let Some(s) = input["send_updates"].as_str() {
        q.push(("sendUpdates", s.to_string()));
    }
    api.send(
        Method::DELETE,
        &["calendars", calendar(input), "events", id],
        &q,
        None,
    )
    .await?;
    Ok(json!({"deleted": true, "event_id": id}))
}

pub async fn quick_add(api: &Api<'_>, input: &Value) -> Result<Value, ConnectorError> {
    let text = input["text"].as_str().unwrap_or_default();
    api.send(
        Method::POST,
        &["calendars", calendar(input), "events", "quickAdd"],
        &[("text", text.to_string())],
        None,
    )
    .await
}

/// Sets the account's own `responseStatus` (and comment) in the attendee list. Google has no
/// RSVP call: the list is patched whole, everyone else's answers kept as read.
pub async fn rsvp(api: &Api<'_>, input: &Value, me: &str) -> Result<Value, ConnectorError> {
    let id = input["event_id"].as_str().unwrap_or_default();
    let cal = calendar(input);
    let event = api.get(&["calendars", cal, "events", id], &[]).await?;
    let mut attendees = event["attendees"].as_array().cloned().unwrap_or_default();
    let mine = attendees.iter_mut().find(|a| {
        a["self"] == true
            || a["email"]
                .as_str()
                .is_some_and(|e| e.eq_ignore_ascii_case(me))
    });
    let Some(mine) = mine else {
        return Err(invalid(
            "event_id",
            "the connection's account is not invited to this event",
        ));
    };
    mine["responseStatus"] = input["response"].clone();
    if let Some(c) = input["comment"].as_str() {
        mine["comment"] = json!(c);
    }
    api.send(
        Method::PATCH,
        &["calendars", cal, "events", id],
        &[],
        Some(&json!({"attendees": attendees})),
    )
    .await
}

pub async fn free_busy(api: &Api<'_>, input: &Value) -> Result<Value, ConnectorError> {
    let ids: Vec<Value> = match input["calendar_ids"].as_array() {
        Some(list) if !list.is_empty() => list.iter().map(|id| json!({"id": id})).collect(),
        _ => vec![json!({"id": "primary"})],
    };
    let mut body =
        json!({"timeMin": input["time_min"], "timeMax": input["time_max"], "items": ids});
    if let Some(z) = input["time_zone"].as_str() {
        body["timeZone"] = json!(z);
    }
    api.post(&["freeBusy"], &body).await
}

/// Events of `calendar` overlapping [from, to), as series and exceptions (cancelled ones too,
/// so a cancelled occurrence frees its time).
pub async fn events_between(
    api: &Api<'_>,
    calendar: &str,
    from: &str,
    to: &str,
) -> Result<Vec<Value>, ConnectorError> {
    let mut out = Vec::new();
    let mut page: Option<String> = None;
    loop {
        let mut q = vec![
            ("timeMin", from.to_string()),
            ("timeMax", to.to_string()),
            ("singleEvents", "false".to_string()),
            ("showDeleted", "true".to_string()),
            ("maxResults", "2500".to_string()),
        ];
        if let Some(p) = &page {
            q.push(("pageToken", p.clone()));
        }
        let answer = api.get(&["calendars", calendar, "events"], &q).await?;
        out.extend(answer["items"].as_array().into_iter().flatten().cloned());
        match answer["nextPageToken"].as_str() {
            Some(p) => page = Some(p.to_string()),
            None => return Ok(out),
        }
    }
}

/// Free slots across the given calendars (default: primary) from their live events.
pub async fn available_slots(
    api: &Api<'_>,
    input: &Value,
    me: &str,
    default_tz: chrono_tz::Tz,
) -> Result<Value, ConnectorError> {
    let mut with_zone = input.clone();
    if with_zone["time_zone"].is_null() {
        with_zone["time_zone"] = json!(default_tz.name());
    }
    let req = slots::SlotRequest::from_json(&with_zone, chrono::Utc::now())
        .map_err(ConnectorError::InvalidInput)?;
    let ids: Vec<String> = match input["calendar_ids"].as_array() {
        Some(list) if !list.is_empty() => list
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => vec!["primary".into()],
    };
    // Busy time just outside the range still blocks the buffers of the first and last slots.
    let (from, to) = req.busy_window();
    let mut busy = Vec::new();
    for id in &ids {
        let events = events_between(api, id, &from.to_rfc3339(), &to.to_rfc3339()).await?;
        busy.extend(expand::busy_blocks(&events, from, to, Some(me), default_tz));
    }
    Ok(slots_answer(&slots::available_slots(&busy, &req), &req))
}

pub fn slots_answer(
    found: &[(
        chrono::DateTime<chrono_tz::Tz>,
        chrono::DateTime<chrono_tz::Tz>,
    )],
    req: &slots::SlotRequest,
) -> Value {
    let list: Vec<Value> = found
        .iter()
        .map(|(s, e)| json!({"start": s.to_rfc3339(), "end": e.to_rfc3339()}))
        .collect();
    json!({"time_zone": req.time_zone.name(), "slots": list})
}
