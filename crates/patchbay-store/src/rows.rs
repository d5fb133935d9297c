//! Rows as stored. JSON columns are text on both backends; times are epoch milliseconds.

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct WorkspaceRow {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

/// An API key as stored: only its SHA-256 and a short prefix for recognition.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub prefix: String,
    pub key_hash: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ConnectionRow {
    pub id: String,
    pub workspace_id: String,
    pub connector: String,
    pub owner_id: String,
    pub owner_scope: String,
    pub account_id: String,
    pub name: String,
    pub config: String,
    pub lifecycle: String,
    pub health: String,
    pub health_reason: Option<String>,
    pub last_sync_at: Option<i64>,
    pub last_tested_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Bumped on every update; writers compare it to detect concurrent changes.
    pub version: i64,
    /// When the stored access token expires (OAuth connections).
    pub token_expires_at: Option<i64>,
    /// Scopes the provider granted, space-separated.
    pub granted_scopes: Option<String>,
    /// Non-secret facts from the provider (e.g. a Slack team id), JSON.
    pub metadata: String,
    /// `manual`, an interval such as `15m`, or a cron expression.
    pub sync_frequency: String,
    pub next_sync_at: Option<i64>,
    /// Consecutive failed sync runs.
    pub sync_failures: i64,
}

/// One sealed secret. `owner_type`/`owner_id` say what it belongs to (a connection, later an
/// OAuth app or a subscription); `field` is the secret's name.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct CredentialRow {
    pub id: String,
    pub workspace_id: String,
    pub owner_type: String,
    pub owner_id: String,
    pub field: String,
    pub key_id: i64,
    pub ciphertext: Vec<u8>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct PrincipalRow {
    pub id: String,
    pub workspace_id: String,
    pub connection_id: String,
    pub subject: String,
    pub key_id: String,
    pub key_hash: String,
    pub scope: String,
    pub action_keys: String,
    pub created_at: i64,
    pub rotated_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct GrantRow {
    pub id: String,
    pub workspace_id: String,
    pub principal_id: String,
    pub connection_id: String,
    pub permission: String,
    pub resource: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ActivityRow {
    pub id: String,
    pub workspace_id: Option<String>,
    pub connection_id: Option<String>,
    pub actor: String,
    pub action: String,
    pub details: String,
    pub created_at: i64,
}

/// An outbox event, written in the same transaction as the change it reports.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Deserialize)]
pub struct EventRow {
    pub id: String,
    pub workspace_id: String,
    #[sqlx(rename = "type")]
    #[serde(rename = "type")]
    pub event_type: String,
    pub connection_id: Option<String>,
    pub payload: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct VaultKeyRow {
    pub id: i64,
    pub wrapped: Vec<u8>,
    pub active: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct OAuthAppRow {
    pub id: String,
    pub workspace_id: String,
    pub provider: String,
    pub client_id: String,
    pub scopes: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A connect session: the application asked for a user to connect an account.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ConnectSessionRow {
    pub id: String,
    pub workspace_id: String,
    pub token_hash: String,
    pub connector: String,
    pub owner_id: String,
    pub owner_scope: String,
    pub return_url: String,
    pub scopes: String,
    pub config: String,
    pub expires_at: i64,
    pub created_at: i64,
    /// The connectors the user may choose from, a JSON array; `None` on sessions made before
    /// sessions offered a choice (then only `connector`).
    pub allowed_connectors: Option<String>,
    /// When a connection came of the session; a used session connects nothing more.
    pub consumed_at: Option<i64>,
    /// Scopes asked on the user's behalf (Slack's `user_scope`), a JSON array; `None`: the
    /// provider's default user scopes.
    pub user_scopes: Option<String>,
}

/// A single-use OAuth `state`, stored as a hash and bound to its session.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct OAuthStateRow {
    pub id: String,
    pub state_hash: String,
    pub session_id: String,
    pub workspace_id: String,
    pub redirect_uri: String,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
    pub created_at: i64,
    /// The connector the user chose; `None` means the session's `connector`.
    pub connector: Option<String>,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct JobRow {
    pub id: String,
    pub kind: String,
    pub workspace_id: Option<String>,
    pub connection_id: Option<String>,
    pub unique_key: Option<String>,
    pub payload: String,
    pub status: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: i64,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SyncRunRow {
    pub id: String,
    pub workspace_id: String,
    pub connection_id: String,
    pub job_id: Option<String>,
    pub mode: String,
    pub entities: String,
    pub status: String,
    pub added: i64,
    pub updated: i64,
    pub deleted: i64,
    pub unchanged: i64,
    pub pages: i64,
    pub error: Option<String>,
    pub cancel_requested: bool,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub created_at: i64,
    /// What the connector said about the run, one note a line.
    pub notes: Option<String>,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SyncCursorRow {
    pub connection_id: String,
    pub entity: String,
    pub checkpoint: Option<String>,
    pub run_id: Option<String>,
    pub page_cursor: Option<String>,
    pub run_checkpoint: Option<String>,
    pub run_done: bool,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RecordRow {
    pub connection_id: String,
    pub entity: String,
    pub id: String,
    pub workspace_id: String,
    pub data: String,
    pub hash: String,
    pub deleted: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An inbound webhook as received.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct WebhookEventRow {
    pub id: String,
    pub workspace_id: String,
    pub connection_id: String,
    pub connector: String,
    pub delivery_id: String,
    pub headers: String,
    pub body: Vec<u8>,
    pub status: String,
    pub attempts: i64,
    pub error: Option<String>,
    pub lease_expires_at: Option<i64>,
    pub received_at: i64,
    pub processed_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SubscriptionRow {
    pub id: String,
    pub workspace_id: String,
    pub url: String,
    pub event_types: String,
    pub description: Option<String>,
    pub enabled: bool,
    pub cursor: Option<String>,
    pub consecutive_failures: i64,
    pub circuit_open_until: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Deserialize)]
pub struct DeliveryRow {
    pub id: String,
    pub workspace_id: String,
    pub subscription_id: String,
    pub event_id: String,
    pub connection_id: Option<String>,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_status_code: Option<i64>,
    pub last_latency_ms: Option<i64>,
    pub last_response: Option<String>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}
