//! `events.list` and `events.instances`: time windows, search, expansion into instances,
//! ordering, paging, and incremental sync with sync tokens.
//!
//! A page token carries the change number of the first page, so the `nextSyncToken` of the
//! last page covers every change made while the pages were fetched. Without `timeMax`,
//! series are expanded up to two years after the emulator's now.

use super::event::Event;
use super::request::{ok, read_token, token, Params};
use super::routes::{Answer, ApiError, App};
use super::store::{CalendarData, Store};
use super::time::{self, When};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde_json::{json, Value};
use std::collections::HashSet;

/// How far series without `timeMax` are expanded.
const HORIZON_DAYS: i64 = 730;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    Start,
    Updated,
}

struct Filter {
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    single: bool,
    order: Order,
    show_deleted: bool,
    terms: Vec<String>,
    ical_uid: Option<String>,
    updated_min: Option<i64>,
    event_types: Vec<String>,
    /// The change number of the sync token given.
    since: Option<u64>,
}

/// One row of a listing: a stored event or an instance of a series.
enum Item<'a> {
    Stored(&'a Event),
    Occurrence(&'a Event, When),
}

struct Row<'a> {
    key: i64,
    id: String,
    item: Item<'a>,
}

impl Item<'_> {
    fn render(&self, zone: Option<Tz>) -> Value {
        let mut value = match self {
            Item::Stored(e) => e.render(),
            Item::Occurrence(master, original) => master.instance(*original).render(),
        };
        if let Some(zone) = zone {
            for field in ["start", "end", "originalStartTime"] {
                let at = value[field]["dateTime"].as_str();
                if let Some(t) = at.and_then(|t| DateTime::parse_from_rfc3339(t).ok()) {
                    value[field]["dateTime"] = time::render(t.to_utc(), zone).into();
                }
            }
        }
        value
    }
}

fn row<'a>(item: Item<'a>, order: Order) -> Row<'a> {
    let (key, id) = match &item {
        Item::Stored(e) => {
            let span = e.span();
            let start = span.start.instant(span.zone).timestamp_millis();
            let key = if order == Order::Updated {
                e.meta.updated_ms
            } else {
                start
            };
            (key, e.id.clone())
        }
        Item::Occurrence(master, original) => {
            let start = original.instant(master.span().zone).timestamp_millis();
            let key = if order == Order::Updated {
                master.meta.updated_ms
            } else {
                start
            };
            (key, format!("{}_{}", master.id, original.id_suffix()))
        }
    };
    Row { key, id, item }
}

fn sync_token(store: &Store, calendar: &str, change: u64) -> String {
    let fields = [
        store.generation.to_string(),
        change.to_string(),
        calendar.to_string(),
    ];
    token('s', &fields)
}

/// The change number a sync token was issued at; 410 when it is expired or not one.
fn read_sync_token(store: &Store, calendar: &str, given: &str) -> Result<u64, ApiError> {
    let fields = read_token(given, 's').ok_or_else(ApiError::full_sync_required)?;
    match fields.as_slice() {
        [generation, change, cal]
            if *generation == store.generation.to_string() && cal == calendar =>
        {
            let change = change.parse::<u64>().ok().filter(|c| *c <= store.change);
            change.ok_or_else(ApiError::full_sync_required)
        }
        _ => Err(ApiError::full_sync_required()),
    }
}

fn filter(q: &Params, store: &Store, calendar: &str) -> Result<Filter, ApiError> {
    let since = match q.get("syncToken").filter(|t| !t.is_empty()) {
        None => None,
        Some(given) => {
            let refused = [
                "timeMin",
                "timeMax",
                "q",
                "orderBy",
                "iCalUID",
                "updatedMin",
            ];
            let extended = ["privateExtendedProperty", "sharedExtendedProperty"];
            if let Some(name) = refused.iter().chain(&extended).find(|p| q.has(p)) {
                let message = format!("Sync token cannot be used together with {name}.");
                return Err(ApiError::invalid_parameter("syncToken", message));
            }
            Some(read_sync_token(store, calendar, given)?)
        }
    };
    let single = q.flag("singleEvents")?;
    let order = match q.get("orderBy") {
        None | Some("") => Order::Start,
        Some("startTime") if single => Order::Start,
        Some("startTime") => {
            let message = "The requested ordering is not available for the particular query.";
            return Err(ApiError::invalid_parameter("orderBy", message));
        }
        Some("updated") => Order::Updated,
        Some(other) => {
            let message = format!("Invalid value '{other}' for orderBy.");
            return Err(ApiError::invalid_parameter("orderBy", message));
        }
    };
    let (from, to) = (q.time("timeMin")?, q.time("timeMax")?);
    if let (Some(from), Some(to)) = (from, to) {
        if to <= from {
            let message = "The specified time range is empty.";
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "timeRangeEmpty",
                message,
            ));
        }
    }
    let terms = q.get("q").unwrap_or_default().to_lowercase();
    Ok(Filter {
        from,
        to,
        single,
        order,
        show_deleted: q.flag("showDeleted")?,
        terms: terms.split_whitespace().map(str::to_string).collect(),
        ical_uid: q
            .get("iCalUID")
            .filter(|u| !u.is_empty())
            .map(str::to_string),
        updated_min: q.time("updatedMin")?.map(|t| t.timestamp_millis()),
        event_types: q.all("eventTypes"),
        since,
    })
}

