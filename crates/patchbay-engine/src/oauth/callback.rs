//! The callback: check the single-use state, exchange the code (PKCE), find the provider
//! account, and create or update the connection; every failure creates nothing and sends the
//! browser back with an `error`.

use super::connect::{asked_scopes, config_for, with_query, STATE_OWNER};
use super::OAuth;
use crate::auth::{activity_row, hash_key};
use crate::connections::{connection_event, NewConnection, OWNER_TYPE};
use crate::error::{EngineError, Result};
use patchbay_connectors::oauth::{json_path, TokenSet};

/// The secret holding a token granted on the user's behalf (Slack's `authed_user`).
pub const USER_TOKEN: &str = "user_token";
use patchbay_connectors::providers::Provider;
use patchbay_core::{now_ms, validate_connection, Health, Lifecycle, SecretMap, ValidationInput};
use patchbay_store::{ConnectSessionRow, ConnectionRow, ConnectionWrite, StateClaim};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The OAuth callback's query.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    pub code: Option<String>,
    /// The single-use state patchbay sent to the provider.
    #[param(required = true, min_length = 1)]
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Where the callback sends the browser.
#[derive(Debug, PartialEq, Eq)]
pub enum CallbackOutcome {
    /// To the session's return URL, with `connection_id` or `error`.
    Redirect(String),
    /// No session could be found, so there is nowhere to send the browser.
    Fail { code: &'static str, message: String },
}

fn fail_redirect(session: &ConnectSessionRow, code: &str, description: &str) -> CallbackOutcome {
    CallbackOutcome::Redirect(with_query(
        &session.return_url,
        &[("error", code), ("error_description", description)],
    ))
}
impl OAuth {
    /// Finishes the flow. Every failure creates nothing and says why.
    pub async fn oauth_callback(&self, q: CallbackQuery) -> Result<CallbackOutcome> {
        let Some(state) = q.state.as_deref().filter(|s| !s.is_empty()) else {
            return Ok(CallbackOutcome::Fail {
                code: "missing_state",
                message: "the callback carries no state".into(),
            });
        };
        let (state_row, session) = match self
            .ctx
            .store()
            .consume_oauth_state(&hash_key(state), now_ms())
            .await?
        {
            StateClaim::Claimed(r, s) => (r, s),
            StateClaim::Replayed(_, s) => {
                return Ok(fail_redirect(
                    &s,
                    "state_replayed",
                    "this authorization was already used",
                ))
            }
            StateClaim::Expired(_, s) => {
                return Ok(fail_redirect(
                    &s,
                    "state_expired",
                    "the authorization took too long; start again",
                ))
            }
            StateClaim::Unknown => {
                return Ok(CallbackOutcome::Fail {
                    code: "unknown_state",
                    message: "the state is unknown or was tampered with".into(),
                })
            }
        };
        let verifier_creds = self
            .ctx
            .store()
            .list_credentials(STATE_OWNER, &state_row.id)
            .await?;
        let verifier = match verifier_creds.first() {
            Some(c) => Some(self.ctx.vault().open_credential(c).await?),
            None => None,
        };
        self.ctx
            .store()
            .delete_credentials(STATE_OWNER, &state_row.id)
            .await?;
        if let Some(error) = q.error.as_deref() {
            let description = q.error_description.as_deref().unwrap_or("");
            let code = if error == "access_denied" {
                "access_denied"
            } else {
                "provider_error"
            };
            let text = format!("{error}: {description}");
            return Ok(fail_redirect(&session, code, text.trim_end_matches(": ")));
        }
        let Some(code) = q.code.as_deref().filter(|c| !c.is_empty()) else {
            return Ok(fail_redirect(
                &session,
                "missing_code",
                "the provider sent neither a code nor an error",
            ));
        };
        // Older states carry no choice: the session's connector.
        let connector = state_row
            .connector
            .clone()
            .unwrap_or_else(|| session.connector.clone());
        let provider = match self.ctx.oauth_provider(&connector) {
            Ok(p) => p.clone(),
            Err(e) => return Ok(fail_redirect(&session, "exchange_failed", &e.to_string())),
        };
        let (app_row, app) = match self
            .ctx
            .oauth_app(&session.workspace_id, &provider.key)
            .await
        {
            Ok(found) => found,
            Err(e) => return Ok(fail_redirect(&session, "exchange_failed", &e.to_string())),
        };
        let tokens = match self
            .tokens
            .client()
            .exchange_code(
                &provider,
                &app,
                code,
                &state_row.redirect_uri,
                verifier.as_ref().map(|v| v.expose()),
            )
            .await
        {
            Ok(t) => t,
            Err(e) => return Ok(fail_redirect(&session, "exchange_failed", &e.to_string())),
        };
        let account = match self.account_of(&provider, &tokens).await {
            Ok(a) => a,
            Err(e) => {
                return Ok(fail_redirect(
                    &session,
                    "account_lookup_failed",
                    &e.to_string(),
                ))
            }
        };
        let asked = asked_scopes(&session, &provider, &app_row.scopes);
        match self
            .store_connected_account(
                &session,
                &provider,
                tokens,
                account,
                asked,
                app.webhook_secret,
            )
            .await
        {
            Ok(id) => {
                // The session has done its work: its page and authorize link are closed.
                if let Err(e) = self
                    .ctx
                    .store()
                    .mark_connect_session_used(&session.id, now_ms())
                    .await
                {
                    tracing::warn!(error = %e, session = %session.id, "could not close a used connect session");
                }
                Ok(CallbackOutcome::Redirect(with_query(
                    &session.return_url,
                    &[("connection_id", &id)],
                )))
            }
            Err(EngineError::Conflict(m)) => Ok(fail_redirect(&session, "connection_conflict", &m)),
            Err(e @ EngineError::Validation(_)) => Ok(fail_redirect(
                &session,
                "invalid_connection",
                &e.to_string(),
            )),
            Err(e) => Err(e),
        }
    }

