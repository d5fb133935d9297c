//! The connect flow: a connect session from the application (one connector or a choice of
//! several, OAuth or not), and for OAuth the redirect to the provider with a single-use `state`
//! and PKCE. The callback is in `callback`, the hosted page's credential form in `hosted`.

use super::OAuth;
use crate::auth::{hash_key, random_token, Caller};
use crate::connections::{check_owner, OwnerInput};
use crate::error::{EngineError, Result};
use crate::oauth::apps::workspace_of;
use crate::oauth::tokens::scopes_for;
use patchbay_connectors::oauth::{authorization_url, pkce_pair};
use patchbay_connectors::providers::Provider;
use patchbay_core::{
    ids, ms_to_rfc3339, now_ms, AuthKind, Connector, ConnectorSpec, FieldError, Secret,
};
use patchbay_store::{ConnectSessionRow, CredentialRow, OAuthStateRow};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;

pub(super) const STATE_OWNER: &str = "oauth_state";
pub const SESSION_PREFIX: &str = "pbcs_";

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnectSession {
    /// The one connector to connect; give this or `connectors`.
    pub connector: Option<String>,
    /// The connectors the user may choose from on the hosted connect page (`connect_url`),
    /// OAuth or not; give this or `connector`.
    #[schema(min_items = 1, max_items = 50)]
    pub connectors: Option<Vec<String>>,
    pub owner: OwnerInput,
    /// Where the browser goes when the flow ends, with `connection_id` or `error` added.
    pub return_url: String,
    /// Scopes to ask an OAuth provider for; else the OAuth app's, else the provider's defaults.
    pub scopes: Option<Vec<String>>,
    /// Scopes asked on the user's behalf besides the app's, for providers that grant a user
    /// token too (Slack's `user_scope`); else the provider's default user scopes. `[]` asks
    /// for none.
    pub user_scopes: Option<Vec<String>>,
    /// Non-secret config for the connection the flow creates. With several connectors, each
    /// gets the fields its config schema declares; the connect page asks for required fields
    /// left out.
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
    /// The hosted connect page: send the user's browser here to choose a connector and
    /// connect it.
    pub connect_url: String,
    /// Straight to the provider's consent page; only for a session with one OAuth connector.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorize_url: Option<String>,
    pub expires_at: String,
}

impl std::fmt::Debug for ConnectSessionView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectSessionView")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Most connectors a session may offer.
const MAX_CHOICES: usize = 50;

/// The connectors a session allows: its list, or on older sessions its one connector.
pub(super) fn allowed(session: &ConnectSessionRow) -> Vec<String> {
    session
        .allowed_connectors
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_else(|| vec![session.connector.clone()])
}

/// The session's config for one connector: all of it when the session names one connector;
/// with several, the fields that connector's config schema declares.
pub(super) fn config_for(session: &ConnectSessionRow, spec: &ConnectorSpec) -> Value {
    let config: Value = serde_json::from_str(&session.config).unwrap_or_else(|_| empty());
    if allowed(session).len() <= 1 {
        return config;
    }
    let declared = spec
        .config_schema
        .get("properties")
        .and_then(Value::as_object);
    match (config, declared) {
        (Value::Object(c), Some(declared)) => Value::Object(
            c.into_iter()
                .filter(|(k, _)| declared.contains_key(k))
                .collect(),
        ),
        (_, _) => empty(),
    }
}

/// The scopes to ask for: the session's, else the OAuth app's, else the provider's defaults.
pub(super) fn asked_scopes(
    session: &ConnectSessionRow,
    provider: &Provider,
    app_scopes: &str,
) -> Vec<String> {
    let asked: Vec<String> = serde_json::from_str(&session.scopes).unwrap_or_default();
    if asked.is_empty() {
        scopes_for(provider, app_scopes)
    } else {
        asked
    }
}

/// The user scopes to ask for: the session's, else the provider's defaults.
pub(super) fn asked_user_scopes(session: &ConnectSessionRow, provider: &Provider) -> Vec<String> {
    if provider.user_scope_param.is_none() {
        return Vec::new();
    }
    session
        .user_scopes
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_else(|| provider.default_user_scopes.clone())
}

/// `base` with `pairs` added to its query (the return URL keeps its own query).
pub(super) fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(base) {
        Ok(mut u) => {
            {
                let mut q = u.query_pairs_mut();
                for (k, v) in pairs {
                    q.append_pair(k, v);
                }
            }
            u.to_string()
        }
        Err(_) => base.to_string(),
    }
}

/// The connectors a request names: `connector` or `connectors`, without repeats.
fn requested(req: &CreateConnectSession) -> std::result::Result<Vec<String>, FieldError> {
    let keys = match (&req.connector, &req.connectors) {
        (Some(one), None) => vec![one.clone()],
        (None, Some(list)) if !list.is_empty() && list.len() <= MAX_CHOICES => list.clone(),
        (None, Some(_)) => {
            return Err(FieldError::new(
                "connectors",
                "length",
                format!("connectors must name 1 to {MAX_CHOICES} connectors"),
            ))
        }
        (None, None) => {
            return Err(FieldError::new(
                "connector",
                "required",
                "give connector or connectors",
            ))
        }
        (Some(_), Some(_)) => {
            return Err(FieldError::new(
                "connectors",
                "conflict",
                "give connector or connectors, not both",
            ))
        }
    };
    let mut unique: Vec<String> = Vec::with_capacity(keys.len());
    for k in keys {
        if !unique.contains(&k) {
            unique.push(k);
        }
    }
    Ok(unique)
}

