//! What the generic JSON API connector declares, and its validation rules.

use crate::common::check_base_url;
use patchbay_core::{
    AuthKind, Capability, ConnectorSpec, Direction, EntitySpec, FieldError, Mode, ValidationInput,
    WebhookScheme,
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
        capabilities: vec![
            Capability::Sync,
            Capability::Webhooks,
            Capability::Proxy,
            Capability::Data,
        ],
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
                },
                "account": optional_field(
                    "Account id at the service (routes webhooks that name their account)"
                ),
                "webhook_scheme": {
                    "type": "string",
                    "title": "How the service signs its webhooks",
                    "enum": WEBHOOK_SCHEMES.iter().map(|(name, _)| *name).collect::<Vec<_>>()
                },
                "data_endpoints": {
                    "type": "array",
                    "title": "Live data endpoints (dashboard widgets)",
                    "items": {
                        "type": "object",
                        "required": ["key", "path", "shape"],
                        "properties": {
                            "key": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"},
                            "description": {"type": "string"},
                            "path": {"type": "string", "pattern": "^/"},
                            "shape": {"type": "string", "enum": ["stat", "gauge", "list", "progress", "alert", "chart"]},
                            "pointer": {
                                "type": "string",
                                "title": "JSON Pointer to the widget's data in the answer",
                                "pattern": "^(/.*)?$"
                            },
                            "ttl_seconds": {"type": "integer", "minimum": 1, "maximum": 86400, "default": 60}
                        },
                        "additionalProperties": false
                    }
                }
            },
            "additionalProperties": false
        }),
        secrets_schema: json!({
            "type": "object",
            "required": ["api_key"],
            "properties": {
                "api_key": {"type": "string", "title": "API key", "minLength": 8},
                "webhook_secret": {
                    "type": "string",
                    "title": "Webhook signing secret (for Discord: the public key, hex)",
                    "minLength": 8
                }
            },
            "additionalProperties": false
        }),
        account_field: Some("account".into()),
        // Chosen per connection (`webhook_scheme`); see `Connector::webhook_scheme_for`.
        webhook_scheme: None,
        webhook_secret_field: Some("webhook_secret".into()),
    }
}

/// Configurable webhook schemes, by their config name.
pub const WEBHOOK_SCHEMES: &[(&str, WebhookScheme)] = &[
    ("shared_secret_header", WebhookScheme::SharedSecretHeader),
    ("github_hmac_sha256", WebhookScheme::GithubHmacSha256),
    ("slack_v0", WebhookScheme::SlackV0),
    ("telegram_secret_token", WebhookScheme::TelegramSecretToken),
    ("discord_ed25519", WebhookScheme::DiscordEd25519),
    ("standard_webhooks", WebhookScheme::StandardWebhooks),
];

pub fn webhook_scheme(config: &serde_json::Value) -> Option<WebhookScheme> {
    let name = config.get("webhook_scheme")?.as_str()?;
    WEBHOOK_SCHEMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| *s)
}

pub fn validate_rules(input: &ValidationInput<'_>) -> Vec<FieldError> {
    let mut errors: Vec<FieldError> = check_base_url(input.config, "base_url")
        .into_iter()
        .collect();
    // Webhooks are never accepted unverified, so a scheme without its secret is an error.
    if webhook_scheme(input.config).is_some() && !input.secrets.contains_key("webhook_secret") {
        errors.push(FieldError::new(
            "secrets.webhook_secret",
            "required",
            "required when webhook_scheme is set",
        ));
    }
    if let Some(list) = input
        .config
        .get("data_endpoints")
        .and_then(|v| v.as_array())
    {
        let mut seen = std::collections::BTreeSet::new();
        for e in list {
            if let Some(key) = e.get("key").and_then(|k| k.as_str()) {
                if !seen.insert(key) {
                    errors.push(FieldError::new(
                        "config.data_endpoints",
                        "duplicate",
                        format!("endpoint key '{key}' appears twice"),
                    ));
                }
            }
        }
    }
    errors
}