impl Filter {
    fn accepts(&self, e: &Event) -> bool {
        let visible = match self.since {
            Some(since) => e.meta.changed > since,
            // Google lists a series' cancelled occurrences even without showDeleted when
            // the series is not expanded: they are part of its shape.
            None => {
                self.show_deleted
                    || !e.cancelled()
                    || (!self.single && e.recurring_event_id.is_some())
            }
        };
        visible
            && (self.terms.is_empty() || e.matches(&self.terms))
            && self.ical_uid.as_ref().is_none_or(|u| *u == e.ical_uid)
            && self.updated_min.is_none_or(|m| e.meta.updated_ms >= m)
            && (self.event_types.is_empty() || self.event_types.contains(&e.event_type))
    }
}

fn gather<'a>(cal: &'a CalendarData, f: &Filter, horizon: DateTime<Utc>) -> Vec<Row<'a>> {
    let mut rows = Vec::new();
    let to = f.to.unwrap_or(horizon);
    for event in cal.events.values().filter(|e| f.accepts(e)) {
        if event.series().is_none() {
            if f.since.is_some() || event.overlaps(f.from, f.to) {
                rows.push(row(Item::Stored(event), f.order));
            }
            continue;
        }
        if !f.single || event.cancelled() {
            if f.since.is_some() || !event.occurrences(f.from, to).is_empty() {
                rows.push(row(Item::Stored(event), f.order));
            }
            continue;
        }
        let exceptions: HashSet<&str> = cal.exceptions(&event.id).map(|e| e.id.as_str()).collect();
        for (original, _) in event.occurrences(f.from, to) {
            let row = row(Item::Occurrence(event, original), f.order);
            if !exceptions.contains(row.id.as_str()) {
                rows.push(row);
            }
        }
    }
    rows
}

/// A page of `rows` after the page token's position, and the token for the next page or,
/// on the last page, the change number the listing started at.
fn page<'a>(
    mut rows: Vec<Row<'a>>,
    q: &Params,
    max: usize,
    change: u64,
) -> Result<(Vec<Row<'a>>, Result<String, u64>), ApiError> {
    rows.sort_by(|a, b| (a.key, &a.id).cmp(&(b.key, &b.id)));
    let (snapshot, after) = match q.get("pageToken").filter(|t| !t.is_empty()) {
        None => (change, None),
        Some(given) => {
            let bad = || ApiError::invalid_parameter("pageToken", "Invalid page token.");
            let fields = read_token(given, 'p').ok_or_else(bad)?;
            let [snapshot, key, id] = fields.as_slice() else {
                return Err(bad());
            };
            let snapshot = snapshot.parse::<u64>().map_err(|_| bad())?;
            let key = key.parse::<i64>().map_err(|_| bad())?;
            (snapshot, Some((key, id.clone())))
        }
    };
    let mut rest = rows
        .into_iter()
        .filter(|r| {
            after
                .as_ref()
                .is_none_or(|(k, id)| (r.key, &r.id) > (*k, id))
        })
        .peekable();
    let taken: Vec<Row> = rest.by_ref().take(max).collect();
    let next = match (taken.last(), rest.peek()) {
        (Some(last), Some(_)) => Ok(token(
            'p',
            &[snapshot.to_string(), last.key.to_string(), last.id.clone()],
        )),
        _ => Err(snapshot),
    };
    Ok((taken, next))
}

