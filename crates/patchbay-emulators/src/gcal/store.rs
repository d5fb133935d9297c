//! The account's calendars and their events, the change counter sync tokens are read
//! against, and every write: insert, replace, patch and delete, on events, on instances of
//! a series (which become exceptions) and on the series itself.

use super::event::{create_conference, meet_link, Context, Event, Person};
use super::push::{Announce, Outbox};
use super::routes::ApiError;
use super::time::When;
use axum::http::StatusCode;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rand::Rng;
use serde_json::Value;
use std::collections::BTreeMap;

pub struct CalendarData {
    pub id: String,
    pub summary: String,
    pub description: Option<String>,
    pub time_zone: String,
    pub zone: Tz,
    pub primary: bool,
    pub color_id: String,
    pub background_color: String,
    pub foreground_color: String,
    /// Removed from the calendar list; kept so incremental syncs of the list report it.
    pub deleted: bool,
    /// The change number of the last change to the calendar itself.
    pub changed: u64,
    pub events: BTreeMap<String, Event>,
}

impl CalendarData {
    pub fn etag(&self) -> String {
        format!("\"{}\"", 1_700_000_000_000_000u64 + self.changed)
    }

    /// Stored exceptions of a series: ids `{seriesId}_…` that point back at it.
    pub fn exceptions<'a>(&'a self, series: &'a str) -> impl Iterator<Item = &'a Event> + 'a {
        let prefix = format!("{series}_");
        self.events
            .range(prefix.clone()..)
            .take_while(move |(id, _)| id.starts_with(&prefix))
            .map(|(_, e)| e)
            .filter(move |e| e.recurring_event_id.as_deref() == Some(series))
    }
}

/// How a write treats the fields it is not given.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Write {
    Replace,
    Patch,
}

pub struct Store {
    pub email: String,
    pub name: String,
    pub calendars: BTreeMap<String, CalendarData>,
    /// Every write takes the next number; sync tokens carry the one they were issued at.
    pub change: u64,
    /// Moved by `expire_sync_tokens`: tokens of an older generation answer 410.
    pub generation: u64,
    pub clock: crate::Clock,
    /// The emulator's "now" for quickAdd and expansion horizons; real time when `None`.
    pub fixed_now: Option<DateTime<Utc>>,
    pub outbox: Option<Outbox>,
}

/// Base32hex, the alphabet of Google's event ids.
const ID_ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuv";

pub fn new_id(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ID_ALPHABET[rng.gen_range(0..32)] as char)
        .collect()
}

fn id_valid(id: &str) -> bool {
    (5..=1024).contains(&id.len()) && id.bytes().all(|b| ID_ALPHABET.contains(&b))
}

/// Merges a PATCH body: objects recursively, anything else replaced, `null` removes. A
/// start or end given as `date` drops the old `dateTime` and the other way round.
fn merge(target: &mut Value, patch: &Value) {
    let (Some(target), Some(patch)) = (target.as_object_mut(), patch.as_object()) else {
        return;
    };
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
            continue;
        }
        let current = target.get_mut(key);
        match current {
            Some(current) if current.is_object() && value.is_object() => {
                if ["start", "end"].contains(&key.as_str()) {
                    let swap = [("date", "dateTime"), ("dateTime", "date")];
                    for (given, other) in swap {
                        if value.get(given).is_some() {
                            current.as_object_mut().map(|o| o.remove(other));
                        }
                    }
                }
                merge(current, value);
            }
            _ => {
                target.insert(key.clone(), value.clone());
            }
        }
    }
}

impl Store {
    pub fn now(&self) -> DateTime<Utc> {
        self.fixed_now.unwrap_or_else(Utc::now)
    }

    /// `primary` is the account's own calendar.
    pub fn resolve<'a>(&'a self, id: &'a str) -> &'a str {
        if id == "primary" {
            &self.email
        } else {
            id
        }
    }

    pub fn calendar(&self, id: &str) -> Result<&CalendarData, ApiError> {
        let found = self.calendars.get(self.resolve(id));
        found.filter(|c| !c.deleted).ok_or_else(ApiError::not_found)
    }

    pub fn next_change(&mut self) -> (u64, DateTime<Utc>) {
        self.change += 1;
        (self.change, self.clock.tick())
    }

