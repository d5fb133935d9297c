//! What the GitHub connector declares, and its validation rules.

use crate::common::check_base_url;
use patchbay_core::{
    ActionSpec, AuthKind, Capability, ConnectorSpec, DataEndpointSpec, DataShape, Direction,
    EntitySpec, FieldError, Mode, ValidationInput, WebhookScheme,
};
use serde_json::{json, Value};

pub const KEY: &str = "github";

/// `owner/name` as GitHub allows them.
pub const REPO_PATTERN: &str = "^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$";

fn entity(key: &str, description: &str, incremental: bool) -> EntitySpec {
    EntitySpec {
        key: key.into(),
        description: description.into(),
        incremental,
    }
}

fn action(key: &str, description: &str, input_schema: Value) -> ActionSpec {
    ActionSpec {
        key: key.into(),
        description: description.into(),
        input_schema,
    }
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
    let repo = json!({"type": "string", "pattern": REPO_PATTERN, "description": "owner/name"});
    ConnectorSpec {
        key: KEY.into(),
        name: "GitHub".into(),
        description: "GitHub repositories, issues, pull requests and commits: sync, webhooks, \
                      issue and pull request actions, review signals and an authenticated proxy. \
                      Works with GitHub Enterprise Server through base_url."
            .into(),
        category: "developer".into(),
        direction: Direction::Bidirectional,
        mode: Mode::Both,
        auth: AuthKind::Oauth2,
        capabilities: vec![
            Capability::Sync,
            Capability::Webhooks,
            Capability::Actions,
            Capability::Proxy,
            Capability::Signals,
            Capability::Data,
        ],
        entities: vec![
            entity(
                "repositories",
                "Repositories the account can reach, by full name",
                false,
            ),
            entity(
                "issues",
                "Issues (not pull requests), by owner/repo/number",
                true,
            ),
            entity(
                "pull_requests",
                "Pull requests, by owner/repo/number; `state` is merged, closed, draft or open",
                true,
            ),
            entity(
                "commits",
                "Commits of each repository's default branch, by owner/repo/sha",
                true,
            ),
        ],
        actions: vec![
            action(
                "create_issue",
                "Open an issue",
                json!({
                    "type": "object",
                    "required": ["repository", "title"],
                    "properties": {
                        "repository": repo,
                        "title": {"type": "string", "minLength": 1},
                        "body": {"type": "string"},
                        "labels": {"type": "array", "items": {"type": "string"}},
                        "assignees": {"type": "array", "items": {"type": "string"}}
                    },
                    "additionalProperties": false
                }),
            ),
            action(
                "comment_on_issue",
                "Comment on an issue or pull request",
                json!({
                    "type": "object",
                    "required": ["repository", "number", "body"],
                    "properties": {
                        "repository": repo,
                        "number": {"type": "integer", "minimum": 1},
                        "body": {"type": "string", "minLength": 1}
                    },
                    "additionalProperties": false
                }),
            ),
            action(
                "create_pull_request",
                "Open a pull request; base defaults to the repository's default branch",
                json!({
                    "type": "object",
                    "required": ["repository", "title", "head"],
                    "properties": {
                        "repository": repo,
                        "title": {"type": "string", "minLength": 1},
                        "head": {"type": "string", "minLength": 1},
                        "base": {"type": "string", "minLength": 1},
                        "body": {"type": "string"},
                        "draft": {"type": "boolean"}
                    },
                    "additionalProperties": false
                }),
            ),
            action(
                "validate_repository",
                "Check that a repository exists and whether the account can push to it",
                json!({
                    "type": "object",
                    "properties": {
                        "repository": {"type": "string", "minLength": 3, "description": "owner/name"},
                        "url": {"type": "string", "minLength": 3, "description": "https://github.com/owner/name(.git)"}
                    },
                    "additionalProperties": false
                }),
            ),
        ],
        data_endpoints: vec![
            data(
                "open_pull_requests",
                "Open pull requests in the configured repositories, else authored by the account",
                DataShape::Stat,
                300,
            ),
            data(
                "rate_limit",
                "API requests left in the current rate-limit window",
                DataShape::Gauge,
                60,
            ),
            data(
                "review_requests",
                "Open pull requests waiting for the account's review",
                DataShape::List,
                120,
            ),
        ],
        config_schema: json!({
            "type": "object",
            "properties": {
                "base_url": {
                    "type": "string",
                    "title": "API base URL",
                    "description": "GitHub Enterprise Server, e.g. https://ghe.example.com/api/v3; defaults to api.github.com",
                    "format": "uri"
                },
                "repositories": {
                    "type": "array",
                    "title": "Repositories to sync",
                    "items": {"type": "string", "pattern": REPO_PATTERN},
                    "uniqueItems": true
                },
                "installation_id": {
                    "type": ["integer", "string"],
                    "minimum": 1,
                    "pattern": "^[1-9][0-9]{0,19}$",
                    "title": "GitHub App installation id",
                    "description": "Set for a GitHub App installation: the connection's account, to which deliveries to /v1/webhooks/github are routed by their installation.id"
                },
                "max_repositories": {"type": "integer", "minimum": 1, "maximum": 1000}
            },
            "additionalProperties": false
        }),
        secrets_schema: json!({
            "type": "object",
            "required": ["access_token"],
            "properties": {
                "access_token": {"type": "string", "minLength": 1, "title": "OAuth or personal access token"},
                "refresh_token": {"type": "string", "minLength": 1},
                "webhook_secret": {"type": "string", "minLength": 16, "title": "Webhook secret"}
            },
            "additionalProperties": false
        }),
        // Payload-routed deliveries carry `installation.id`; the account must match it.
        account_field: Some("installation_id".into()),
        webhook_scheme: Some(WebhookScheme::GithubHmacSha256),
        webhook_secret_field: Some("webhook_secret".into()),
    }
}

pub fn validate_rules(input: &ValidationInput<'_>) -> Vec<FieldError> {
    check_base_url(input.config, "base_url")
        .into_iter()
        .collect()
}
