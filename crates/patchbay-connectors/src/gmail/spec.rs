//! What the Gmail connector declares: entities, actions with their input schemas, signals and
//! configuration.

use crate::common::check_base_url;
use patchbay_core::{
    ActionSpec, AuthKind, Capability, ConnectorSpec, Direction, EntitySpec, FieldError, Mode,
    ValidationInput, WebhookScheme,
};
use serde_json::{json, Value};

/// The connector's key, which is also its provider catalog entry.
pub const KEY: &str = "google-mail";

fn addresses_schema() -> Value {
    json!({
        "type": "array",
        "maxItems": 100,
        "items": {"type": "string", "minLength": 3, "maxLength": 320,
                  "description": "an address, or a display name and an address: 'Ada <ada@example.com>'"}
    })
}

fn attachments_schema() -> Value {
    json!({
        "type": "array",
        "maxItems": 20,
        "items": {
            "type": "object",
            "required": ["filename", "mime_type", "content_base64"],
            "properties": {
                "filename": {"type": "string", "minLength": 1, "maxLength": 255},
                "mime_type": {"type": "string", "minLength": 3, "maxLength": 255},
                "content_base64": {"type": "string", "maxLength": 26_000_000}
            },
            "additionalProperties": false
        }
    })
}

/// The fields of a message to write (send, draft).
fn compose_properties() -> Value {
    json!({
        "to": addresses_schema(),
        "cc": addresses_schema(),
        "bcc": addresses_schema(),
        "subject": {"type": "string", "maxLength": 998},
        "text": {"type": "string", "maxLength": 5_000_000},
        "html": {"type": "string", "maxLength": 5_000_000},
        "attachments": attachments_schema()
    })
}

fn label_list(description: &str) -> Value {
    json!({"type": "array", "maxItems": 20, "description": description,
           "items": {"type": "string", "minLength": 1, "maxLength": 256}})
}

fn object(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "required": required, "properties": properties,
           "additionalProperties": false})
}

fn id_schema(field: &str) -> Value {
    object(
        &[field],
        json!({ field: {"type": "string", "minLength": 1, "maxLength": 128} }),
    )
}

fn action(key: &str, description: &str, input_schema: Value) -> ActionSpec {
    ActionSpec {
        key: key.into(),
        description: description.into(),
        input_schema,
    }
}

fn entity(key: &str, description: &str, incremental: bool) -> EntitySpec {
    EntitySpec {
        key: key.into(),
        description: description.into(),
        incremental,
    }
}

