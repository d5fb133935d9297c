//! Creating connections: validate owner, config and secrets, verify credentials when asked to
//! enable, seal the secrets and insert the row with its principal, grants, activity and event.

use super::Connections;
use super::{connection_event, hints, OWNER_TYPE};
use crate::auth::{
    activity_row, hash_key, random_key_id, random_token, Caller, PRINCIPAL_KEY_PREFIX,
};
use crate::error::{EngineError, Result};
use crate::views::{ConnectionView, CreatedConnection};
use crate::Context;
use patchbay_core::validation::scrub_secret_message;
use patchbay_core::{
    ids, now_ms, validate_connection, AuthKind, Connector, ConnectorContext, ConnectorSpec,
    FieldError, Health, Lifecycle, Secret, SecretMap, ValidationInput,
};
use patchbay_store::{
    ConnectionRow, ConnectionWrite, CredentialRow, GrantRow, PrincipalRow, StoreError,
};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerInput {
    /// The application's id for the user, team or object that owns the connection.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub id: String,
    /// Explicit scope, e.g. `{"type": "event", "id": "evt_1"}`; defaults to `{"type": "platform"}`.
    #[serde(default = "default_scope")]
    #[schema(value_type = Object)]
    pub scope: Value,
}

fn default_scope() -> Value {
    json!({"type": "platform"})
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnection {
    pub connector: String,
    pub owner: OwnerInput,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: Option<String>,
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub config: Value,
    /// Secret values by field name; stored encrypted, never returned.
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, String>)]
    pub secrets: BTreeMap<String, Secret>,
    /// Enable at once (refused with 422 while validation fails); otherwise a draft.
    #[serde(default)]
    pub enable: bool,
    /// Action keys the integration principal may run; all of the connector's by default.
    pub allowed_actions: Option<Vec<String>>,
    /// `manual` (default), an interval such as `15m`, or a 5-field cron expression.
    pub sync_frequency: Option<String>,
}

fn empty_object() -> Value {
    json!({})
}

pub(crate) fn check_owner(owner: &OwnerInput) -> Vec<FieldError> {
    let mut errs: Vec<FieldError> = crate::text::check_text("owner.id", &owner.id, 200)
        .into_iter()
        .collect();
    if let Some(scope) = owner.scope.as_object() {
        for (k, v) in scope {
            let field = format!("owner.scope.{k}");
            errs.extend(crate::text::check_no_control(&field, k));
            if let Some(text) = v.as_str() {
                errs.extend(crate::text::check_no_control(&field, text));
            }
        }
    }
    match owner.scope.get("type").and_then(Value::as_str) {
        Some(t) if !t.is_empty() => {}
        _ => errs.push(FieldError::new(
            "owner.scope.type",
            "required",
            "scope needs a type such as platform, workspace, occasion or event",
        )),
    }
    errs
}

/// Secrets must be declared by the connector: an undeclared name is a mistake, never stored.
pub(super) fn check_secret_names<'a>(
    spec: &ConnectorSpec,
    names: impl Iterator<Item = &'a String>,
) -> Vec<FieldError> {
    let known = spec.secret_fields();
    names
        .filter(|n| !known.contains(n))
        .map(|n| {
            FieldError::new(
                format!("secrets.{n}"),
                "unknown",
                format!(
                    "{} has no secret field '{n}'; known: {}",
                    spec.key,
                    known.join(", ")
                ),
            )
        })
        .collect()
}

pub(super) fn account_of(spec: &ConnectorSpec, config: &Value) -> String {
    configured_account(spec, config).unwrap_or_else(|| "default".to_string())
}

/// The account the config names through the spec's account field, if it names one.
pub(super) fn configured_account(spec: &ConnectorSpec, config: &Value) -> Option<String> {
    spec.account_field
        .as_deref()
        .and_then(|f| config.get(f))
        .and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
}

/// Sealing a connection's secrets, as creation and the OAuth callback do.
impl Context {
    pub(crate) fn seal_all(
        &self,
        ws: &str,
        conn_id: &str,
        existing: &[CredentialRow],
        secrets: &BTreeMap<String, &Secret>,
    ) -> Result<Vec<CredentialRow>> {
        let now = now_ms();
        secrets
            .iter()
            .map(|(field, secret)| {
                let prior = existing.iter().find(|c| &c.field == field);
                let id =
                    prior.map_or_else(|| ids::new_id(ids::IdKind::Credential), |c| c.id.clone());
                let (ciphertext, key_id) =
                    self.vault()
                        .seal_credential(&id, (OWNER_TYPE, conn_id), field, secret)?;
                Ok(CredentialRow {
                    id,
                    workspace_id: ws.to_string(),
                    owner_type: OWNER_TYPE.into(),
                    owner_id: conn_id.to_string(),
                    field: field.clone(),
                    key_id,
                    ciphertext,
                    created_at: prior.map_or(now, |c| c.created_at),
                    updated_at: now,
                })
            })
            .collect()
    }
}