fn envelope(store: &Store, cal: &CalendarData, zone: Option<Tz>) -> Value {
    let updated = cal
        .events
        .values()
        .map(|e| e.meta.updated_ms)
        .max()
        .unwrap_or(0);
    let updated = DateTime::from_timestamp_millis(updated).unwrap_or_default();
    json!({
        "kind": "calendar#events",
        "etag": format!("\"p{}\"", 32_000_000_000_000u64 + store.change),
        "summary": cal.summary,
        "description": cal.description.clone().unwrap_or_default(),
        "updated": crate::rfc3339(updated),
        "timeZone": zone.map_or(cal.time_zone.clone(), |z| z.name().to_string()),
        "accessRole": "owner",
        "defaultReminders": [{"method": "popup", "minutes": 10}],
    })
}

fn zone_param(q: &Params) -> Result<Option<Tz>, ApiError> {
    match q.get("timeZone").filter(|z| !z.is_empty()) {
        None => Ok(None),
        Some(name) => time::zone(name)
            .map(Some)
            .ok_or_else(|| ApiError::invalid_parameter("timeZone", "Invalid time zone.")),
    }
}

/// `GET /calendars/{calendarId}/events`.
pub async fn events(
    State(app): App,
    Path(calendar): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    let q = Params(q);
    let store = app.store();
    let cal = store.calendar(&calendar)?;
    let f = filter(&q, &store, &cal.id)?;
    let max = q.max_results(250, 2500)?;
    let zone = zone_param(&q)?;
    let horizon = store.now() + Duration::days(HORIZON_DAYS);
    let rows = gather(cal, &f, horizon);
    let (taken, next) = page(rows, &q, max, store.change)?;
    let mut out = envelope(&store, cal, zone);
    out["items"] = taken.iter().map(|r| r.item.render(zone)).collect();
    match next {
        Ok(page_token) => out["nextPageToken"] = page_token.into(),
        Err(snapshot) => out["nextSyncToken"] = sync_token(&store, &cal.id, snapshot).into(),
    }
    ok(out)
}

/// `GET /calendars/{calendarId}/events/{eventId}/instances`.
pub async fn instances(
    State(app): App,
    Path((calendar, event)): Path<(String, String)>,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    let q = Params(q);
    let store = app.store();
    let cal = store.calendar(&calendar)?;
    let master = cal.events.get(&event).ok_or_else(ApiError::not_found)?;
    if master.cancelled() {
        let message = "Resource has been deleted";
        return Err(ApiError::new(StatusCode::GONE, "deleted", message));
    }
    let (from, to) = (q.time("timeMin")?, q.time("timeMax")?);
    let show_deleted = q.flag("showDeleted")?;
    let max = q.max_results(250, 2500)?;
    let zone = zone_param(&q)?;
    let original = match q.get("originalStart").filter(|s| !s.is_empty()) {
        None => None,
        Some(given) => Some(original_start(given)?),
    };
    let horizon = to.unwrap_or(store.now() + Duration::days(HORIZON_DAYS));
    let mut rows = Vec::new();
    let exceptions: Vec<&Event> = cal.exceptions(&master.id).collect();
    let taken_ids: HashSet<&str> = exceptions.iter().map(|e| e.id.as_str()).collect();
    for (start, _) in master.occurrences(from, horizon) {
        let row = row(Item::Occurrence(master, start), Order::Start);
        if !taken_ids.contains(row.id.as_str()) {
            rows.push(row);
        }
    }
    for exception in exceptions {
        if (show_deleted || !exception.cancelled()) && exception.overlaps(from, to) {
            rows.push(row(Item::Stored(exception), Order::Start));
        }
    }
    if let Some(original) = original {
        let id = format!("{}_{}", master.id, original.id_suffix());
        rows.retain(|r| r.id == id);
    }
    let (taken, next) = page(rows, &q, max, store.change)?;
    let mut out = envelope(&store, cal, zone);
    out["items"] = taken.iter().map(|r| r.item.render(zone)).collect();
    if let Ok(page_token) = next {
        out["nextPageToken"] = page_token.into();
    }
    ok(out)
}

/// `originalStart` of `events.instances`: an RFC 3339 time or a date.
fn original_start(given: &str) -> Result<When, ApiError> {
    let parsed = DateTime::parse_from_rfc3339(given)
        .map(|t| When::At(t.to_utc()))
        .or_else(|_| chrono::NaiveDate::parse_from_str(given, "%Y-%m-%d").map(When::Date));
    parsed.map_err(|_| ApiError::invalid_parameter("originalStart", "Invalid originalStart."))
}