pub fn spec() -> ConnectorSpec {
    let mut send = compose_properties();
    send["thread_id"] = json!({"type": "string", "minLength": 1, "maxLength": 128});
    let mut draft_update = compose_properties();
    draft_update["draft_id"] = json!({"type": "string", "minLength": 1, "maxLength": 128});
    ConnectorSpec {
        key: KEY.into(),
        name: "Gmail".into(),
        description: "Gmail, connected with Google OAuth: messages, threads, labels and drafts \
                      synced (incrementally through the mailbox history), unread mail as \
                      signals, and sending, replying, drafting, labelling and searching."
            .into(),
        category: "email".into(),
        direction: Direction::Bidirectional,
        mode: Mode::Pull,
        auth: AuthKind::Oauth2,
        capabilities: vec![
            Capability::Sync,
            Capability::Actions,
            Capability::Signals,
            Capability::Proxy,
            Capability::Webhooks,
        ],
        entities: vec![
            entity(
                "messages",
                "Messages with headers, addresses, decoded text and HTML bodies, labels and \
                 attachment metadata. Incremental runs read the mailbox history.",
                true,
            ),
            entity(
                "threads",
                "Threads with their snippet and latest historyId. Incremental runs read the \
                 threads the mailbox history touched.",
                true,
            ),
            entity("labels", "System and user labels with their counts.", false),
            entity("drafts", "Drafts with their message.", false),
        ],
        actions: vec![
            action(
                "search",
                "Search the mailbox live with Gmail's query syntax; ids and snippets",
                object(
                    &["q"],
                    json!({"q": {"type": "string", "minLength": 1, "maxLength": 1000},
                           "max_results": {"type": "integer", "minimum": 1, "maximum": 100}}),
                ),
            ),
            action(
                "get_thread",
                "A thread with every message",
                id_schema("thread_id"),
            ),
            action(
                "send_email",
                "Send a message: text and/or HTML, attachments, optionally in a thread",
                object(&["to"], send),
            ),
            action(
                "reply_to_thread",
                "Reply to a thread's last message (In-Reply-To, References, 'Re:' once)",
                object(
                    &["thread_id"],
                    json!({"thread_id": {"type": "string", "minLength": 1, "maxLength": 128},
                           "text": {"type": "string", "maxLength": 5_000_000},
                           "html": {"type": "string", "maxLength": 5_000_000},
                           "reply_all": {"type": "boolean"},
                           "attachments": attachments_schema()}),
                ),
            ),
            action(
                "create_draft",
                "Create a draft",
                object(&[], compose_properties()),
            ),
            action(
                "update_draft",
                "Replace a draft's message",
                object(&["draft_id"], draft_update),
            ),
            action("send_draft", "Send a draft", id_schema("draft_id")),
            action(
                "modify_labels",
                "Add or remove labels; mark read or unread, archive",
                object(
                    &["message_id"],
                    json!({"message_id": {"type": "string", "minLength": 1, "maxLength": 128},
                           "add": {"type": "array", "maxItems": 100, "items": {"type": "string", "minLength": 1, "maxLength": 256}},
                           "remove": {"type": "array", "maxItems": 100, "items": {"type": "string", "minLength": 1, "maxLength": 256}},
                           "mark_read": {"type": "boolean"},
                           "archive": {"type": "boolean"}}),
                ),
            ),
            action(
                "get_attachment",
                "An attachment's bytes as base64, up to max_bytes (default 10 MB)",
                object(
                    &["message_id", "attachment_id"],
                    json!({"message_id": {"type": "string", "minLength": 1, "maxLength": 128},
                           "attachment_id": {"type": "string", "minLength": 1, "maxLength": 1024},
                           "max_bytes": {"type": "integer", "minimum": 1, "maximum": 26_214_400}}),
                ),
            ),
            action(
                "trash",
                "Move a message to the trash",
                id_schema("message_id"),
            ),
        ],
        data_endpoints: vec![],
        config_schema: json!({
            "type": "object",
            "properties": {
                "base_url": {
                    "type": "string", "title": "API base URL", "format": "uri",
                    "description": "Overrides the catalog's Gmail API address (https://gmail.googleapis.com)"
                },
                "query": {
                    "type": "string", "maxLength": 1000, "title": "Sync query",
                    "description": "Gmail search syntax limiting what syncs, e.g. newer_than:90d"
                },
                "label_ids": label_list("Only messages with all of these labels sync"),
                "format": {
                    "type": "string", "enum": ["full", "metadata"],
                    "description": "full (bodies and attachments) or metadata (headers only); default full"
                },
                "mail_context": {
                    "type": "boolean",
                    "description": "Read people, calendar invites and action items from synced mail (default true)"
                },
                "fetch_concurrency": {
                    "type": "integer", "minimum": 1, "maximum": 20,
                    "description": "Messages fetched at once during a sync (default 8)"
                },
                "push_topic": {
                    "type": "string", "maxLength": 255, "title": "Pub/Sub topic",
                    "pattern": "^projects/[^/]+/topics/[^/]+$",
                    "description": "projects/P/topics/T: Gmail publishes mailbox changes there (users.watch, renewed before it lapses); a push subscription to this connection's webhook URL then triggers incremental syncs"
                },
                "push_label_ids": label_list("Only changes to messages with one of these labels are published (default: every change)"),
                "push_audience": {
                    "type": "string", "maxLength": 2048,
                    "description": "The audience the push subscription's OIDC token carries (default: this connection's webhook URL)"
                },
                "push_service_account": {
                    "type": "string", "maxLength": 320,
                    "description": "The service account the subscription pushes as; tokens from any other are refused"
                }
            },
            "additionalProperties": false
        }),
        secrets_schema: crate::todoist::oauth_secrets_schema(),
        account_field: None,
        // Pub/Sub push, verified by its Google-signed token; there is no shared secret.
        webhook_scheme: Some(WebhookScheme::PubsubOidc),
        webhook_secret_field: None,
    }
}

pub fn validate_rules(input: &ValidationInput<'_>) -> Vec<FieldError> {
    check_base_url(input.config, "base_url")
        .into_iter()
        .collect()
}
