//! Revoking (terminal, drops secrets, keeps the row) and deleting connections, with RFC 7009
//! revocation at the provider for OAuth grants.

use super::Connections;
use super::{connection_event, OWNER_TYPE};
use crate::auth::{activity_row, Caller};
use crate::error::{EngineError, Result};
use crate::views::ConnectionView;
use crate::Change;
use patchbay_core::{now_ms, Lifecycle};
use patchbay_store::{ConnectionRow, ConnectionWrite, StoreError};
use serde_json::json;

impl Connections {
    /// Revokes: terminal, drops every secret and makes the principal key unusable, keeps the
    /// row and its audit trail. Needs neither the connector nor the secrets to open.
    pub(super) async fn revoke(
        &self,
        caller: &Caller,
        row: ConnectionRow,
        from: Lifecycle,
        name: Option<String>,
    ) -> Result<ConnectionView> {
        // Stopped while the credentials to stop it still exist.
        self.watches.stop(&row).await;
        let existing = self
            .ctx
            .store()
            .list_credentials(OWNER_TYPE, &row.id)
            .await?;
        let mut new = row.clone();
        new.name = name.unwrap_or(new.name);
        new.lifecycle = Lifecycle::Revoked.as_str().into();
        new.updated_at = now_ms();
        new.version = row.version + 1;
        let write = ConnectionWrite {
            connection: Some(new.clone()),
            remove_credentials: existing.iter().map(|c| c.field.clone()).collect(),
            revoke_principal: true,
            activity: vec![activity_row(
                Some(&row.workspace_id),
                Some(&row.id),
                &caller.actor(),
                "connection.revoked",
                json!({"from": from, "secrets_removed": existing.iter().map(|c| &c.field).collect::<Vec<_>>()}),
            )],
            events: vec![connection_event(
                &new,
                "connection.revoked",
                json!({"from": from}),
            )],
            ..Default::default()
        };
        self.ctx
            .store()
            .update_connection(&write, row.version)
            .await
            .map_err(|e| match e {
                StoreError::Stale(_) | StoreError::Unique { .. } => EngineError::Conflict(
                    "the connection was changed by another request; fetch it and try again".into(),
                ),
                other => other.into(),
            })?;
        self.ctx.view_of(&new).await
    }

    pub async fn delete_connection(&self, caller: &Caller, id: &str) -> Result<()> {
        let out = self.delete_connection_now(caller, id).await;
        self.ctx.changed(Change::Connection(id));
        // Its principal key is gone.
        self.ctx.changed(Change::Keys);
        out
    }

    async fn delete_connection_now(&self, caller: &Caller, id: &str) -> Result<()> {
        if matches!(caller, Caller::Integration { .. }) {
            return Err(EngineError::Forbidden(
                "integration keys cannot delete connections".into(),
            ));
        }
        let row = self.ctx.load_connection(caller, id).await?;
        self.watches.stop(&row).await;
        let revoked = self.revoke_at_provider(&row).await;
        let activity = activity_row(
            Some(&row.workspace_id),
            Some(id),
            &caller.actor(),
            "connection.deleted",
            json!({"connector": row.connector, "revoked_at_provider": revoked}),
        );
        let event = connection_event(&row, "connection.deleted", json!({}));
        self.ctx
            .store()
            .delete_connection(id, &activity, &event)
            .await?;
        Ok(())
    }
}

impl Connections {
    /// RFC 7009 revocation of an OAuth connection's grant, best-effort: the refresh token if
    /// there is one (revoking it ends the whole grant), else the access token. Returns whether
    /// the provider confirmed it; failures are logged and never block the deletion.
    async fn revoke_at_provider(&self, row: &ConnectionRow) -> bool {
        let Ok(provider) = self.ctx.oauth_provider(&row.connector).cloned() else {
            return false;
        };
        let Ok((_, app)) = self.ctx.oauth_app(&row.workspace_id, &provider.key).await else {
            return false;
        };
        let Ok(creds) = self.ctx.store().list_credentials(OWNER_TYPE, &row.id).await else {
            return false;
        };
        let (secrets, _) = match self.ctx.open_secrets(&creds).await {
            Ok(s) => s,
            Err(_) => return false,
        };
        let target = secrets
            .get("refresh_token")
            .map(|t| (t, "refresh_token"))
            .or_else(|| secrets.get("access_token").map(|t| (t, "access_token")));
        let Some((token, hint)) = target else {
            return false;
        };
        // A token granted on the user's behalf (Slack's user token) is a grant of its own.
        if let Some(user) = secrets.get(crate::oauth::callback::USER_TOKEN) {
            if let Err(e) = self
                .tokens
                .client()
                .revoke(&provider, &app, user, "access_token")
                .await
            {
                tracing::warn!(connection = %row.id, error = %e, "revoking the user token failed; deleting anyway");
            }
        }
        match self
            .tokens
            .client()
            .revoke(&provider, &app, token, hint)
            .await
        {
            Ok(done) => done,
            Err(e) => {
                tracing::warn!(connection = %row.id, error = %e, "revocation at the provider failed; deleting anyway");
                false
            }
        }
    }
}
