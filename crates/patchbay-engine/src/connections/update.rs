//! Updating connections: name, config (merge patch), secrets (rotate or remove), sync
//! frequency and lifecycle moves, with optimistic concurrency; drift marks.

use super::create::{check_secret_names, configured_account};
use super::Connections;
use super::{connection_event, merge_patch, OWNER_TYPE};
use crate::auth::{activity_row, Caller};
use crate::error::{EngineError, Result};
use crate::views::ConnectionView;
use crate::Change;
use patchbay_core::{
    now_ms, validate_connection, AuthKind, FieldError, Health, Lifecycle, Secret, ValidationInput,
};
use patchbay_store::{ConnectionWrite, StoreError};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchConnection {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: Option<String>,
    /// A JSON merge patch over the stored config (`null` removes a field).
    #[schema(value_type = Option<Object>, required = false)]
    pub config: Option<Value>,
    /// New secret values (rotation); `null` removes a secret.
    #[schema(value_type = Option<BTreeMap<String, Option<String>>>, required = false)]
    pub secrets: Option<BTreeMap<String, Option<Secret>>>,
    pub lifecycle: Option<Lifecycle>,
    /// `manual`, an interval such as `15m`, or a 5-field cron expression.
    pub sync_frequency: Option<String>,
}

impl Connections {
    pub async fn patch_connection(
        &self,
        caller: &Caller,
        id: &str,
        req: PatchConnection,
    ) -> Result<ConnectionView> {
        let out = self.patch_connection_now(caller, id, req).await;
        // Copies of the connection (the proxy's) are stale now.
        self.ctx.changed(Change::Connection(id));
        out
    }

