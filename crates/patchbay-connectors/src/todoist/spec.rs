//! What the Todoist connector declares: entities, actions, data endpoints, schemas.

use crate::common::check_base_url;
use patchbay_core::{
    ActionSpec, AuthKind, Capability, ConnectorSpec, DataEndpointSpec, DataShape, Direction,
    EntitySpec, FieldError, Mode, ValidationInput,
};
use serde_json::{json, Value};

pub const KEY: &str = "todoist";

/// Secret fields of OAuth connections: managed by patchbay, or imported once.
pub fn oauth_secrets_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "access_token": {"type": "string", "minLength": 1},
            "refresh_token": {"type": "string", "minLength": 1}
        },
        "additionalProperties": false
    })
}

fn task_id_schema() -> Value {
    json!({
        "type": "object",
        "required": ["task_id"],
        "properties": {"task_id": {"type": "string", "minLength": 1, "maxLength": 64}},
        "additionalProperties": false
    })
}

pub fn spec() -> ConnectorSpec {
    ConnectorSpec {
        key: KEY.into(),
        name: "Todoist".into(),
        description: "Todoist tasks and projects, connected with OAuth: sync, tasks due today \
                      and overdue as signals, and closing, reopening or creating tasks."
            .into(),
        category: "tasks".into(),
        direction: Direction::Bidirectional,
        mode: Mode::Pull,
        auth: AuthKind::Oauth2,
        capabilities: vec![
            Capability::Sync,
            Capability::Actions,
            Capability::Signals,
            Capability::Proxy,
            Capability::Data,
        ],
        entities: vec![
            EntitySpec {
                key: "tasks".into(),
                description: "Active (open) tasks. Always read in full: the task list of API \
                              v1 has no changed-since filter (Todoist's incremental path is \
                              its Sync endpoint, which this connector does not use)."
                    .into(),
                incremental: false,
            },
            EntitySpec {
                key: "projects".into(),
                description: "Projects, including the inbox. Always read in full.".into(),
                incremental: false,
            },
        ],
        actions: vec![
            ActionSpec {
                key: "close_task".into(),
                description: "Mark a task done; a recurring task moves to its next date".into(),
                input_schema: task_id_schema(),
            },
            ActionSpec {
                key: "reopen_task".into(),
                description: "Reopen a completed task".into(),
                input_schema: task_id_schema(),
            },
            ActionSpec {
                key: "create_task".into(),
                description: "Create a task, by default in the inbox".into(),
                input_schema: json!({
                    "type": "object",
                    "required": ["content"],
                    "properties": {
                        "content": {"type": "string", "minLength": 1, "maxLength": 500},
                        "due_string": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": 150,
                            "description": "Natural language, e.g. 'tomorrow' or 'every day'"
                        },
                        "priority": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": 4,
                            "description": "1 (normal) to 4 (urgent)"
                        },
                        "project_id": {"type": "string", "minLength": 1, "maxLength": 64}
                    },
                    "additionalProperties": false
                }),
            },
        ],
        data_endpoints: vec![
            DataEndpointSpec {
                key: "due_today".into(),
                description: "How many open tasks are due today".into(),
                shape: DataShape::Stat,
                ttl_seconds: 60,
            },
            DataEndpointSpec {
                key: "overdue".into(),
                description: "Open tasks past their due date".into(),
                shape: DataShape::Alert,
                ttl_seconds: 60,
            },
        ],
        config_schema: json!({
            "type": "object",
            "properties": {
                "base_url": {
                    "type": "string",
                    "title": "API base URL",
                    "description": "Overrides the catalog's Todoist API address (https://api.todoist.com)",
                    "format": "uri"
                }
            },
            "additionalProperties": false
        }),
        secrets_schema: oauth_secrets_schema(),
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
