//! OAuth apps: a workspace's client id and secret for a provider.

use super::OAuth;
use crate::auth::{activity_row, Caller};
use crate::error::{EngineError, Result};
use crate::Context;
use patchbay_connectors::oauth::OAuthApp;
use patchbay_connectors::providers::Provider;
use patchbay_core::{ids, ms_to_rfc3339, now_ms, FieldError, Secret};
use patchbay_store::{CredentialRow, OAuthAppRow};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub(crate) const APP_OWNER: &str = "oauth_app";
pub(crate) const APP_WEBHOOK_SECRET: &str = "webhook_secret";

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutOAuthApp {
    pub client_id: String,
    /// Stored encrypted; never returned.
    #[schema(value_type = String)]
    pub client_secret: Secret,
    /// Scopes to ask for when a connect session names none (else the provider's defaults).
    pub scopes: Option<Vec<String>>,
    /// The secret the provider signs webhooks with (Slack's signing secret), stored encrypted
    /// and copied into the secrets of connections made with this app, so their webhooks
    /// verify. Left out: the stored one is kept.
    #[schema(value_type = Option<String>)]
    pub webhook_secret: Option<Secret>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OAuthAppView {
    pub provider: String,
    pub client_id: String,
    /// A hint such as `••••9f2c`.
    pub client_secret: String,
    pub scopes: Vec<String>,
    /// A hint of the webhook signing secret, when one is set.
    pub webhook_secret: Option<String>,
    /// The redirect URI to register with the provider.
    pub redirect_uri: String,
    pub created_at: String,
    pub updated_at: String,
}

pub(crate) fn workspace_of(caller: &Caller) -> Result<&str> {
    match caller {
        Caller::Workspace { workspace_id, .. } => Ok(workspace_id),
        Caller::Admin => Err(EngineError::BadRequest(
            "use a workspace secret key for this".into(),
        )),
        Caller::Integration { .. } => Err(EngineError::Forbidden(
            "integration keys cannot do this".into(),
        )),
    }
}

impl OAuth {
    pub async fn put_oauth_app(
        &self,
        caller: &Caller,
        provider: &str,
        req: PutOAuthApp,
    ) -> Result<OAuthAppView> {
        let ws = workspace_of(caller)?.to_string();
        let provider = self.ctx.oauth_provider(provider)?.clone();
        let mut errors = Vec::new();
        if req.client_id.trim().is_empty() || req.client_id.len() > 500 {
            errors.push(FieldError::new(
                "client_id",
                "length",
                "client_id must be 1 to 500 characters",
            ));
        }
        if req.client_secret.is_empty() || req.client_secret.expose().len() > 2000 {
            errors.push(FieldError::new(
                "client_secret",
                "length",
                "client_secret must be 1 to 2000 characters",
            ));
        }
        if let Some(scopes) = &req.scopes {
            if scopes
                .iter()
                .any(|s| s.trim().is_empty() || s.contains(char::is_whitespace))
            {
                errors.push(FieldError::new(
                    "scopes",
                    "format",
                    "scopes are non-empty strings without spaces",
                ));
            }
        }
        if let Some(w) = &req.webhook_secret {
            if w.expose().len() < 8 || w.expose().len() > 500 {
                errors.push(FieldError::new(
                    "webhook_secret",
                    "length",
                    "webhook_secret must be 8 to 500 characters",
                ));
            }
        }
        if !errors.is_empty() {
            return Err(EngineError::Validation(errors));
        }
        let now = now_ms();
        let existing = self.ctx.store().get_oauth_app(&ws, &provider.key).await?;
        let id = existing
            .as_ref()
            .map_or_else(|| ids::new_id(ids::IdKind::OAuthApp), |a| a.id.clone());
        let row = OAuthAppRow {
            id: id.clone(),
            workspace_id: ws.clone(),
            provider: provider.key.clone(),
            client_id: req.client_id.trim().to_string(),
            scopes: serde_json::to_string(&req.scopes.clone().unwrap_or_default())
                .unwrap_or_else(|_| "[]".into()),
            created_at: existing.as_ref().map_or(now, |a| a.created_at),
            updated_at: now,
        };
        let prior = self.ctx.store().list_credentials(APP_OWNER, &id).await?;
        let mut creds = Vec::new();
        let mut fields = vec![("client_secret", &req.client_secret)];
        if let Some(w) = &req.webhook_secret {
            fields.push((APP_WEBHOOK_SECRET, w));
        }
        for (field, secret) in fields {
            let cred_id = prior
                .iter()
                .find(|c| c.field == field)
                .map_or_else(|| ids::new_id(ids::IdKind::Credential), |c| c.id.clone());
            let (ciphertext, key_id) =
                self.ctx
                    .vault()
                    .seal_credential(&cred_id, (APP_OWNER, &id), field, secret)?;
            creds.push(CredentialRow {
                id: cred_id,
                workspace_id: ws.clone(),
                owner_type: APP_OWNER.into(),
                owner_id: id.clone(),
                field: field.into(),
                key_id,
                ciphertext,
                created_at: now,
                updated_at: now,
            });
        }
        let activity = activity_row(
            Some(&ws),
            None,
            &caller.actor(),
            if existing.is_some() {
                "oauth_app.updated"
            } else {
                "oauth_app.created"
            },
            json!({"provider": provider.key, "client_id": row.client_id,
                   "webhook_secret_set": req.webhook_secret.is_some()}),
        );
        self.ctx
            .store()
            .upsert_oauth_app(&row, &creds, &activity)
            .await?;
        let (_, app) = self.ctx.oauth_app(&ws, &row.provider).await?;
        Ok(self.app_view(row, &app))
    }

    fn app_view(&self, row: OAuthAppRow, app: &OAuthApp) -> OAuthAppView {
        OAuthAppView {
            provider: row.provider,
            client_id: row.client_id,
            client_secret: app.client_secret.hint(),
            webhook_secret: app.webhook_secret.as_ref().map(Secret::hint),
            scopes: serde_json::from_str(&row.scopes).unwrap_or_default(),
            redirect_uri: self.ctx.redirect_uri(),
            created_at: ms_to_rfc3339(row.created_at),
            updated_at: ms_to_rfc3339(row.updated_at),
        }
    }

    pub async fn list_oauth_apps(&self, caller: &Caller) -> Result<Vec<OAuthAppView>> {
        let ws = workspace_of(caller)?;
        let mut out = Vec::new();
        for row in self.ctx.store().list_oauth_apps(ws).await? {
            let (_, app) = self.ctx.oauth_app(ws, &row.provider).await?;
            out.push(self.app_view(row, &app));
        }
        Ok(out)
    }
}

/// The workspace's OAuth apps as the token manager and revocation read them.
impl Context {
    /// The catalog entry of an OAuth provider, or a 404 listing the OAuth providers.
    pub(crate) fn oauth_provider(&self, key: &str) -> Result<&Provider> {
        match self.catalog().get(key) {
            Some(p) if p.is_oauth() => Ok(p),
            _ => {
                let known: Vec<String> = self
                    .catalog()
                    .iter()
                    .filter(|p| p.is_oauth())
                    .map(|p| p.key.clone())
                    .collect();
                Err(EngineError::Unsupported(format!(
                    "'{key}' is not an OAuth provider in the catalog; OAuth providers: {}",
                    known.join(", ")
                )))
            }
        }
    }

    /// The workspace's app for a provider, with its secret opened.
    pub(crate) async fn oauth_app(
        &self,
        ws: &str,
        provider: &str,
    ) -> Result<(OAuthAppRow, OAuthApp)> {
        let row = self.store().get_oauth_app(ws, provider).await?.ok_or_else(|| {
            EngineError::Validation(vec![FieldError::new(
                "connector",
                "no_oauth_app",
                format!("no OAuth app for {provider} in this workspace; set one with PUT /v1/oauth-apps/{provider}"),
            )])
        })?;
        let creds = self.store().list_credentials(APP_OWNER, &row.id).await?;
        let cred = creds
            .iter()
            .find(|c| c.field == "client_secret")
            .ok_or(EngineError::NotFound("oauth app secret"))?;
        let secret = self.vault().open_credential(cred).await?;
        let webhook_secret = match creds.iter().find(|c| c.field == APP_WEBHOOK_SECRET) {
            Some(c) => Some(self.vault().open_credential(c).await?),
            None => None,
        };
        let app = OAuthApp {
            client_id: row.client_id.clone(),
            client_secret: secret,
            webhook_secret,
        };
        Ok((row, app))
    }
}