    async fn patch_connection_now(
        &self,
        caller: &Caller,
        id: &str,
        req: PatchConnection,
    ) -> Result<ConnectionView> {
        if matches!(caller, Caller::Integration { .. }) {
            return Err(EngineError::Forbidden(
                "integration keys cannot change connections".into(),
            ));
        }
        let row = self.ctx.load_connection(caller, id).await?;
        let current: Lifecycle = row.lifecycle.parse().map_err(EngineError::BadRequest)?;
        let target = req.lifecycle.unwrap_or(current);
        if target != current {
            current.transition(target)?;
        } else if current == Lifecycle::Revoked {
            return Err(EngineError::Conflict(
                "the connection is revoked; revoked is terminal".into(),
            ));
        }
        if target == Lifecycle::Revoked {
            let others = [
                ("name", req.name.is_some()),
                ("config", req.config.is_some()),
                ("secrets", req.secrets.is_some()),
                ("sync_frequency", req.sync_frequency.is_some()),
            ];
            let errs: Vec<FieldError> = others
                .iter()
                .filter(|(_, sent)| *sent)
                .map(|(field, _)| {
                    FieldError::new(
                        *field,
                        "not_with_revoke",
                        "revoking comes alone: send {\"lifecycle\": \"revoked\"} without other fields",
                    )
                })
                .collect();
            if !errs.is_empty() {
                return Err(EngineError::Validation(errs));
            }
            return self.revoke(caller, row, current, None).await;
        }
        if let Some(err) = req
            .name
            .as_deref()
            .and_then(|n| crate::text::check_text("name", n, 200))
        {
            return Err(EngineError::Validation(vec![err]));
        }
        let connector = self.ctx.connector_for(&row)?;
        let spec = connector.spec();
        if let Some(secrets) = &req.secrets {
            let errs = check_secret_names(spec, secrets.keys());
            if !errs.is_empty() {
                return Err(EngineError::Validation(errs));
            }
        }
        let mut config: Value = serde_json::from_str(&row.config).unwrap_or_else(|_| json!({}));
        if let Some(patch) = &req.config {
            if !patch.is_object() {
                return Err(EngineError::Validation(vec![FieldError::new(
                    "config",
                    "type",
                    "config must be a JSON object",
                )]));
            }
            merge_patch(&mut config, patch);
        }
        let existing = self.ctx.store().list_credentials(OWNER_TYPE, id).await?;
        let (mut secrets, open_errors) = self.ctx.open_secrets(&existing).await?;
        let mut removed = Vec::new();
        let mut rotated: BTreeMap<String, Secret> = BTreeMap::new();
        for (field, value) in req.secrets.iter().flatten() {
            match value {
                Some(s) => {
                    secrets.insert(field.clone(), s.clone());
                    rotated.insert(field.clone(), s.clone());
                }
                None => {
                    secrets.remove(field);
                    removed.push(field.clone());
                }
            }
        }
        let scope: Value = serde_json::from_str(&row.owner_scope).unwrap_or(Value::Null);
        let mut errors = validate_connection(
            connector.as_ref(),
            &ValidationInput {
                config: &config,
                secrets: &secrets,
                scope: &scope,
            },
        );
        // A stored secret that does not open matters unless this request replaces it.
        errors.extend(open_errors.into_iter().filter(|e| {
            let field = e.field.trim_start_matches("secrets.");
            !rotated.contains_key(field) && !removed.iter().any(|r| r == field)
        }));
        if target == Lifecycle::Enabled && !errors.is_empty() {
            return Err(EngineError::Validation(errors));
        }
        let mut fetched_token = None;
        if target == Lifecycle::Enabled && current != Lifecycle::Enabled {
            if spec.auth == AuthKind::Oauth2ClientCredentials
                && !secrets.contains_key("access_token")
            {
                let (expires, token) = self
                    .tokens
                    .client_credentials_token(&row.workspace_id, spec)
                    .await?;
                secrets.insert("access_token".into(), token);
                fetched_token = Some(expires);
            }
            self.verify_credentials(connector.as_ref(), &config, &secrets)
                .await?;
        }
        if fetched_token.is_some() {
            if let Some(token) = secrets.get("access_token") {
                rotated.insert("access_token".into(), token.clone());
            }
        }
        let actor = caller.actor();
        let ws = row.workspace_id.clone();
        let mut new = row.clone();
        new.name = req.name.clone().unwrap_or(new.name);
        new.config = config.to_string();
        // A config without the account field keeps the account found otherwise (an OAuth
        // connection's provider user id).
        if let Some(account) = configured_account(spec, &config) {
            new.account_id = account;
        }
        if let Some(f) = &req.sync_frequency {
            crate::sync::scheduler::parse_frequency(f).map_err(|m| {
                EngineError::Validation(vec![FieldError::new("sync_frequency", "format", m)])
            })?;
            if *f != new.sync_frequency {
                new.sync_frequency = f.trim().to_string();
                // The scheduler plans from scratch for the new frequency.
                new.next_sync_at = None;
            }
        }
        new.lifecycle = target.as_str().into();
        new.updated_at = now_ms();
        new.version = row.version + 1;
        if let Some(expires) = fetched_token {
            new.token_expires_at = expires;
        }
        // A config that satisfies the spec again ends a drift-degraded state.
        if errors.is_empty()
            && new.health == Health::Degraded.as_str()
            && is_drift(&new.health_reason)
        {
            new.health = Health::Healthy.as_str().into();
            new.health_reason = None;
        }
        let mut activity = Vec::new();
        let mut events = Vec::new();
        let config_changed =
            req.config.is_some() || req.name.is_some() || req.sync_frequency.is_some();
        if config_changed {
            let changed: Vec<&String> = req
                .config
                .as_ref()
                .and_then(Value::as_object)
                .map(|o| o.keys().collect())
                .unwrap_or_default();
            activity.push(activity_row(
                Some(&ws),
                Some(id),
                &actor,
                "connection.updated",
                json!({"config_fields": changed, "name": req.name}),
            ));
            events.push(connection_event(&new, "connection.updated", json!({})));
        }
        if !rotated.is_empty() || !removed.is_empty() {
            activity.push(activity_row(
                Some(&ws),
                Some(id),
                &actor,
                "connection.secrets_rotated",
                json!({"rotated": rotated.keys().collect::<Vec<_>>(), "removed": removed}),
            ));
            if !config_changed {
                events.push(connection_event(
                    &new,
                    "connection.updated",
                    json!({"secrets_rotated": true}),
                ));
            }
        }
        if target != current {
            activity.push(activity_row(
                Some(&ws),
                Some(id),
                &actor,
                &format!("connection.{target}"),
                json!({"from": current}),
            ));
            events.push(connection_event(
                &new,
                &format!("connection.{target}"),
                json!({"from": current}),
            ));
        }
        if new.health != row.health {
            events.push(connection_event(
                &new,
                "connection.health_changed",
                json!({"from": row.health}),
            ));
        }
        // New credentials may be another account's (another bot): the push subscription is
        // stopped with the old ones while they are still stored, and set up anew below.
        let webhook_secret = spec.webhook_secret_field.as_deref();
        let account_rotated = rotated
            .keys()
            .chain(removed.iter())
            .any(|k| Some(k.as_str()) != webhook_secret);
        if account_rotated {
            self.watches.stop(&row).await;
        }
        let rotated_refs: BTreeMap<String, &Secret> =
            rotated.iter().map(|(k, v)| (k.clone(), v)).collect();
        let credentials = self.ctx.seal_all(&ws, id, &existing, &rotated_refs)?;
        let write = ConnectionWrite {
            connection: Some(new.clone()),
            credentials,
            remove_credentials: removed,
            activity,
            events,
            ..Default::default()
        };
        let written = self
            .ctx
            .store()
            .update_connection(&write, row.version)
            .await
            .map_err(|e| match e {
                StoreError::Stale(_) => EngineError::Conflict(
                    "the connection was changed by another request; fetch it and try again".into(),
                ),
                StoreError::Unique { .. } => EngineError::Conflict(format!(
                    "a {} connection for owner '{}' and account '{}' already exists",
                    new.connector, new.owner_id, new.account_id
                )),
                other => other.into(),
            });
        if let Err(e) = written {
            if account_rotated {
                self.watches.reconcile(&row).await;
            }
            return Err(e);
        }
        self.watches.reconcile(&new).await;
        self.ctx.view_of(&new).await
    }
}

pub(crate) const DRIFT_PREFIX: &str = "config drift";

pub(crate) fn is_drift(reason: &Option<String>) -> bool {
    reason
        .as_deref()
        .is_some_and(|r| r.starts_with(DRIFT_PREFIX))
}
