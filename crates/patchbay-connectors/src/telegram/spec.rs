//! What the Telegram connector declares: the bot token and the webhook secret, the config
//! (commands, update types, attachment limit), entities written from updates, and actions.

use super::client::token_shape_ok;
use crate::common::check_base_url;
use patchbay_core::{
    ActionSpec, AuthKind, Capability, ConnectorSpec, Direction, EntitySpec, FieldError, Mode,
    ValidationInput, WebhookScheme,
};
use serde_json::{json, Value};

pub const KEY: &str = "telegram";

/// The secret Telegram echoes in `X-Telegram-Bot-Api-Secret-Token`; patchbay makes it.
pub const WEBHOOK_SECRET: &str = "webhook_secret";

/// Telegram lets bots download files up to 20 MB.
pub const MAX_DOWNLOAD: u64 = 20 * 1024 * 1024;
pub const DEFAULT_ATTACHMENT_LIMIT: u64 = 10 * 1024 * 1024;

pub const DEFAULT_UPDATES: &[&str] = &["message", "edited_message", "callback_query"];
const UPDATE_TYPES: &[&str] = &[
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "callback_query",
];

pub const DEFAULT_COMMANDS: &[(&str, &str)] = &[
    ("start", "Start talking to the bot"),
    ("help", "What the bot can do"),
    ("status", "Show the current status"),
    ("stop", "Stop the current task"),
    ("clear", "Clear the conversation"),
    ("refresh", "Refresh the data"),
    ("sessions", "List your sessions"),
];

/// The connection's attachment size limit (bytes).
pub fn max_attachment_bytes(config: &Value) -> u64 {
    config["max_attachment_bytes"]
        .as_u64()
        .unwrap_or(DEFAULT_ATTACHMENT_LIMIT)
        .min(MAX_DOWNLOAD)
}

/// The commands to register: the config's, else the defaults.
pub fn commands(config: &Value) -> Value {
    match config.get("commands") {
        Some(Value::Array(list)) => Value::Array(list.clone()),
        _ => DEFAULT_COMMANDS
            .iter()
            .map(|(c, d)| json!({"command": c, "description": d}))
            .collect(),
    }
}

pub fn allowed_updates(config: &Value) -> Value {
    match config.get("allowed_updates") {
        Some(Value::Array(list)) => Value::Array(list.clone()),
        _ => json!(DEFAULT_UPDATES),
    }
}

fn chat_id() -> Value {
    json!({"type": ["integer", "string"], "pattern": "^(-?[0-9]{1,20}|@[A-Za-z0-9_]{5,32})$",
           "description": "A chat id, or @channelusername"})
}

fn reply_markup() -> Value {
    json!({
        "type": "object",
        "description": "An inline keyboard: rows of buttons with text and callback_data or url",
        "required": ["inline_keyboard"],
        "properties": {"inline_keyboard": {"type": "array", "maxItems": 100, "items": {
            "type": "array", "maxItems": 8, "items": {
                "type": "object", "required": ["text"],
                "properties": {
                    "text": {"type": "string", "minLength": 1, "maxLength": 256},
                    "callback_data": {"type": "string", "minLength": 1, "maxLength": 64},
                    "url": {"type": "string", "format": "uri"}
                }
            }}}},
        "additionalProperties": false
    })
}

fn format() -> Value {
    json!({"type": "string", "enum": ["markdown", "html", "text"], "default": "markdown",
           "description": "How `text` is written: Markdown (converted to Telegram HTML), Telegram HTML as is, or plain text"})
}

fn file_input(field: &str) -> Value {
    json!({
        "type": "object",
        "required": ["chat_id"],
        "properties": {
            "chat_id": chat_id(),
            format!("{field}_base64"): {"type": "string", "minLength": 1, "description": "The file's bytes, base64"},
            format!("{field}_url"): {"type": "string", "format": "uri", "description": "Telegram fetches the file from this URL"},
            "file_id": {"type": "string", "minLength": 1, "description": "A file Telegram already has"},
            "filename": {"type": "string", "minLength": 1, "maxLength": 255},
            "content_type": {"type": "string", "minLength": 3, "maxLength": 127},
            "caption": {"type": "string", "maxLength": 4096},
            "format": format(),
            "reply_to_message_id": {"type": "integer"},
            "reply_markup": reply_markup()
        },
        "additionalProperties": false
    })
}

