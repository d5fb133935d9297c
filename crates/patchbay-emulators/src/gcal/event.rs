//! The Event resource: the fields the API defines, unknown ones kept as sent, the checks
//! Google applies on write, and instances derived from a recurring series.

use super::recur::{self, Series};
use super::routes::ApiError;
use super::time::{self, EventTime, When};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::sync::Arc;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(rename = "self", skip_serializing_if = "Option::is_none")]
    pub is_self: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attendee {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organizer: Option<bool>,
    #[serde(rename = "self", skip_serializing_if = "Option::is_none")]
    pub is_self: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
    #[serde(default)]
    pub response_status: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What the store keeps beside the resource.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    /// The store's change number at the last write; sync tokens compare against it.
    pub changed: u64,
    pub updated_ms: i64,
    pub span: Option<Span>,
    pub series: Option<Arc<Series>>,
}

#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub start: When,
    pub end: When,
    /// The event's zone (its start's `timeZone`, else the calendar's).
    pub zone: Tz,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub etag: String,
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub html_link: String,
    #[serde(default)]
    pub created: String,
    #[serde(default)]
    pub updated: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creator: Option<Person>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organizer: Option<Person>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<EventTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<EventTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recurrence: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recurring_event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_start_time: Option<EventTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transparency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visibility: Option<String>,
    #[serde(rename = "iCalUID", default)]
    pub ical_uid: String,
    #[serde(default)]
    pub sequence: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attendees: Option<Vec<Attendee>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reminders: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conference_data: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hangout_link: Option<String>,
    #[serde(default)]
    pub event_type: String,
    /// Fields the emulator does not interpret (colorId, extendedProperties, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    #[serde(skip)]
    pub meta: Meta,
}

/// Where an event lives, for the checks and defaults of a write.
pub struct Context<'a> {
    pub email: &'a str,
    pub zone: Tz,
}

const STATUSES: [&str; 3] = ["confirmed", "tentative", "cancelled"];
const RESPONSES: [&str; 4] = ["needsAction", "declined", "tentative", "accepted"];

impl Event {
    pub fn from_json(value: Value) -> Result<Event, ApiError> {
        serde_json::from_value(value).map_err(|e| ApiError::invalid(format!("Invalid value: {e}")))
    }

    pub fn span(&self) -> Span {
        self.meta.span.expect("stored events have a span")
    }

    pub fn cancelled(&self) -> bool {
        self.status == "cancelled"
    }

    /// A recurring series (not one of its exceptions).
    pub fn series(&self) -> Option<&Series> {
        self.meta.series.as_deref()
    }