impl Connections {
    pub async fn create_connection(
        &self,
        caller: &Caller,
        req: CreateConnection,
    ) -> Result<CreatedConnection> {
        let workspace_id = match caller {
            Caller::Workspace { workspace_id, .. } => workspace_id.clone(),
            Caller::Admin => {
                return Err(EngineError::BadRequest(
                    "use a workspace secret key to create connections".into(),
                ))
            }
            Caller::Integration { .. } => {
                return Err(EngineError::Forbidden(
                    "integration keys cannot create connections".into(),
                ))
            }
        };
        let connector = self.ctx.registry().get(&req.connector)?;
        let new = self
            .prepare_connection(connector.as_ref(), workspace_id, caller.actor(), &req)
            .await?;
        self.insert_new_connection(new).await
    }

    /// Everything creation does before writing: checks owner, config and secrets, and when
    /// `req.enable`, proves the credentials with the provider. Nothing is stored yet.
    pub(crate) async fn prepare_connection<'a>(
        &self,
        connector: &'a dyn Connector,
        workspace_id: String,
        actor: String,
        req: &CreateConnection,
    ) -> Result<NewConnection<'a>> {
        let spec = connector.spec();
        let mut hard = check_owner(&req.owner);
        if let Some(name) = &req.name {
            hard.extend(crate::text::check_text("name", name, 200));
        }
        hard.extend(check_secret_names(spec, req.secrets.keys()));
        if !req.config.is_object() {
            hard.push(FieldError::new(
                "config",
                "type",
                "config must be a JSON object",
            ));
        }
        if let Some(f) = &req.sync_frequency {
            if let Err(m) = crate::sync::scheduler::parse_frequency(f) {
                hard.push(FieldError::new("sync_frequency", "format", m));
            }
        }
        let allowed_actions = match &req.allowed_actions {
            None => spec.action_keys(),
            Some(keys) => {
                for k in keys.iter().filter(|k| spec.action(k).is_none()) {
                    hard.push(FieldError::new(
                        "allowed_actions",
                        "unknown",
                        format!(
                            "{} has no action '{k}'; known: {}",
                            spec.key,
                            spec.action_keys().join(", ")
                        ),
                    ));
                }
                keys.clone()
            }
        };
        if !hard.is_empty() {
            return Err(EngineError::Validation(hard));
        }
        let errors = validate_connection(
            connector,
            &ValidationInput {
                config: &req.config,
                secrets: &req.secrets,
                scope: &req.owner.scope,
            },
        );
        if req.enable && !errors.is_empty() {
            return Err(EngineError::Validation(errors));
        }
        let lifecycle = if req.enable {
            Lifecycle::Enabled
        } else {
            Lifecycle::Draft
        };
        let mut secrets = req.secrets.clone();
        let mut token_expires_at = None;
        let mut verified_account = None;
        if req.enable {
            // Credentials are proven before a connection is enabled.
            if spec.auth == AuthKind::Oauth2ClientCredentials {
                let (expires, token) = self
                    .tokens
                    .client_credentials_token(&workspace_id, spec)
                    .await?;
                token_expires_at = expires;
                secrets.insert("access_token".into(), token);
            }
            verified_account = self
                .verify_credentials(connector, &req.config, &secrets)
                .await?;
        }
        // The account the provider named, unless the connector reads it from config.
        let account_id = match (&spec.account_field, verified_account) {
            (None, Some(account)) if !account.is_empty() => account,
            _ => account_of(spec, &req.config),
        };
        Ok(NewConnection {
            workspace_id,
            actor,
            spec,
            owner_id: req.owner.id.clone(),
            owner_scope: req.owner.scope.clone(),
            name: req.name.clone(),
            config: req.config.clone(),
            secrets,
            lifecycle,
            allowed_actions,
            account_id,
            errors,
            token_expires_at,
            granted_scopes: None,
            metadata: json!({}),
            sync_frequency: req
                .sync_frequency
                .clone()
                .unwrap_or_else(|| "manual".into()),
        })
    }

    /// Calls the connector's own check with the given credentials; a failure is a field error.
    /// Returns the account the provider says the credentials belong to, if it says.
    pub(crate) async fn verify_credentials(
        &self,
        connector: &dyn Connector,
        config: &Value,
        secrets: &SecretMap,
    ) -> Result<Option<String>> {
        if matches!(connector.spec().auth, AuthKind::None) {
            return Ok(None);
        }
        let ctx = ConnectorContext {
            connection_id: String::new(),
            config: config.clone(),
            secrets: secrets.clone(),
        };
        let failure = match connector.test_connection(&ctx).await {
            Ok(outcome) if outcome.ok => return Ok(outcome.account),
            Ok(outcome) => outcome.message,
            Err(e) => e.to_string(),
        };
        Err(EngineError::Validation(vec![FieldError::new(
            "secrets",
            "verification_failed",
            format!(
                "the provider did not accept these credentials: {}",
                scrub_secret_message(&failure, secrets)
            ),
        )]))
    }

    /// Writes a new connection with its credentials, principal, grants, activity and events.
    pub(crate) async fn insert_new_connection(
        &self,
        n: NewConnection<'_>,
    ) -> Result<CreatedConnection> {
        let spec = n.spec;
        let workspace_id = n.workspace_id;
        let lifecycle = n.lifecycle;
        let now = now_ms();
        let id = ids::new_id(ids::IdKind::Connection);
        let row = ConnectionRow {
            id: id.clone(),
            workspace_id: workspace_id.clone(),
            connector: spec.key.clone(),
            owner_id: n.owner_id.clone(),
            owner_scope: n.owner_scope.to_string(),
            account_id: n.account_id.clone(),
            name: n.name.clone().unwrap_or_else(|| spec.name.clone()),
            config: n.config.to_string(),
            lifecycle: lifecycle.as_str().into(),
            health: Health::Healthy.as_str().into(),
            health_reason: None,
            last_sync_at: None,
            last_tested_at: None,
            created_at: now,
            updated_at: now,
            version: 1,
            token_expires_at: n.token_expires_at,
            granted_scopes: n.granted_scopes.clone(),
            metadata: n.metadata.to_string(),
            sync_frequency: n.sync_frequency.clone(),
            next_sync_at: None,
            sync_failures: 0,
        };
        let secrets: BTreeMap<String, &Secret> =
            n.secrets.iter().map(|(k, v)| (k.clone(), v)).collect();
        let credentials = self.ctx.seal_all(&workspace_id, &id, &[], &secrets)?;
        let principal_key = format!("{PRINCIPAL_KEY_PREFIX}{}", random_token());
        let principal = PrincipalRow {
            id: ids::new_id(ids::IdKind::Principal),
            workspace_id: workspace_id.clone(),
            connection_id: id.clone(),
            subject: format!("integration:{id}"),
            key_id: random_key_id(),
            key_hash: hash_key(&principal_key),
            scope: n.owner_scope.to_string(),
            action_keys: serde_json::to_string(&n.allowed_actions).unwrap_or_else(|_| "[]".into()),
            created_at: now,
            rotated_at: None,
            last_used_at: None,
        };
        let resource = format!("connection:{id}");
        let grant = |permission: String| GrantRow {
            id: ids::new_id(ids::IdKind::Grant),
            workspace_id: workspace_id.clone(),
            principal_id: principal.id.clone(),
            connection_id: id.clone(),
            permission,
            resource: resource.clone(),
            created_at: now,
        };
        let mut grants = vec![grant("connection:read".into())];
        grants.extend(
            n.allowed_actions
                .iter()
                .map(|a| grant(format!("action:{a}"))),
        );
        let actor = n.actor;
        let mut activity = vec![activity_row(
            Some(&workspace_id),
            Some(&id),
            &actor,
            "connection.created",
            json!({"connector": spec.key, "lifecycle": lifecycle, "account_id": row.account_id,
                   "secrets": secrets.keys().collect::<Vec<_>>(),
                   "principal": {"subject": principal.subject, "key_id": principal.key_id, "action_keys": n.allowed_actions}}),
        )];
        let mut events = vec![connection_event(&row, "connection.created", json!({}))];
        if lifecycle == Lifecycle::Enabled {
            activity.push(activity_row(
                Some(&workspace_id),
                Some(&id),
                &actor,
                "connection.enabled",
                json!({"from": "draft"}),
            ));
            events.push(connection_event(&row, "connection.enabled", json!({})));
        }
        let write = ConnectionWrite {
            connection: Some(row.clone()),
            credentials,
            principal: Some(principal),
            grants,
            activity,
            events,
            ..Default::default()
        };
        self.ctx
            .store()
            .insert_connection(&write)
            .await
            .map_err(|e| match e {
                StoreError::Unique { .. } => EngineError::Conflict(format!(
                    "a {} connection for owner '{}' and account '{}' already exists",
                    row.connector, row.owner_id, row.account_id
                )),
                other => other.into(),
            })?;
        self.watches.reconcile(&row).await;
        Ok(CreatedConnection {
            connection: ConnectionView::new(&row, hints(&n.secrets), n.errors),
            principal_key,
        })
    }
}

/// A connection about to be inserted, from the API or from an OAuth callback.
pub(crate) struct NewConnection<'a> {
    pub workspace_id: String,
    pub actor: String,
    pub spec: &'a ConnectorSpec,
    pub owner_id: String,
    pub owner_scope: Value,
    pub name: Option<String>,
    pub config: Value,
    pub secrets: SecretMap,
    pub lifecycle: Lifecycle,
    pub allowed_actions: Vec<String>,
    pub account_id: String,
    pub errors: Vec<FieldError>,
    pub token_expires_at: Option<i64>,
    pub granted_scopes: Option<String>,
    pub metadata: Value,
    pub sync_frequency: String,
}