fn actions() -> Vec<ActionSpec> {
    let action = |key: &str, description: &str, input_schema: Value| ActionSpec {
        key: key.into(),
        description: description.into(),
        input_schema,
    };
    vec![
        action(
            "send_message",
            "Send a message; Markdown is converted to Telegram HTML and long texts are sent as several messages",
            json!({
                "type": "object", "required": ["chat_id", "text"],
                "properties": {
                    "chat_id": chat_id(),
                    "text": {"type": "string", "minLength": 1, "maxLength": 100000},
                    "format": format(),
                    "reply_to_message_id": {"type": "integer"},
                    "reply_markup": reply_markup(),
                    "disable_notification": {"type": "boolean"}
                },
                "additionalProperties": false
            }),
        ),
        action("send_photo", "Send a photo (uploaded bytes, a URL or a file_id) with a caption", file_input("photo")),
        action("send_document", "Send a file (uploaded bytes, a URL or a file_id) with a caption", file_input("document")),
        action(
            "edit_message",
            "Replace the text of a message the bot sent",
            json!({
                "type": "object", "required": ["chat_id", "message_id", "text"],
                "properties": {
                    "chat_id": chat_id(),
                    "message_id": {"type": "integer"},
                    "text": {"type": "string", "minLength": 1, "maxLength": 20000},
                    "format": format(),
                    "reply_markup": reply_markup()
                },
                "additionalProperties": false
            }),
        ),
        action(
            "answer_callback_query",
            "Answer an inline keyboard button press (a notification or alert for the user)",
            json!({
                "type": "object", "required": ["callback_query_id"],
                "properties": {
                    "callback_query_id": {"type": "string", "minLength": 1, "maxLength": 64},
                    "text": {"type": "string", "maxLength": 200},
                    "show_alert": {"type": "boolean"},
                    "url": {"type": "string", "format": "uri"},
                    "cache_time": {"type": "integer", "minimum": 0, "maximum": 86400}
                },
                "additionalProperties": false
            }),
        ),
    ]
}

pub fn spec() -> ConnectorSpec {
    let entity = |key: &str, description: &str| EntitySpec {
        key: key.into(),
        description: description.into(),
        incremental: false,
    };
    ConnectorSpec {
        key: KEY.into(),
        name: "Telegram bot".into(),
        description: "A Telegram bot connected with its BotFather token: its webhook and \
                      commands are set up when the connection is enabled; messages, commands, \
                      media and button presses arrive as records, attachments and events; \
                      messages (Markdown converted to Telegram HTML), photos and files are sent \
                      as actions."
            .into(),
        category: "messaging".into(),
        direction: Direction::Bidirectional,
        mode: Mode::Push,
        auth: AuthKind::BotToken,
        capabilities: vec![Capability::Webhooks, Capability::Actions],
        entities: vec![
            entity("messages", "Messages the bot received, by `{chat_id}:{message_id}`; edits replace them. Written from webhook updates (bots cannot list history)."),
            entity("chats", "Chats the bot received messages in"),
            entity("callback_queries", "Inline keyboard button presses"),
        ],
        actions: actions(),
        data_endpoints: Vec::new(),
        config_schema: json!({
            "type": "object",
            "properties": {
                "base_url": {"type": "string", "title": "Bot API base URL", "format": "uri",
                    "description": "Overrides the catalog's Bot API address (https://api.telegram.org), e.g. a local Bot API server"},
                "webhook": {"type": "boolean", "default": true,
                    "description": "Set the bot's webhook to patchbay while the connection is enabled"},
                "allowed_updates": {"type": "array", "uniqueItems": true,
                    "items": {"type": "string", "enum": UPDATE_TYPES},
                    "description": "Update types Telegram sends (default message, edited_message, callback_query)"},
                "commands": {"type": "array", "maxItems": 100, "items": {
                    "type": "object", "required": ["command", "description"],
                    "properties": {
                        "command": {"type": "string", "pattern": "^[a-z0-9_]{1,32}$"},
                        "description": {"type": "string", "minLength": 1, "maxLength": 256}
                    },
                    "additionalProperties": false
                }, "description": "The bot's command menu (default /start /help /status /stop /clear /refresh /sessions)"},
                "max_attachment_bytes": {"type": "integer", "minimum": 1, "maximum": MAX_DOWNLOAD,
                    "description": "Larger media are recorded but not downloaded (default 10 MB; Telegram's limit is 20 MB)"}
            },
            "additionalProperties": false
        }),
        secrets_schema: json!({
            "type": "object",
            "required": ["bot_token"],
            "properties": {
                "bot_token": {"type": "string", "minLength": 3, "maxLength": 256,
                    "description": "The token BotFather gave, <bot id>:<secret>"},
                WEBHOOK_SECRET: {"type": "string", "minLength": 16, "maxLength": 256,
                    "description": "Made by patchbay when the webhook is set; Telegram echoes it on every update"}
            },
            "additionalProperties": false
        }),
        account_field: None,
        webhook_scheme: Some(WebhookScheme::TelegramSecretToken),
        webhook_secret_field: Some(WEBHOOK_SECRET.into()),
    }
}

pub fn validate_rules(input: &ValidationInput<'_>) -> Vec<FieldError> {
    let mut errors: Vec<FieldError> = check_base_url(input.config, "base_url")
        .into_iter()
        .collect();
    if let Some(token) = input.secrets.get("bot_token") {
        if !token_shape_ok(token.expose()) {
            errors.push(FieldError::new(
                "secrets.bot_token",
                "format",
                "a bot token has the form <bot id>:<secret> (digits, a colon, then letters, digits, '_' or '-')",
            ));
        }
    }
    if let Some(secret) = input.secrets.get(WEBHOOK_SECRET) {
        let ok = secret
            .expose()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            errors.push(FieldError::new(
                format!("secrets.{WEBHOOK_SECRET}"),
                "format",
                "Telegram allows only A-Z, a-z, 0-9, '_' and '-' in a webhook secret",
            ));
        }
    }
    errors
}