    /// The provider's id for the connected account: from the token answer, else userinfo.
    async fn account_of(&self, provider: &Provider, tokens: &TokenSet) -> Result<String> {
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let Some(field) = provider.account_id_field.as_deref() else {
            return Ok("default".into());
        };
        if let Some(v) = json_path(&tokens.extra, field) {
            return Ok(text(v));
        }
        if provider.userinfo_url.is_some() {
            let info = self
                .tokens
                .client()
                .userinfo(provider, &tokens.access_token)
                .await
                .map_err(EngineError::Connector)?;
            if let Some(v) = json_path(&info, field) {
                return Ok(text(v));
            }
        }
        Err(EngineError::ProviderUnavailable(format!(
            "the provider did not name the account ({field})"
        )))
    }

    /// Creates the connection, or updates the owner's existing connection to that account.
    async fn store_connected_account(
        &self,
        session: &ConnectSessionRow,
        provider: &Provider,
        tokens: TokenSet,
        account: String,
        asked_scopes: Vec<String>,
        webhook_secret: Option<patchbay_core::Secret>,
    ) -> Result<String> {
        let connector = self.ctx.registry().get(&provider.key)?;
        let spec = connector.spec();
        let now = now_ms();
        let expires_at = tokens.expires_in.map(|s| now + (s as i64) * 1000);
        let mut metadata = Map::new();
        for path in &provider.metadata_fields {
            if let Some(v) = json_path(&tokens.extra, path) {
                metadata.insert(path.clone(), v.clone());
            }
        }
        // Stored space-separated, whichever separator the provider used.
        let granted = tokens
            .scope
            .as_deref()
            .map(|s| crate::views::split_scopes(s).join(" "))
            .or_else(|| Some(asked_scopes.join(" ")));
        let mut secrets = SecretMap::new();
        secrets.insert("access_token".into(), tokens.access_token);
        if let Some(rt) = tokens.refresh_token {
            secrets.insert("refresh_token".into(), rt);
        }
        if let Some(ut) = tokens.user_token {
            secrets.insert(USER_TOKEN.into(), ut);
        }
        // The app's signing secret verifies this connection's webhooks.
        if let (Some(field), Some(w)) = (&spec.webhook_secret_field, webhook_secret) {
            secrets.insert(field.clone(), w);
        }
        let existing = self
            .ctx
            .store()
            .find_connection_by_account(
                &session.workspace_id,
                &session.owner_id,
                &spec.key,
                &account,
            )
            .await?;
        if let Some(row) = existing {
            return self
                .reconnect(row, secrets, expires_at, granted, Value::Object(metadata))
                .await;
        }
        let config = config_for(session, spec);
        let scope: Value = serde_json::from_str(&session.owner_scope)
            .unwrap_or_else(|_| json!({"type": "platform"}));
        let errors = validate_connection(
            connector.as_ref(),
            &ValidationInput {
                config: &config,
                secrets: &secrets,
                scope: &scope,
            },
        );
        let created = self
            .connections
            .insert_new_connection(NewConnection {
                workspace_id: session.workspace_id.clone(),
                actor: format!("connect_session:{}", session.id),
                spec,
                owner_id: session.owner_id.clone(),
                owner_scope: scope,
                name: None,
                config,
                secrets,
                lifecycle: if errors.is_empty() {
                    Lifecycle::Enabled
                } else {
                    Lifecycle::Draft
                },
                allowed_actions: spec.action_keys(),
                account_id: account,
                errors,
                token_expires_at: expires_at,
                granted_scopes: granted,
                metadata: Value::Object(metadata),
                sync_frequency: "manual".into(),
            })
            .await?;
        Ok(created.connection.id)
    }

