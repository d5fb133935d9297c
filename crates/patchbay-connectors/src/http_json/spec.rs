//! What the generic JSON API connector declares, and its validation rules.

use crate::common::check_base_url;
use patchbay_core::{
    AuthKind, Capability, ConnectorSpec, Direction, EntitySpec, FieldError, Mode, ValidationInput,
};
use serde_json::json;

pub const KEY: &str = "http_json";

/// Entity synced when the config names none.
pub const DEFAULT_ENTITY: &str = "records";

pub fn spec() -> ConnectorSpec {
    let field = |title: &str, default: &str| json!({"type": "string", "title": title, "minLength": 1, "default": default});
    let optional_field = |title: &str| json!({"type": "string", "title": title, "minLength": 1});
    ConnectorSpec {
        key: KEY.into(),
        name: "HTTP JSON API".into(),
        description: "Any JSON API that lists items with cursor pagination, such as a \
                      self-hosted app: the endpoint, field names and auth header are \
                      configured. Field names starting with '/' are JSON Pointers."
            .into(),
        category: "generic".into(),
        direction: Direction::Inbound,
        mode: Mode::Pull,
        auth: AuthKind::ApiKey,
        capabilities: vec![Capability::Sync],
        entities: vec![EntitySpec {
            key: DEFAULT_ENTITY.into(),
            description: "items listed by the configured endpoint".into(),
            // Only when `updated_since_param` is configured; otherwise every run lists all.
            incremental: true,
        }],
        actions: vec![],
        data_endpoints: vec![],
        config_schema: json!({
            "type": "object",
            "required": ["base_url", "list_path"],
            "properties": {
                "base_url": {"type": "string", "title": "Base URL", "format": "uri"},
                "list_path": {
                    "type": "string",
                    "title": "List path",
                    "description": "Path of the list endpoint, appended to the base URL",
                    "pattern": "^/"
                },
                "entities": {
                    "type": "array",
                    "title": "Entity names this connection syncs",
                    "items": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"},
                    "minItems": 1,
                    "uniqueItems": true,
                    "default": [DEFAULT_ENTITY]
                },
                "items_field": field("Field holding the items", "data"),
                "id_field": field("Item id field", "id"),
                "next_cursor_field": field("Field holding the next page cursor", "next_cursor"),
                "cursor_param": field("Cursor query parameter", "cursor"),
                "limit_param": field("Page size query parameter", "limit"),
                "page_size": {
                    "type": "integer",
                    "title": "Items per page",
                    "minimum": 1,
                    "maximum": 10000,
                    "default": 1000
                },
                "updated_since_param": optional_field(
                    "Query parameter for changes since the last run (makes syncs incremental)"
                ),
                "updated_at_field": optional_field("Item field with its last update time"),
                "deleted_field": optional_field("Item field that is true for deleted items"),
                "auth_header": {
                    "type": "string",
                    "title": "Header carrying the API key",
                    "pattern": "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$",
                    "default": "Authorization"
                },
                "auth_scheme": {
                    "type": "string",
                    "title": "Scheme before the key (empty sends the key alone)",
                    "pattern": "^[A-Za-z0-9._-]*$",
                    "default": "Bearer"
                }
            },
            "additionalProperties": false
        }),
        secrets_schema: json!({
            "type": "object",
            "required": ["api_key"],
            "properties": {
                "api_key": {"type": "string", "title": "API key", "minLength": 8}
            },
            "additionalProperties": false
        }),
        account_field: None,
        webhook_scheme: None,
        webhook_secret_field: None,
    }
}

pub fn validate_rules(input: &ValidationInput<'_>) -> Vec<FieldError> {
    check_base_url(input.config, "base_url")
        .into_iter()
        .collect()
}
