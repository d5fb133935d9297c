//! The connect flow: a connect session from the application, the redirect to the provider with
//! a single-use `state` and PKCE, and the callback that exchanges the code and creates or
//! updates the connection.

use super::OAuth;
use crate::auth::{hash_key, random_token, Caller};
use crate::connections::{check_owner, OwnerInput};
use crate::error::{EngineError, Result};
use crate::oauth::apps::workspace_of;
use crate::oauth::tokens::scopes_for;
use patchbay_connectors::oauth::{authorization_url, pkce_pair};
use patchbay_core::{ids, ms_to_rfc3339, now_ms, AuthKind, FieldError, Secret};
use patchbay_store::{ConnectSessionRow, CredentialRow, OAuthStateRow};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub(super) const STATE_OWNER: &str = "oauth_state";
pub const SESSION_PREFIX: &str = "pbcs_";

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnectSession {
    pub connector: String,
    pub owner: OwnerInput,
    /// Where the browser goes when the flow ends, with `connection_id` or `error` added.
    pub return_url: String,
    /// Scopes to ask for; else the OAuth app's, else the provider's defaults.
    pub scopes: Option<Vec<String>>,
    /// Non-secret config for the connection the flow creates.
    #[serde(default = "empty")]
    #[schema(value_type = Object)]
    pub config: Value,
}

fn empty() -> Value {
    json!({})
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ConnectSessionView {
    /// Short-lived; shown once.
    pub token: String,
    /// Send the user's browser here.
    pub authorize_url: String,
    pub expires_at: String,
}

impl std::fmt::Debug for ConnectSessionView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectSessionView")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}
impl OAuth {
    pub async fn create_connect_session(
        &self,
        caller: &Caller,
        req: CreateConnectSession,
    ) -> Result<ConnectSessionView> {
        let ws = workspace_of(caller)?.to_string();
        let connector = self.ctx.registry().get(&req.connector)?;
        let spec = connector.spec();
        if spec.auth != AuthKind::Oauth2 {
            return Err(EngineError::Validation(vec![FieldError::new(
                "connector",
                "not_oauth",
                format!(
                    "{} connects with {:?} credentials; create it with POST /v1/connections",
                    spec.key, spec.auth
                ),
            )]));
        }
        let provider = self.ctx.oauth_provider(&spec.key)?.clone();
        let mut errors = check_owner(&req.owner);
        match url::Url::parse(&req.return_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => errors.push(FieldError::new(
                "return_url",
                "format",
                "return_url must be an absolute http(s) URL",
            )),
        }
        if !req.config.is_object() {
            errors.push(FieldError::new(
                "config",
                "type",
                "config must be a JSON object",
            ));
        }
        if !errors.is_empty() {
            return Err(EngineError::Validation(errors));
        }
        let (app_row, _) = self.ctx.oauth_app(&ws, &provider.key).await?;
        let scopes = req
            .scopes
            .clone()
            .unwrap_or_else(|| scopes_for(&provider, &app_row.scopes));
        let token = format!("{SESSION_PREFIX}{}", random_token());
        let now = now_ms();
        let session = ConnectSessionRow {
            id: ids::new_id(ids::IdKind::ConnectSession),
            workspace_id: ws,
            token_hash: hash_key(&token),
            connector: spec.key.clone(),
            owner_id: req.owner.id.clone(),
            owner_scope: req.owner.scope.to_string(),
            return_url: req.return_url.clone(),
            scopes: serde_json::to_string(&scopes).unwrap_or_else(|_| "[]".into()),
            config: req.config.to_string(),
            expires_at: now + self.connect_ttl_ms,
            created_at: now,
        };
        self.ctx.store().insert_connect_session(&session).await?;
        Ok(ConnectSessionView {
            authorize_url: format!(
                "{}/v1/oauth/authorize?session={token}",
                self.ctx.public_url()
            ),
            token,
            expires_at: ms_to_rfc3339(session.expires_at),
        })
    }

    /// Starts the provider leg: a fresh state (stored hashed) and PKCE verifier (sealed), and the
    /// provider's authorization URL to redirect to.
    pub async fn authorize(&self, session_token: &str) -> Result<String> {
        let session = self
            .ctx
            .store()
            .find_connect_session(&hash_key(session_token))
            .await?
            .ok_or(EngineError::NotFound("connect session"))?;
        let now = now_ms();
        if session.expires_at <= now {
            return Err(EngineError::Expired(
                "the connect session has expired; create a new one".into(),
            ));
        }
        let provider = self.ctx.oauth_provider(&session.connector)?.clone();
        let (_, app) = self
            .ctx
            .oauth_app(&session.workspace_id, &provider.key)
            .await?;
        let state = random_token();
        let state_row = OAuthStateRow {
            id: ids::new_id(ids::IdKind::OAuthState),
            state_hash: hash_key(&state),
            session_id: session.id.clone(),
            workspace_id: session.workspace_id.clone(),
            redirect_uri: self.ctx.redirect_uri(),
            expires_at: now + self.connect_ttl_ms,
            consumed_at: None,
            created_at: now,
        };
        let (challenge, verifier_row) = if provider.pkce {
            let (verifier, challenge) = pkce_pair();
            let cred_id = ids::new_id(ids::IdKind::Credential);
            let (ciphertext, key_id) = self.ctx.vault().seal_credential(
                &cred_id,
                (STATE_OWNER, &state_row.id),
                "code_verifier",
                &Secret::new(verifier),
            )?;
            let row = CredentialRow {
                id: cred_id,
                workspace_id: session.workspace_id.clone(),
                owner_type: STATE_OWNER.into(),
                owner_id: state_row.id.clone(),
                field: "code_verifier".into(),
                key_id,
                ciphertext,
                created_at: now,
                updated_at: now,
            };
            (Some(challenge), Some(row))
        } else {
            (None, None)
        };
        self.ctx
            .store()
            .insert_oauth_state(&state_row, verifier_row.as_ref())
            .await?;
        let scopes: Vec<String> = serde_json::from_str(&session.scopes).unwrap_or_default();
        authorization_url(
            &provider,
            &app.client_id,
            &state_row.redirect_uri,
            &scopes,
            &state,
            challenge.as_deref(),
        )
        .map_err(|e| EngineError::ProviderUnavailable(e.to_string()))
    }
}