    /// Reconnecting an account the owner already has: new tokens, health restored.
    async fn reconnect(
        &self,
        row: ConnectionRow,
        secrets: SecretMap,
        expires_at: Option<i64>,
        granted: Option<String>,
        metadata: Value,
    ) -> Result<String> {
        let existing = self
            .ctx
            .store()
            .list_credentials(OWNER_TYPE, &row.id)
            .await?;
        let now = now_ms();
        let mut new = row.clone();
        new.token_expires_at = expires_at;
        new.granted_scopes = granted;
        new.metadata = metadata.to_string();
        new.health = Health::Healthy.as_str().into();
        new.health_reason = None;
        if new.lifecycle == Lifecycle::Draft.as_str() {
            new.lifecycle = Lifecycle::Enabled.as_str().into();
        }
        new.version = row.version + 1;
        new.updated_at = now;
        let refs = secrets.iter().map(|(k, v)| (k.clone(), v)).collect();
        let mut write = ConnectionWrite {
            credentials: self
                .ctx
                .seal_all(&row.workspace_id, &row.id, &existing, &refs)?,
            ..Default::default()
        };
        write.activity.push(activity_row(
            Some(&row.workspace_id),
            Some(&row.id),
            "system",
            "connection.reconnected",
            json!({"previous_health": row.health}),
        ));
        write.events.push(connection_event(
            &new,
            "connection.updated",
            json!({"reconnected": true}),
        ));
        if row.health != new.health {
            write.events.push(connection_event(
                &new,
                "connection.health_changed",
                json!({"from": row.health}),
            ));
        }
        if row.lifecycle != new.lifecycle {
            write.events.push(connection_event(
                &new,
                "connection.enabled",
                json!({"from": row.lifecycle}),
            ));
        }
        write.connection = Some(new.clone());
        self.ctx
            .store()
            .update_connection(&write, row.version)
            .await?;
        self.connections.watches().reconcile(&new).await;
        Ok(row.id)
    }
}
