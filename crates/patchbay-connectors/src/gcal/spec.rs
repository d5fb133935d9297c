//! What the Google Calendar connector declares: entities, actions with their input schemas,
//! data endpoints and configuration.

use crate::common::check_base_url;
use patchbay_core::{
    ActionSpec, AuthKind, Capability, ConnectorSpec, DataEndpointSpec, DataShape, Direction,
    EntitySpec, FieldError, Mode, ValidationInput, WebhookScheme,
};
use serde_json::{json, Value};

/// The connector's key, which is also its provider catalog entry.
pub const KEY: &str = "google-calendar";

/// The secret Google echoes in `X-Goog-Channel-Token` on every notification; patchbay makes it.
pub const CHANNEL_TOKEN: &str = "webhook_token";

fn object(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "required": required, "properties": properties,
           "additionalProperties": false})
}

fn string(max: u32) -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": max})
}

fn action(key: &str, description: &str, input_schema: Value) -> ActionSpec {
    ActionSpec {
        key: key.into(),
        description: description.into(),
        input_schema,
    }
}

/// When: an all-day `date` (YYYY-MM-DD) or a `date_time` (RFC 3339) with an optional IANA zone.
fn when_schema() -> Value {
    json!({"type": "object", "additionalProperties": false, "properties": {
        "date": {"type": "string", "format": "date"},
        "date_time": {"type": "string", "format": "date-time"},
        "time_zone": {"type": "string", "maxLength": 64}
    }})
}

/// The fields of an event to write (create, update).
fn event_properties() -> Value {
    json!({
        "calendar_id": string(255),
        "summary": {"type": "string", "maxLength": 1024},
        "description": {"type": "string", "maxLength": 8192},
        "location": {"type": "string", "maxLength": 1024},
        "start": when_schema(),
        "end": when_schema(),
        "attendees": {"type": "array", "maxItems": 200, "items": {
            "type": "object", "required": ["email"], "additionalProperties": false,
            "properties": {"email": string(320), "optional": {"type": "boolean"},
                           "display_name": {"type": "string", "maxLength": 255}}}},
        "recurrence": {"type": "array", "maxItems": 20,
            "items": {"type": "string", "minLength": 6, "maxLength": 1024},
            "description": "RRULE, EXDATE and RDATE lines, as in RFC 5545"},
        "reminders": {"type": "array", "maxItems": 5, "items": {
            "type": "object", "required": ["method", "minutes"], "additionalProperties": false,
            "properties": {"method": {"enum": ["email", "popup"]},
                           "minutes": {"type": "integer", "minimum": 0, "maximum": 40320}}}},
        "conference": {"enum": ["meet"], "description": "meet: add a Google Meet link"},
        "send_updates": {"enum": ["all", "externalOnly", "none"]}
    })
}

pub fn slot_properties() -> Value {
    let days: serde_json::Map<String, Value> = super::slots::DAYS
        .iter()
        .map(|d| {
            let windows = json!({"type": "array", "maxItems": 6, "items": {
                "type": "array", "minItems": 2, "maxItems": 2,
                "items": {"type": "string", "pattern": "^[0-9]{2}:[0-9]{2}$"}}});
            (d.to_string(), windows)
        })
        .collect();
    json!({
        "calendar_ids": {"type": "array", "maxItems": 20, "items": string(255),
                         "description": "Calendars whose events are busy time (default: primary)"},
        "time_zone": string(64),
        "start": {"type": "string", "format": "date-time"},
        "end": {"type": "string", "format": "date-time"},
        "horizon_days": {"type": "integer", "minimum": 1, "maximum": 90},
        "duration_minutes": {"type": "integer", "minimum": 5, "maximum": 1440},
        "buffer_before_minutes": {"type": "integer", "minimum": 0, "maximum": 240},
        "buffer_after_minutes": {"type": "integer", "minimum": 0, "maximum": 240},
        "step_minutes": {"type": "integer", "minimum": 5, "maximum": 240},
        "working_hours": {"type": "object", "additionalProperties": false, "properties": days},
        "tentative_busy": {"type": "boolean"},
        "max_slots": {"type": "integer", "minimum": 1, "maximum": 1000}
    })
}

fn data(key: &str, description: &str, shape: DataShape, ttl_seconds: u32) -> DataEndpointSpec {
    DataEndpointSpec {
        key: key.into(),
        description: description.into(),
        shape,
        ttl_seconds,
    }
}

