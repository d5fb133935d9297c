//! What the Slack connector declares: OAuth v2 tokens and the signing secret, the config
//! (conversation types, channels whose messages are synced), entities and actions.

use crate::common::check_base_url;
use patchbay_core::{
    ActionSpec, AuthKind, Capability, ConnectorSpec, Direction, EntitySpec, FieldError, Mode,
    ValidationInput, WebhookScheme,
};
use serde_json::{json, Value};

pub const KEY: &str = "slack";

/// The app's signing secret, which verifies Events API deliveries (v0 signatures).
pub const SIGNING_SECRET: &str = "signing_secret";

pub const CHANNEL_TYPES: &[&str] = &["public_channel", "private_channel", "im", "mpim"];

/// The conversation types the connection lists (`channel_types`, default public channels).
pub fn channel_types(config: &Value) -> String {
    match config.get("channel_types").and_then(Value::as_array) {
        Some(list) if !list.is_empty() => list
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(","),
        _ => "public_channel".into(),
    }
}

fn channel() -> Value {
    json!({"type": "string", "pattern": "^[CGD][A-Z0-9]{2,30}$",
           "description": "A conversation id (C…, G… or D…)"})
}

fn ts() -> Value {
    json!({"type": "string", "pattern": "^[0-9]{1,12}\\.[0-9]{1,8}$",
           "description": "A message timestamp, Slack's message id"})
}

fn blocks() -> Value {
    json!({"type": "array", "minItems": 1, "maxItems": 50,
           "items": {"type": "object", "required": ["type"]},
           "description": "Block Kit blocks; `text` is then the notification fallback"})
}

fn actions() -> Vec<ActionSpec> {
    let action = |key: &str, description: &str, input_schema: Value| ActionSpec {
        key: key.into(),
        description: description.into(),
        input_schema,
    };
    vec![
        action(
            "list_channels",
            "List conversations of the configured (or given) types, one page at a time",
            json!({"type": "object", "properties": {
                "types": {"type": "array", "uniqueItems": true, "items": {"type": "string", "enum": CHANNEL_TYPES}},
                "exclude_archived": {"type": "boolean", "default": true},
                "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
                "cursor": {"type": "string", "minLength": 1}
            }, "additionalProperties": false}),
        ),
        action(
            "get_channel_history",
            "Messages of a conversation, newest first, one page at a time",
            json!({"type": "object", "required": ["channel"], "properties": {
                "channel": channel(), "oldest": ts(), "latest": ts(),
                "limit": {"type": "integer", "minimum": 1, "maximum": 999},
                "cursor": {"type": "string", "minLength": 1}
            }, "additionalProperties": false}),
        ),
        action(
            "get_users",
            "The workspace's members, one page at a time",
            json!({"type": "object", "properties": {
                "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
                "cursor": {"type": "string", "minLength": 1}
            }, "additionalProperties": false}),
        ),
        action(
            "send_message",
            "Post a message (text or blocks) to a conversation, or as a reply in a thread",
            json!({"type": "object", "required": ["channel"], "properties": {
                "channel": channel(),
                "text": {"type": "string", "minLength": 1, "maxLength": 40000},
                "blocks": blocks(), "thread_ts": ts(),
                "reply_broadcast": {"type": "boolean"},
                "unfurl_links": {"type": "boolean"}
            }, "anyOf": [{"required": ["text"]}, {"required": ["blocks"]}],
               "additionalProperties": false}),
        ),
        action(
            "send_direct_message",
            "Open (or reuse) the direct conversation with a user and post a message there",
            json!({"type": "object", "required": ["user"], "properties": {
                "user": {"type": "string", "pattern": "^[UW][A-Z0-9]{2,30}$"},
                "text": {"type": "string", "minLength": 1, "maxLength": 40000},
                "blocks": blocks()
            }, "anyOf": [{"required": ["text"]}, {"required": ["blocks"]}],
               "additionalProperties": false}),
        ),
        action(
            "update_message",
            "Replace the text or blocks of a message the app posted",
            json!({"type": "object", "required": ["channel", "ts"], "properties": {
                "channel": channel(), "ts": ts(),
                "text": {"type": "string", "minLength": 1, "maxLength": 40000},
                "blocks": blocks()
            }, "anyOf": [{"required": ["text"]}, {"required": ["blocks"]}],
               "additionalProperties": false}),
        ),
        action(
            "delete_message",
            "Delete a message the app posted",
            json!({"type": "object", "required": ["channel", "ts"], "properties": {
                "channel": channel(), "ts": ts()
            }, "additionalProperties": false}),
        ),
        action(
            "add_reaction",
            "Add an emoji reaction to a message",
            json!({"type": "object", "required": ["channel", "timestamp", "name"], "properties": {
                "channel": channel(), "timestamp": ts(),
                "name": {"type": "string", "pattern": "^[a-z0-9_+'-]{1,100}$",
                         "description": "The emoji's name without colons, e.g. thumbsup"}
            }, "additionalProperties": false}),
        ),
    ]
}

