//! Connections: creation, lifecycle transitions, updates with secret rotation, deletion,
//! tests against the provider, principals and config drift. Every change writes its activity and
//! outbox events in the same transaction.

mod create;
mod ops;
mod remove;
mod update;

pub(crate) use create::{check_owner, NewConnection};
pub use create::{CreateConnection, OwnerInput};
pub use update::PatchConnection;
pub(crate) use update::{is_drift, DRIFT_PREFIX};

use crate::auth::Caller;
use crate::error::{EngineError, Result};
use crate::oauth::Tokens;
use crate::views::{ConnectionView, Page};
use crate::Context;
use patchbay_core::{
    ids, now_ms, validate_connection, Connector, FieldError, Lifecycle, SecretMap, ValidationInput,
};
use patchbay_store::{ConnectionFilter, ConnectionRow, CredentialRow, EventRow};

use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub(crate) const OWNER_TYPE: &str = "connection";

/// Query filters of `GET /v1/connections`.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListConnections {
    pub owner_id: Option<String>,
    pub connector: Option<String>,
    pub lifecycle: Option<Lifecycle>,
    pub health: Option<patchbay_core::Health>,
    /// Page size, 1 to 500 (default 50).
    #[serde(default, deserialize_with = "crate::de_page_limit")]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Connections: the lifecycle and everything done to one connection.
#[derive(Clone)]
pub struct Connections {
    ctx: Context,
    tokens: Tokens,
    /// Push subscriptions follow the connection's config and lifecycle.
    watches: crate::webhooks::Watches,
}

impl Connections {
    pub(crate) fn new(ctx: Context, tokens: Tokens, watches: crate::webhooks::Watches) -> Self {
        Connections {
            ctx,
            tokens,
            watches,
        }
    }

    pub(crate) fn watches(&self) -> &crate::webhooks::Watches {
        &self.watches
    }

    pub async fn get_connection(&self, caller: &Caller, id: &str) -> Result<ConnectionView> {
        let row = self.ctx.load_connection(caller, id).await?;
        self.ctx.view_of(&row).await
    }

    pub async fn list_connections(
        &self,
        caller: &Caller,
        q: &ListConnections,
    ) -> Result<Page<ConnectionView>> {
        let limit = crate::page_limit(q.limit);
        let filter = ConnectionFilter {
            workspace_id: caller.workspace_id().map(str::to_string),
            owner_id: q.owner_id.clone(),
            connector: q.connector.clone(),
            lifecycle: q.lifecycle.map(|l| l.as_str().to_string()),
            health: q.health.map(|h| h.as_str().to_string()),
            after: q.cursor.clone(),
            limit: limit + 1,
        };
        if let Caller::Integration { .. } = caller {
            return Err(EngineError::Forbidden(
                "integration keys cannot list connections".into(),
            ));
        }
        let rows = self.ctx.store().list_connections(&filter).await?;
        // One read for the page's credentials rather than one per connection.
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let mut creds: HashMap<String, Vec<CredentialRow>> = HashMap::new();
        for c in self
            .ctx
            .store()
            .list_credentials_of(OWNER_TYPE, &ids)
            .await?
        {
            creds.entry(c.owner_id.clone()).or_default().push(c);
        }
        let mut views = Vec::with_capacity(rows.len());
        for row in &rows {
            let own = creds.remove(&row.id).unwrap_or_default();
            views.push(self.ctx.view_with(row, &own).await?);
        }
        Ok(Page::from_overfetch(views, limit, |v| v.id.clone()))
    }
}

/// Reading a connection as every capability does: tenancy, credentials, connector.
impl Context {
    /// A connection the caller may see; anything else is `NotFound` (never `Forbidden`), so ids
    /// of other workspaces stay invisible.
    pub(crate) async fn load_connection(&self, caller: &Caller, id: &str) -> Result<ConnectionRow> {
        if !ids::is_id(ids::IdKind::Connection, id) {
            return Err(EngineError::NotFound("connection"));
        }
        if let Caller::Integration { connection_id, .. } = caller {
            if connection_id != id {
                return Err(EngineError::NotFound("connection"));
            }
        }
        self.store()
            .get_connection(caller.workspace_id(), id)
            .await?
            .ok_or(EngineError::NotFound("connection"))
    }