    fn stamp(&mut self, event: &mut Event, seeded: Option<usize>) {
        let (change, at) = self.next_change();
        let at = seeded.map_or(at, |n| self.clock.seeded(n));
        event.updated = crate::rfc3339(at);
        if event.created.is_empty() {
            event.created = event.updated.clone();
        }
        event.etag = format!("\"{}\"", at.timestamp_micros());
        event.meta.changed = change;
        event.meta.updated_ms = at.timestamp_millis();
    }

    fn organizer(&self, calendar: &CalendarData) -> Person {
        let (email, name) = if calendar.primary {
            (self.email.clone(), self.name.clone())
        } else {
            (calendar.id.clone(), calendar.summary.clone())
        };
        Person {
            email: Some(email),
            display_name: Some(name),
            is_self: Some(true),
            ..Default::default()
        }
    }

    /// An event by id, or the instance of a series an instance id names.
    pub fn find(&self, calendar: &str, id: &str) -> Result<Event, ApiError> {
        let calendar = self.calendar(calendar)?;
        if let Some(event) = calendar.events.get(id) {
            return Ok(event.clone());
        }
        let (series_id, suffix) = id.rsplit_once('_').ok_or_else(ApiError::not_found)?;
        let original = When::from_id_suffix(suffix).ok_or_else(ApiError::not_found)?;
        let master = calendar.events.get(series_id).filter(|m| !m.cancelled());
        let master = master.ok_or_else(ApiError::not_found)?;
        match master.series() {
            Some(series) if series.has(original, master.span().zone) => {
                Ok(master.instance(original))
            }
            _ => Err(ApiError::not_found()),
        }
    }

    /// `events.insert`; `conference` is `conferenceDataVersion=1`.
    pub fn insert(
        &mut self,
        calendar: &str,
        body: Value,
        conference: bool,
    ) -> Result<Event, ApiError> {
        let mut event = Event::from_json(body)?;
        if !conference {
            event.conference_data = None;
        }
        self.insert_event(calendar, event, None)
    }

    /// Stores a new event after Google's checks; `seeded` dates it in the past.
    pub fn insert_event(
        &mut self,
        calendar: &str,
        mut event: Event,
        seeded: Option<usize>,
    ) -> Result<Event, ApiError> {
        let cal = self.calendar(calendar)?;
        if event.id.is_empty() {
            event.id = new_id(26);
        } else if !id_valid(&event.id) {
            return Err(ApiError::invalid("Invalid resource id value."));
        } else if cal.events.contains_key(&event.id) {
            let message = "The requested identifier already exists.";
            return Err(ApiError::new(StatusCode::CONFLICT, "duplicate", message));
        }
        let ctx = Context {
            email: &self.email,
            zone: cal.zone,
        };
        event.kind = "calendar#event".into();
        let eid = URL_SAFE_NO_PAD.encode(format!("{} {}", event.id, cal.id));
        event.html_link = format!("https://www.google.com/calendar/event?eid={eid}");
        event.created = String::new();
        event.creator = Some(Person {
            email: Some(self.email.clone()),
            display_name: Some(self.name.clone()),
            is_self: Some(true),
            ..Default::default()
        });
        event.organizer = Some(self.organizer(cal));
        event.ical_uid = format!("{}@google.com", event.id);
        event.recurring_event_id = None;
        event.original_start_time = None;
        if event.event_type.is_empty() {
            event.event_type = "default".into();
        }
        if let Some(data) = event.conference_data.take() {
            event.conference_data = create_conference(&data)?;
        }
        event.hangout_link = event.conference_data.as_ref().and_then(meet_link);
        event.finish(&ctx)?;
        let cal_id = cal.id.clone();
        self.stamp(&mut event, seeded);
        self.calendars
            .get_mut(&cal_id)
            .expect("checked above")
            .events
            .insert(event.id.clone(), event.clone());
        self.announce(&cal_id);
        Ok(event)
    }