pub fn spec() -> ConnectorSpec {
    let entity = |key: &str, description: &str, incremental: bool| EntitySpec {
        key: key.into(),
        description: description.into(),
        incremental,
    };
    ConnectorSpec {
        key: KEY.into(),
        name: "Slack".into(),
        description: "A Slack workspace connected with OAuth v2 (a bot token, and a user token \
                      when user scopes are asked): channels, users and messages are synced, \
                      Events API deliveries (messages, mentions, channel changes) arrive as \
                      records and events, direct messages and mentions waiting for the owner \
                      are signals, and messages are sent, updated, deleted and reacted to as \
                      actions."
            .into(),
        category: "messaging".into(),
        direction: Direction::Bidirectional,
        mode: Mode::Both,
        auth: AuthKind::Oauth2,
        capabilities: vec![
            Capability::Sync,
            Capability::Webhooks,
            Capability::Actions,
            Capability::Proxy,
            Capability::Signals,
        ],
        entities: vec![
            entity("channels", "Conversations of the configured types (`conversations.list`)", false),
            entity("users", "Members of the workspace (`users.list`); emails when users:read.email is granted", false),
            entity("messages", "Messages of the channels the app is in, by `{channel}:{ts}`, with thread replies; incremental runs read only what is newer than the last stored ts", true),
        ],
        actions: actions(),
        data_endpoints: Vec::new(),
        config_schema: json!({
            "type": "object",
            "properties": {
                "base_url": {"type": "string", "title": "Web API base URL", "format": "uri",
                    "description": "Overrides the catalog's Web API address (https://slack.com/api)"},
                "channel_types": {"type": "array", "uniqueItems": true, "minItems": 1,
                    "items": {"type": "string", "enum": CHANNEL_TYPES},
                    "description": "Conversation types to list and sync (default public_channel)"},
                "message_channels": {"type": "array", "uniqueItems": true, "maxItems": 500,
                    "items": channel(),
                    "description": "Only these conversations' messages are synced (default: every listed conversation the app is in)"},
                "history_days": {"type": "integer", "minimum": 1, "maximum": 3650,
                    "description": "How far back a full sync reads messages (default 90 days)"}
            },
            "additionalProperties": false
        }),
        secrets_schema: json!({
            "type": "object",
            "required": ["access_token"],
            "properties": {
                "access_token": {"type": "string", "minLength": 8, "maxLength": 512,
                    "description": "The bot token (xoxb-…) from oauth.v2.access"},
                "user_token": {"type": "string", "minLength": 8, "maxLength": 512,
                    "description": "The user token (xoxp-…), granted with user scopes"},
                "refresh_token": {"type": "string", "minLength": 8, "maxLength": 512,
                    "description": "With token rotation turned on"},
                SIGNING_SECRET: {"type": "string", "minLength": 16, "maxLength": 256,
                    "description": "The app's signing secret; verifies Events API deliveries"}
            },
            "additionalProperties": false
        }),
        account_field: None,
        webhook_scheme: Some(WebhookScheme::SlackV0),
        webhook_secret_field: Some(SIGNING_SECRET.into()),
    }
}

pub fn validate_rules(input: &ValidationInput<'_>) -> Vec<FieldError> {
    check_base_url(input.config, "base_url")
        .into_iter()
        .collect()
}