    /// `[start, end)` overlaps `(from, to)`; a zero-length event counts at its start.
    pub fn overlaps(&self, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> bool {
        let span = self.span();
        let (start, end) = (span.start.instant(span.zone), span.end.instant(span.zone));
        from.is_none_or(|f| end > f || (end == start && start >= f)) && to.is_none_or(|t| start < t)
    }

    pub fn declined_by_self(&self) -> bool {
        let attendees = self.attendees.iter().flatten();
        attendees
            .filter(|a| a.is_self == Some(true))
            .any(|a| a.response_status == "declined")
    }

    /// Checks a written event and computes what the store keeps beside it: times
    /// normalised to the event's zone, the recurrence set, attendee flags.
    pub fn finish(&mut self, ctx: &Context) -> Result<(), ApiError> {
        if self.status.is_empty() {
            self.status = "confirmed".into();
        }
        if !STATUSES.contains(&self.status.as_str()) {
            return Err(ApiError::invalid("Invalid value for: status"));
        }
        let start_api = self
            .start
            .clone()
            .ok_or_else(|| ApiError::required("Missing start time."))?;
        let end_api = self
            .end
            .clone()
            .ok_or_else(|| ApiError::required("Missing end time."))?;
        let (start, start_zone) = time::parse(&start_api, ctx.zone, "start")?;
        let (end, end_zone) = time::parse(&end_api, ctx.zone, "end")?;
        let zone = start_zone.unwrap_or(ctx.zone);
        match (start, end) {
            (When::Date(s), When::Date(e)) if e <= s => return Err(time_range_empty()),
            (When::At(s), When::At(e)) if e < s => return Err(time_range_empty()),
            (When::Date(_), When::At(_)) | (When::At(_), When::Date(_)) => {
                return Err(ApiError::invalid(
                    "Start and end times must either both be date or both be dateTime.",
                ))
            }
            _ => {}
        }
        self.start = Some(start.to_api(zone, start_api.time_zone.as_deref()));
        self.end = Some(end.to_api(end_zone.unwrap_or(zone), end_api.time_zone.as_deref()));
        for (field, allowed) in [
            (&self.transparency, &["opaque", "transparent"][..]),
            (
                &self.visibility,
                &["default", "public", "private", "confidential"][..],
            ),
        ] {
            if field.as_deref().is_some_and(|v| !allowed.contains(&v)) {
                return Err(ApiError::invalid("Invalid value"));
            }
        }
        let lines = self.recurrence.clone().unwrap_or_default();
        self.meta.series = if lines.is_empty() || self.recurring_event_id.is_some() {
            None
        } else {
            let series = recur::parse(&lines, start, zone)
                .map_err(|_| ApiError::invalid("Invalid recurrence rule."))?;
            Some(Arc::new(series))
        };
        if lines.is_empty() {
            self.recurrence = None;
        }
        let organizer = self.organizer.as_ref().and_then(|o| o.email.clone());
        for attendee in self.attendees.iter_mut().flatten() {
            let email = attendee.email.clone().unwrap_or_default();
            if email.is_empty() {
                return Err(ApiError::required("Missing attendee email."));
            }
            if attendee.response_status.is_empty() {
                attendee.response_status = "needsAction".into();
            }
            if !RESPONSES.contains(&attendee.response_status.as_str()) {
                return Err(ApiError::invalid("Invalid attendee response status."));
            }
            let is = |other: &str| email.eq_ignore_ascii_case(other);
            attendee.is_self = is(ctx.email).then_some(true);
            attendee.organizer = organizer.as_deref().is_some_and(is).then_some(true);
        }
        self.meta.span = Some(Span { start, end, zone });
        Ok(())
    }

    /// Where the instance starting at `original` ends: the series' wall-clock length
    /// later, so 10:00–11:00 stays 10:00–11:00 after a DST change.
    pub fn end_for(&self, original: When) -> When {
        let span = self.span();
        match (original, span.start, span.end) {
            (When::Date(d), When::Date(s), When::Date(e)) => When::Date(d + (e - s)),
            (When::At(o), When::At(s), When::At(e)) => {
                let length = time::local(e, span.zone) - time::local(s, span.zone);
                When::At(time::resolve(span.zone, time::local(o, span.zone) + length))
            }
            _ => original,
        }
    }

    /// Original starts and ends of the series' instances overlapping `(from, to)`.
    pub fn occurrences(&self, from: Option<DateTime<Utc>>, to: DateTime<Utc>) -> Vec<(When, When)> {
        let (Some(series), Some(span)) = (self.series(), self.meta.span) else {
            return Vec::new();
        };
        let zone = span.zone;
        let starts = series.starts().take_while(|s| s.instant(zone) < to);
        let with_ends = starts.map(|s| (s, self.end_for(s)));
        with_ends
            .filter(|(s, e)| {
                let (s, e) = (s.instant(zone), e.instant(zone));
                from.is_none_or(|f| e > f || (e == s && s >= f))
            })
            .collect()
    }

    /// The instance of this series that originally starts at `original`, as the series
    /// defines it (no exception applied).
    pub fn instance(&self, original: When) -> Event {
        let span = self.span();
        let time_zone = self.start.as_ref().and_then(|s| s.time_zone.clone());
        let end_zone = self.end.as_ref().and_then(|s| s.time_zone.clone());
        let end = self.end_for(original);
        let mut instance = self.clone();
        instance.id = format!("{}_{}", self.id, original.id_suffix());
        instance.recurring_event_id = Some(self.id.clone());
        instance.original_start_time = Some(original.to_api(span.zone, time_zone.as_deref()));
        instance.start = Some(original.to_api(span.zone, time_zone.as_deref()));
        let end_tz = end_zone
            .as_deref()
            .and_then(time::zone)
            .unwrap_or(span.zone);
        instance.end = Some(end.to_api(end_tz, end_zone.as_deref()));
        instance.recurrence = None;
        instance.meta.series = None;
        instance.meta.span = Some(Span {
            start: original,
            end,
            zone: span.zone,
        });
        instance
    }

    /// The resource as the API returns it; a cancelled exception is only its identity.
    pub fn render(&self) -> Value {
        if self.cancelled() && self.recurring_event_id.is_some() {
            return json!({
                "kind": self.kind,
                "etag": self.etag,
                "id": self.id,
                "status": self.status,
                "recurringEventId": self.recurring_event_id,
                "originalStartTime": self.original_start_time,
            });
        }
        serde_json::to_value(self).unwrap_or_default()
    }

    /// Whether every word of `q` appears in its text fields or among its people.
    pub fn matches(&self, terms: &[String]) -> bool {
        let mut text = String::new();
        for part in [&self.summary, &self.description, &self.location]
            .into_iter()
            .flatten()
        {
            text.push_str(part);
            text.push('\n');
        }
        let people = self
            .attendees
            .iter()
            .flatten()
            .map(|a| (&a.email, &a.display_name));
        let organizer = self.organizer.iter().map(|o| (&o.email, &o.display_name));
        for (email, name) in people.chain(organizer) {
            for part in [email, name].into_iter().flatten() {
                text.push_str(part);
                text.push('\n');
            }
        }
        let text = text.to_lowercase();
        terms.iter().all(|t| text.contains(t.as_str()))
    }
}

fn time_range_empty() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::BAD_REQUEST,
        "timeRangeEmpty",
        "The specified time range is empty.",
    )
}