    /// `events.update` and `events.patch`, on an event, a series or one of its instances.
    pub fn write(
        &mut self,
        calendar: &str,
        id: &str,
        body: Value,
        mode: Write,
        conference: bool,
    ) -> Result<Event, ApiError> {
        let current = self.find(calendar, id)?;
        let cal = self.calendar(calendar)?;
        let value = match mode {
            Write::Replace => body,
            Write::Patch => {
                let mut value = serde_json::to_value(&current).unwrap_or_default();
                merge(&mut value, &body);
                value
            }
        };
        let mut event = Event::from_json(value)?;
        event.id = current.id.clone();
        event.kind = current.kind.clone();
        event.html_link = current.html_link.clone();
        event.created = current.created.clone();
        event.creator = current.creator.clone();
        event.organizer = current.organizer.clone();
        event.ical_uid = current.ical_uid.clone();
        event.recurring_event_id = current.recurring_event_id.clone();
        event.original_start_time = current.original_start_time.clone();
        if event.event_type.is_empty() {
            event.event_type = current.event_type.clone();
        }
        let requested = event.conference_data.take();
        event.conference_data = match requested {
            Some(data) if conference => {
                let same = data["createRequest"]["requestId"]
                    == current
                        .conference_data
                        .as_ref()
                        .map_or(Value::Null, |c| c["createRequest"]["requestId"].clone());
                if same && data.get("createRequest").is_some() {
                    current.conference_data.clone()
                } else {
                    create_conference(&data)?
                }
            }
            _ if conference && mode == Write::Replace => None,
            // Without conferenceDataVersion=1 the stored conference data is kept.
            _ => current.conference_data.clone(),
        };
        event.hangout_link = event.conference_data.as_ref().and_then(meet_link);
        let ctx = Context {
            email: &self.email,
            zone: cal.zone,
        };
        event.finish(&ctx)?;
        let moved = event.start != current.start
            || event.end != current.end
            || event.recurrence != current.recurrence;
        event.sequence = current.sequence.max(event.sequence) + i64::from(moved);
        let cal_id = cal.id.clone();
        self.stamp(&mut event, None);
        if event.cancelled() && event.series().is_some() {
            self.cancel_exceptions(&cal_id, &event.id);
        }
        let cal = self.calendars.get_mut(&cal_id).expect("checked above");
        cal.events.insert(event.id.clone(), event.clone());
        self.announce(&cal_id);
        Ok(event)
    }

    /// `events.delete`: the event (or instance, or whole series) is cancelled.
    pub fn delete(&mut self, calendar: &str, id: &str) -> Result<(), ApiError> {
        let mut event = self.find(calendar, id)?;
        if event.cancelled() {
            let message = "Resource has been deleted";
            return Err(ApiError::new(StatusCode::GONE, "deleted", message));
        }
        let cal_id = self.calendar(calendar)?.id.clone();
        event.status = "cancelled".into();
        self.stamp(&mut event, None);
        if event.series().is_some() {
            self.cancel_exceptions(&cal_id, &event.id);
        }
        let cal = self.calendars.get_mut(&cal_id).expect("checked above");
        cal.events.insert(event.id.clone(), event);
        self.announce(&cal_id);
        Ok(())
    }

    fn cancel_exceptions(&mut self, cal_id: &str, series: &str) {
        let Some(cal) = self.calendars.get(cal_id) else {
            return;
        };
        let live: Vec<Event> = cal
            .exceptions(series)
            .filter(|e| !e.cancelled())
            .cloned()
            .collect();
        for mut exception in live {
            exception.status = "cancelled".into();
            self.stamp(&mut exception, None);
            if let Some(cal) = self.calendars.get_mut(cal_id) {
                cal.events.insert(exception.id.clone(), exception);
            }
        }
    }

    /// A new secondary calendar; returns its id.
    pub fn add_calendar(&mut self, summary: &str, time_zone: &str, color: usize) -> String {
        let id = format!("c_{}@group.calendar.google.com", new_id(26));
        let (change, _) = self.next_change();
        let (color_id, background) = COLORS[color % COLORS.len()];
        self.calendars.insert(
            id.clone(),
            CalendarData {
                id: id.clone(),
                summary: summary.to_string(),
                description: None,
                time_zone: time_zone.to_string(),
                zone: time_zone.parse().unwrap_or(chrono_tz::UTC),
                primary: false,
                color_id: color_id.to_string(),
                background_color: background.to_string(),
                foreground_color: "#000000".into(),
                deleted: false,
                changed: change,
                events: BTreeMap::new(),
            },
        );
        id
    }

    pub fn announce(&self, calendar: &str) {
        if let Some(outbox) = &self.outbox {
            let _ = outbox.send(Announce::Changed(calendar.to_string()));
        }
    }
}

/// Calendar colour ids and their background colours, as `colors.get` lists them.
pub const COLORS: [(&str, &str); 4] = [
    ("14", "#9fe1e7"),
    ("7", "#42d692"),
    ("9", "#7bd148"),
    ("22", "#f691b2"),
];
