//! What the venue operations connector declares, and its validation rules.

use crate::common::{check_base_url, check_distinct_secrets};
use patchbay_core::{
    ActionSpec, AuthKind, Capability, ConnectorSpec, DataEndpointSpec, DataShape, Direction,
    EntitySpec, FieldError, Mode, ValidationInput, WebhookScheme,
};
use serde_json::{json, Value};

pub const KEY: &str = "venue_ops";

/// IANA time zone areas; the pattern alone would accept `Foo/Bar`.
const TZ_AREAS: &[&str] = &[
    "Africa",
    "America",
    "Antarctica",
    "Arctic",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
    "Etc",
];

pub fn spec() -> ConnectorSpec {
    ConnectorSpec {
        key: KEY.into(),
        name: "Venue operations".into(),
        description: "Venue spaces and bookings: sync, booking callbacks, holding and \
                      releasing spaces, and live occupancy."
            .into(),
        category: "venues".into(),
        direction: Direction::Bidirectional,
        mode: Mode::Pull,
        auth: AuthKind::ApiKey,
        capabilities: vec![
            Capability::Sync,
            Capability::Webhooks,
            Capability::Actions,
            Capability::Data,
        ],
        entities: vec![
            EntitySpec {
                key: "spaces".into(),
                description: "Bookable spaces of the venue".into(),
                incremental: false,
            },
            EntitySpec {
                key: "bookings".into(),
                description: "Bookings of the venue's spaces".into(),
                incremental: true,
            },
        ],
        actions: vec![
            ActionSpec {
                key: "hold_space".into(),
                description: "Place a temporary hold on a space for a time range".into(),
                input_schema: json!({
                    "type": "object",
                    "required": ["space_id", "starts_at", "ends_at"],
                    "properties": {
                        "space_id": {"type": "string", "minLength": 1},
                        "starts_at": {"type": "string", "format": "date-time"},
                        "ends_at": {"type": "string", "format": "date-time"}
                    },
                    "additionalProperties": false
                }),
            },
            ActionSpec {
                key: "release_hold".into(),
                description: "Release a hold".into(),
                input_schema: json!({
                    "type": "object",
                    "required": ["hold_id"],
                    "properties": {"hold_id": {"type": "string", "minLength": 1}},
                    "additionalProperties": false
                }),
            },
        ],
        data_endpoints: vec![DataEndpointSpec {
            key: "occupancy".into(),
            description: "People in the venue now, against its capacity".into(),
            shape: DataShape::Gauge,
            ttl_seconds: 60,
        }],
        config_schema: json!({
            "type": "object",
            "required": ["venue_id", "api_base_url", "timezone"],
            "properties": {
                "venue_id": {
                    "type": "string",
                    "title": "Venue id",
                    "pattern": "^ven_[A-Za-z0-9]{4,32}$"
                },
                "api_base_url": {"type": "string", "title": "API base URL", "format": "uri"},
                "timezone": {
                    "type": "string",
                    "title": "Time zone",
                    "pattern": "^(UTC|[A-Za-z]+(/[A-Za-z0-9_+-]+)+)$"
                },
                "capacity_alert_percent": {"type": "integer", "minimum": 1, "maximum": 100}
            },
            "additionalProperties": false
        }),
        secrets_schema: json!({
            "type": "object",
            "required": ["api_token", "callback_secret"],
            "properties": {
                "api_token": {"type": "string", "title": "API token", "minLength": 20},
                "callback_secret": {
                    "type": "string",
                    "title": "Callback secret",
                    "minLength": 24
                }
            },
            "additionalProperties": false
        }),
        account_field: Some("venue_id".into()),
        webhook_scheme: Some(WebhookScheme::SharedSecretHeader),
        webhook_secret_field: Some("callback_secret".into()),
    }
}

pub fn validate_rules(input: &ValidationInput<'_>) -> Vec<FieldError> {
    let mut errors: Vec<FieldError> = check_base_url(input.config, "api_base_url")
        .into_iter()
        .collect();
    if let Some(tz) = input.config.get("timezone").and_then(Value::as_str) {
        let area = tz.split('/').next().unwrap_or_default();
        if tz != "UTC" && tz.contains('/') && !TZ_AREAS.contains(&area) {
            errors.push(FieldError::new(
                "config.timezone",
                "timezone",
                format!("'{area}' is not an IANA time zone area such as Europe or America"),
            ));
        }
    }
    errors.extend(check_distinct_secrets(input.secrets, "api_token"));
    errors
}