    /// Opens every credential that opens; one that does not (tampered, moved to another row,
    /// sealed with a lost key) becomes a field error naming its row instead of failing the
    /// whole request, so the connection stays readable and the secret can be replaced.
    pub(crate) async fn open_secrets(
        &self,
        creds: &[CredentialRow],
    ) -> Result<(SecretMap, Vec<FieldError>)> {
        let mut out = SecretMap::new();
        let mut errors = Vec::new();
        for c in creds {
            match self.vault().open_credential(c).await {
                Ok(secret) => {
                    out.insert(c.field.clone(), secret);
                }
                Err(EngineError::Vault(e)) => {
                    tracing::error!(credential = %c.id, owner = %c.owner_id, field = %c.field, error = %e, "credential does not open");
                    errors.push(FieldError::new(
                        format!("secrets.{}", c.field),
                        "undecryptable",
                        e.to_string(),
                    ));
                }
                Err(other) => return Err(other),
            }
        }
        Ok((out, errors))
    }

    /// Validation errors of a stored connection against its connector's current spec.
    pub(crate) fn validate_row(
        &self,
        connector: &dyn Connector,
        row: &ConnectionRow,
        secrets: &SecretMap,
    ) -> Vec<FieldError> {
        let config: Value = serde_json::from_str(&row.config).unwrap_or(Value::Null);
        let scope: Value = serde_json::from_str(&row.owner_scope).unwrap_or(Value::Null);
        validate_connection(
            connector,
            &ValidationInput {
                config: &config,
                secrets,
                scope: &scope,
            },
        )
    }

    pub(crate) async fn view_of(&self, row: &ConnectionRow) -> Result<ConnectionView> {
        let creds = self.store().list_credentials(OWNER_TYPE, &row.id).await?;
        self.view_with(row, &creds).await
    }

    /// The view of `row` from its credentials, read already.
    pub(crate) async fn view_with(
        &self,
        row: &ConnectionRow,
        creds: &[CredentialRow],
    ) -> Result<ConnectionView> {
        let (secrets, mut errors) = self.open_secrets(creds).await?;
        match self.registry().get(&row.connector) {
            Ok(c) => errors.extend(self.validate_row(c.as_ref(), row, &secrets)),
            Err(e) => errors.push(FieldError::new("connector", "unknown", e.to_string())),
        }
        Ok(ConnectionView::new(row, hints(&secrets), errors))
    }

    pub(crate) fn connector_for(&self, row: &ConnectionRow) -> Result<Arc<dyn Connector>> {
        Ok(self.registry().get(&row.connector)?)
    }
}

/// Secret name → display hint, computed from the opened values: nothing of a secret is stored
/// in plaintext, not even its tail.
pub(crate) fn hints(secrets: &SecretMap) -> BTreeMap<String, String> {
    secrets.iter().map(|(k, v)| (k.clone(), v.hint())).collect()
}

/// An outbox event about a connection.
pub(crate) fn connection_event(row: &ConnectionRow, event_type: &str, extra: Value) -> EventRow {
    let mut data = serde_json::json!({
        "connection_id": row.id,
        "connector": row.connector,
        "owner_id": row.owner_id,
        "lifecycle": row.lifecycle,
        "health": row.health,
    });
    if let (Value::Object(d), Value::Object(e)) = (&mut data, extra) {
        d.extend(e);
    }
    EventRow {
        id: ids::new_id(ids::IdKind::Event),
        workspace_id: row.workspace_id.clone(),
        event_type: event_type.to_string(),
        connection_id: Some(row.id.clone()),
        payload: data.to_string(),
        created_at: now_ms(),
    }
}

/// RFC 7396 merge patch: objects merge, `null` removes, anything else replaces.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::merge_patch;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc7396() {
        let mut v = json!({"a": 1, "b": {"c": 2, "d": 3}});
        merge_patch(&mut v, &json!({"a": null, "b": {"c": 9}, "e": [1]}));
        assert_eq!(v, json!({"b": {"c": 9, "d": 3}, "e": [1]}));
    }
}