pub fn spec() -> ConnectorSpec {
    let mut update = event_properties();
    update["event_id"] = string(1024);
    ConnectorSpec {
        key: KEY.into(),
        name: "Google Calendar".into(),
        description: "Google Calendar, connected with Google OAuth: calendars and events synced \
                      (incrementally with sync tokens, pushed through watch channels), events \
                      written, RSVPs, free/busy, available slots across calendars, and today's \
                      events as signals."
            .into(),
        category: "calendar".into(),
        direction: Direction::Bidirectional,
        mode: Mode::Pull,
        auth: AuthKind::Oauth2,
        capabilities: vec![
            Capability::Sync,
            Capability::Actions,
            Capability::Signals,
            Capability::Data,
            Capability::Proxy,
            Capability::Webhooks,
        ],
        entities: vec![
            EntitySpec {
                key: "calendars".into(),
                description: "The account's calendar list: summary, time zone, access role.".into(),
                incremental: false,
            },
            EntitySpec {
                key: "events".into(),
                description: "Events of the selected calendars in the sync window: series with \
                              their recurrence and modified instances (a cancelled instance is \
                              kept with status cancelled; other cancelled events are deleted). \
                              Incremental runs use each calendar's sync token."
                    .into(),
                incremental: true,
            },
        ],
        actions: vec![
            action(
                "create_event",
                "Create an event (attendees, reminders, time zones, all-day, recurrence, Meet)",
                object(&["start", "end"], event_properties()),
            ),
            action(
                "update_event",
                "Change an event's fields (a patch: fields left out stay)",
                object(&["event_id"], update),
            ),
            action(
                "delete_event",
                "Delete an event",
                object(
                    &["event_id"],
                    json!({"event_id": string(1024), "calendar_id": string(255),
                           "send_updates": {"enum": ["all", "externalOnly", "none"]}}),
                ),
            ),
            action(
                "quick_add",
                "Create an event from a sentence (\"Lunch with Zoë tomorrow at noon\")",
                object(
                    &["text"],
                    json!({"text": string(1024), "calendar_id": string(255)}),
                ),
            ),
            action(
                "rsvp",
                "Answer an invitation as the connection's account",
                object(
                    &["event_id", "response"],
                    json!({"event_id": string(1024), "calendar_id": string(255),
                           "response": {"enum": ["accepted", "declined", "tentative"]},
                           "comment": {"type": "string", "maxLength": 1024}}),
                ),
            ),
            action(
                "free_busy",
                "Busy blocks of calendars in a window",
                object(
                    &["time_min", "time_max"],
                    json!({"calendar_ids": {"type": "array", "maxItems": 50, "items": string(255)},
                           "time_min": {"type": "string", "format": "date-time"},
                           "time_max": {"type": "string", "format": "date-time"},
                           "time_zone": string(64)}),
                ),
            ),
            action(
                "available_slots",
                "Free slots of a duration within working hours, across calendars, with buffers",
                object(&["duration_minutes"], slot_properties()),
            ),
        ],
        data_endpoints: vec![
            data(
                "next_event",
                "The next event the owner attends",
                DataShape::Stat,
                60,
            ),
            data("today", "Today's events", DataShape::List, 60),
            data(
                "week_busy",
                "Busy hours this week over working hours",
                DataShape::Gauge,
                300,
            ),
        ],
        config_schema: json!({
            "type": "object",
            "properties": {
                "base_url": {
                    "type": "string", "title": "API base URL", "format": "uri",
                    "description": "Overrides the catalog's Google API address (https://www.googleapis.com)"
                },
                "calendar_ids": {
                    "type": "array", "maxItems": 50, "items": string(255),
                    "description": "Calendars whose events sync (default: every calendar in the list)"
                },
                "past_days": {
                    "type": "integer", "minimum": 0, "maximum": 3650,
                    "description": "How far back the first sync reads (default 30 days)"
                },
                "future_days": {
                    "type": "integer", "minimum": 1, "maximum": 3650,
                    "description": "How far ahead the first sync reads (default 365 days)"
                },
                "time_zone": {
                    "type": "string", "maxLength": 64,
                    "description": "The owner's zone for today's events and working hours (default: the primary calendar's)"
                },
                "push": {
                    "type": "boolean",
                    "description": "Keep events.watch channels on the synced calendars so changes sync at once (default false)"
                }
            },
            "additionalProperties": false
        }),
        secrets_schema: json!({
            "type": "object",
            "properties": {
                "access_token": {"type": "string", "minLength": 1},
                "refresh_token": {"type": "string", "minLength": 1},
                CHANNEL_TOKEN: {"type": "string", "minLength": 16,
                    "description": "Made by patchbay when push is on; Google echoes it on every notification"}
            },
            "additionalProperties": false
        }),
        account_field: None,
        // Google echoes the channel's token; patchbay generates it per connection.
        webhook_scheme: Some(WebhookScheme::GoogleChannelToken),
        webhook_secret_field: Some(CHANNEL_TOKEN.into()),
    }
}

pub fn validate_rules(input: &ValidationInput<'_>) -> Vec<FieldError> {
    let mut errors: Vec<FieldError> = check_base_url(input.config, "base_url")
        .into_iter()
        .collect();
    if let Some(tz) = input.config.get("time_zone").and_then(Value::as_str) {
        if tz.parse::<chrono_tz::Tz>().is_err() {
            errors.push(FieldError::new(
                "config.time_zone",
                "format",
                "not an IANA time zone such as Europe/Berlin",
            ));
        }
    }
    errors
}