/// `conferenceData` for a `createRequest` (with `conferenceDataVersion=1`): a new Meet.
pub fn create_conference(data: &Value) -> Result<Option<Value>, ApiError> {
    let Some(request) = data.get("createRequest") else {
        return Ok(Some(data.clone()));
    };
    let kind = request["conferenceSolutionKey"]["type"]
        .as_str()
        .unwrap_or_default();
    if kind != "hangoutsMeet" {
        return Err(ApiError::invalid("Invalid conference type value."));
    }
    let mut rng = rand::thread_rng();
    let mut letters = |n: usize| -> String {
        (0..n)
            .map(|_| (b'a' + rng.gen_range(0..26)) as char)
            .collect()
    };
    let code = format!("{}-{}-{}", letters(3), letters(4), letters(3));
    let uri = format!("https://meet.google.com/{code}");
    Ok(Some(json!({
        "createRequest": {
            "requestId": request["requestId"],
            "conferenceSolutionKey": {"type": "hangoutsMeet"},
            "status": {"statusCode": "success"},
        },
        "entryPoints": [{
            "entryPointType": "video",
            "uri": uri,
            "label": format!("meet.google.com/{code}"),
        }],
        "conferenceSolution": {
            "key": {"type": "hangoutsMeet"},
            "name": "Google Meet",
            "iconUri": "https://fonts.gstatic.com/s/i/productlogos/meet_2020q4/v6/web-512dp/logo_meet_2020q4_color_2x_web_512dp.png",
        },
        "conferenceId": code,
    })))
}

/// The Meet link of conference data, for `hangoutLink`.
pub fn meet_link(data: &Value) -> Option<String> {
    let points = data["entryPoints"].as_array()?;
    let video = points.iter().find(|p| p["entryPointType"] == "video")?;
    video["uri"].as_str().map(str::to_string)
}
