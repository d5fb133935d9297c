//! What the API shows of stored rows: secrets only as hints, times as RFC 3339.

use patchbay_core::{ms_to_rfc3339, FieldError, Health, Lifecycle};
use patchbay_store::{ActivityRow, ConnectionRow, EventRow, PrincipalRow, WorkspaceRow};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkspaceView {
    pub id: String,
    pub name: String,
    pub created_at: String,
}

impl From<WorkspaceRow> for WorkspaceView {
    fn from(w: WorkspaceRow) -> Self {
        WorkspaceView {
            id: w.id,
            name: w.name,
            created_at: ms_to_rfc3339(w.created_at),
        }
    }
}

/// A new workspace and its secret key, shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedWorkspace {
    pub workspace: WorkspaceView,
    pub secret_key: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OwnerView {
    pub id: String,
    #[schema(value_type = Object)]
    pub scope: Value,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PrincipalView {
    pub id: String,
    pub subject: String,
    pub key_id: String,
    #[schema(value_type = Object)]
    pub scope: Value,
    pub action_keys: Vec<String>,
    pub created_at: String,
    pub rotated_at: Option<String>,
    pub last_used_at: Option<String>,
    pub grants: Vec<GrantView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GrantView {
    pub permission: String,
    pub resource: String,
}

impl PrincipalView {
    pub fn new(p: PrincipalRow, grants: Vec<GrantView>) -> Self {
        PrincipalView {
            id: p.id,
            subject: p.subject,
            key_id: p.key_id,
            scope: serde_json::from_str(&p.scope).unwrap_or(Value::Null),
            action_keys: serde_json::from_str(&p.action_keys).unwrap_or_default(),
            created_at: ms_to_rfc3339(p.created_at),
            rotated_at: p.rotated_at.map(ms_to_rfc3339),
            last_used_at: p.last_used_at.map(ms_to_rfc3339),
            grants,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConnectionView {
    pub id: String,
    pub workspace_id: String,
    pub connector: String,
    pub owner: OwnerView,
    pub account_id: String,
    pub name: String,
    #[schema(value_type = Object)]
    pub config: Value,
    /// Secret names with a hint such as `••••4f2a`; never the values.
    pub redacted_secrets: BTreeMap<String, String>,
    pub lifecycle: Lifecycle,
    pub allowed_transitions: Vec<Lifecycle>,
    pub health: Health,
    pub health_reason: Option<String>,
    /// Scopes the provider granted (OAuth connections); empty when it did not say.
    pub granted_scopes: Vec<String>,
    /// When the access token expires, for tokens that do.
    pub token_expires_at: Option<String>,
    /// What keeps this connection from being enabled, if anything.
    pub validation_errors: Vec<FieldError>,
    pub last_sync_at: Option<String>,
    pub last_tested_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl ConnectionView {
    pub fn new(
        row: &ConnectionRow,
        redacted_secrets: BTreeMap<String, String>,
        validation_errors: Vec<FieldError>,
    ) -> Self {
        let lifecycle: Lifecycle = row.lifecycle.parse().unwrap_or(Lifecycle::Draft);
        ConnectionView {
            id: row.id.clone(),
            workspace_id: row.workspace_id.clone(),
            connector: row.connector.clone(),
            owner: OwnerView {
                id: row.owner_id.clone(),
                scope: serde_json::from_str(&row.owner_scope).unwrap_or(Value::Null),
            },
            account_id: row.account_id.clone(),
            name: row.name.clone(),
            config: serde_json::from_str(&row.config).unwrap_or(Value::Null),
            redacted_secrets,
            lifecycle,
            allowed_transitions: lifecycle.next_states(),
            health: row.health.parse().unwrap_or(Health::Healthy),
            health_reason: row.health_reason.clone(),
            granted_scopes: row
                .granted_scopes
                .as_deref()
                .map(split_scopes)
                .unwrap_or_default(),
            token_expires_at: row.token_expires_at.map(ms_to_rfc3339),
            validation_errors,
            last_sync_at: row.last_sync_at.map(ms_to_rfc3339),
            last_tested_at: row.last_tested_at.map(ms_to_rfc3339),
            created_at: ms_to_rfc3339(row.created_at),
            updated_at: ms_to_rfc3339(row.updated_at),
        }
    }
}

/// Scopes as providers write them: separated by spaces (RFC 6749) or commas (GitHub, Todoist).
pub fn split_scopes(scopes: &str) -> Vec<String> {
    scopes
        .split([' ', ','])
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// A new connection with its integration principal key, shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedConnection {
    #[serde(flatten)]
    pub connection: ConnectionView,
    pub principal_key: String,
}

#[derive(Serialize, ToSchema)]
pub struct RotatedPrincipal {
    pub principal: PrincipalView,
    /// The new key, shown this once; the previous key no longer works.
    pub principal_key: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActivityView {
    pub id: String,
    pub workspace_id: Option<String>,
    pub connection_id: Option<String>,
    pub actor: String,
    pub action: String,
    #[schema(value_type = Object)]
    pub details: Value,
    pub created_at: String,
}

impl From<ActivityRow> for ActivityView {
    fn from(a: ActivityRow) -> Self {
        ActivityView {
            id: a.id,
            workspace_id: a.workspace_id,
            connection_id: a.connection_id,
            actor: a.actor,
            action: a.action,
            details: serde_json::from_str(&a.details).unwrap_or(Value::Null),
            created_at: ms_to_rfc3339(a.created_at),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventView {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub connection_id: Option<String>,
    #[schema(value_type = Object)]
    pub data: Value,
    pub created_at: String,
}

impl From<EventRow> for EventView {
    fn from(e: EventRow) -> Self {
        EventView {
            id: e.id,
            event_type: e.event_type,
            connection_id: e.connection_id,
            data: serde_json::from_str(&e.payload).unwrap_or(Value::Null),
            created_at: ms_to_rfc3339(e.created_at),
        }
    }
}

/// A page of a list: `next_cursor` is absent on the last page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched items, so the cursor is set only when more exist.
    pub fn from_overfetch(mut items: Vec<T>, limit: i64, cursor_of: impl Fn(&T) -> String) -> Self {
        let more = items.len() as i64 > limit;
        items.truncate(limit as usize);
        let next_cursor = if more {
            items.last().map(cursor_of)
        } else {
            None
        };
        Page {
            data: items,
            next_cursor,
        }
    }
}

// Keys shown once must not reach a log through `{:?}`.
impl std::fmt::Debug for CreatedWorkspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedWorkspace")
            .field("workspace", &self.workspace)
            .field("secret_key", &"[redacted]")
            .finish()
    }
}

impl std::fmt::Debug for CreatedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedConnection")
            .field("connection", &self.connection)
            .field("principal_key", &"[redacted]")
            .finish()
    }
}

impl std::fmt::Debug for RotatedPrincipal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RotatedPrincipal")
            .field("principal", &self.principal)
            .field("principal_key", &"[redacted]")
            .finish()
    }
}