impl OAuth {
    pub async fn create_connect_session(
        &self,
        caller: &Caller,
        req: CreateConnectSession,
    ) -> Result<ConnectSessionView> {
        let ws = workspace_of(caller)?.to_string();
        let keys = requested(&req).map_err(|e| EngineError::Validation(vec![e]))?;
        let mut providers = Vec::new();
        for key in &keys {
            let connector = self.ctx.registry().get(key)?;
            if connector.spec().auth == AuthKind::Oauth2 {
                providers.push(self.ctx.oauth_provider(key)?.clone());
            }
        }
        let mut errors = check_owner(&req.owner);
        match url::Url::parse(&req.return_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => errors.push(FieldError::new(
                "return_url",
                "format",
                "return_url must be an absolute http(s) URL",
            )),
        }
        for (field, list) in [("scopes", &req.scopes), ("user_scopes", &req.user_scopes)] {
            if list
                .iter()
                .flatten()
                .any(|s| s.trim().is_empty() || s.contains(char::is_whitespace))
            {
                errors.push(FieldError::new(
                    field,
                    "format",
                    "scopes are non-empty strings without spaces",
                ));
            }
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
        // Every OAuth connector offered must be connectable: the workspace has its app.
        let mut app_rows = Vec::new();
        for provider in &providers {
            app_rows.push(self.ctx.oauth_app(&ws, &provider.key).await?.0);
        }
        let single_oauth = keys.len() == 1 && providers.len() == 1;
        let scopes = match (&req.scopes, single_oauth) {
            (Some(s), _) => s.clone(),
            (None, true) => scopes_for(&providers[0], &app_rows[0].scopes),
            // Chosen later: each provider's own, when the user picks it.
            (None, false) => Vec::new(),
        };
        let token = format!("{SESSION_PREFIX}{}", random_token());
        let now = now_ms();
        let session = ConnectSessionRow {
            id: ids::new_id(ids::IdKind::ConnectSession),
            workspace_id: ws,
            token_hash: hash_key(&token),
            connector: keys[0].clone(),
            owner_id: req.owner.id.clone(),
            owner_scope: req.owner.scope.to_string(),
            return_url: req.return_url.clone(),
            scopes: serde_json::to_string(&scopes).unwrap_or_else(|_| "[]".into()),
            config: req.config.to_string(),
            expires_at: now + self.connect_ttl_ms,
            created_at: now,
            allowed_connectors: Some(serde_json::to_string(&keys).unwrap_or_else(|_| "[]".into())),
            consumed_at: None,
            user_scopes: req
                .user_scopes
                .as_ref()
                .map(|s| serde_json::to_string(s).unwrap_or_else(|_| "[]".into())),
        };
        self.ctx.store().insert_connect_session(&session).await?;
        let public = self.ctx.public_url();
        Ok(ConnectSessionView {
            connect_url: format!("{public}/connect?session={token}"),
            authorize_url: single_oauth
                .then(|| format!("{public}/v1/oauth/authorize?session={token}")),
            token,
            expires_at: ms_to_rfc3339(session.expires_at),
        })
    }

    /// The session behind a token, while it may still connect something.
    pub(super) async fn live_session(&self, token: &str) -> Result<ConnectSessionRow> {
        let session = self
            .ctx
            .store()
            .find_connect_session(&hash_key(token))
            .await?
            .ok_or(EngineError::NotFound("connect session"))?;
        if session.consumed_at.is_some() {
            return Err(EngineError::Expired(
                "the connect session was already used; start again from the application".into(),
            ));
        }
        if session.expires_at <= now_ms() {
            return Err(EngineError::Expired(
                "the connect session has expired; create a new one".into(),
            ));
        }
        Ok(session)
    }

    /// The connector the user chose, if the session allows it; with no choice, the session's
    /// only connector.
    pub(super) fn chosen(
        &self,
        session: &ConnectSessionRow,
        choice: Option<&str>,
    ) -> Result<Arc<dyn Connector>> {
        let allowed = allowed(session);
        let key = match choice {
            Some(k) if allowed.iter().any(|a| a == k) => k,
            Some(k) => {
                return Err(EngineError::Validation(vec![FieldError::new(
                    "connector",
                    "not_allowed",
                    format!(
                        "this connect session does not offer {k}; it offers {}",
                        allowed.join(", ")
                    ),
                )]))
            }
            None if allowed.len() == 1 => allowed[0].as_str(),
            None => {
                return Err(EngineError::Validation(vec![FieldError::new(
                    "connector",
                    "required",
                    format!("choose one of {}", allowed.join(", ")),
                )]))
            }
        };
        Ok(self.ctx.registry().get(key)?)
    }

    /// Starts the provider leg: a fresh state (stored hashed) and PKCE verifier (sealed), and the
    /// provider's authorization URL to redirect to.
    /// `connector` is the user's choice when the session offers several.
    pub async fn authorize(&self, session_token: &str, connector: Option<&str>) -> Result<String> {
        let session = self.live_session(session_token).await?;
        let connector = self.chosen(&session, connector)?;
        let spec = connector.spec();
        if spec.auth != AuthKind::Oauth2 {
            return Err(EngineError::Validation(vec![FieldError::new(
                "connector",
                "not_oauth",
                format!(
                    "{} connects with {:?} credentials, through the form of the connect page",
                    spec.key, spec.auth
                ),
            )]));
        }
        let now = now_ms();
        let provider = self.ctx.oauth_provider(&spec.key)?.clone();
        let (app_row, app) = self
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
            connector: Some(spec.key.clone()),
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
        let scopes = asked_scopes(&session, &provider, &app_row.scopes);
        let user_scopes = asked_user_scopes(&session, &provider);
        authorization_url(
            &provider,
            &app.client_id,
            &state_row.redirect_uri,
            &scopes,
            &user_scopes,
            &state,
            challenge.as_deref(),
        )
        .map_err(|e| EngineError::ProviderUnavailable(e.to_string()))
    }
}
