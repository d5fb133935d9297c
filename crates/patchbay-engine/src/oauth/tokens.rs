//! The token manager: the one place that hands out a valid access token for an OAuth
//! connection.
//!
//! - Tokens are refreshed ahead of expiry (`refresh_ahead_seconds` per provider, default 300).
//! - Concurrent callers in one process share one refresh (a lock per connection); across
//!   processes on PostgreSQL the connection row is locked (`SELECT … FOR UPDATE`) for the
//!   refresh, and whoever waited re-reads the winner's result instead of refreshing again.
//! - A refresh answer without a refresh token keeps the old one.
//! - `invalid_grant`, or a token that needs renewing on a connection without a refresh token
//!   (a personal or imported token, which needs no OAuth app for this), marks the connection
//!   `needs_reconnect` with an activity entry and a `connection.token_expired` event; network
//!   errors and 5xx are retried with backoff and never touch health.

use super::Tokens;
use crate::auth::activity_row;
use crate::connections::connection_event;
use crate::error::{EngineError, Result};
use crate::Change;
use patchbay_connectors::oauth::{OAuthError, TokenSet};
use patchbay_connectors::providers::Provider;
use patchbay_core::{ids, now_ms, AuthKind, ConnectorSpec, Health, Secret};
use patchbay_store::{ConnectionRow, ConnectionWrite, CredentialRow, RefreshGuard};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const OWNER: &str = "connection";
const ATTEMPTS: u32 = 3;

fn expiry(tokens: &TokenSet, now: i64) -> Option<i64> {
    tokens.expires_in.map(|s| now + (s as i64) * 1000)
}

impl Tokens {
    fn refresh_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.state.refresh_locks.lock().expect("refresh locks");
        // Forget locks nobody holds, so the map stays as small as the refreshes in flight.
        locks.retain(|_, l| Arc::strong_count(l) > 1);
        locks.entry(id.to_string()).or_default().clone()
    }

    /// Runs a token request, retrying transient failures with backoff.
    async fn with_retries<F, Fut>(&self, mut call: F) -> Result<TokenSet, OAuthError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<TokenSet, OAuthError>>,
    {
        let mut attempt = 0;
        loop {
            match call().await {
                Err(OAuthError::Transient(m)) if attempt + 1 < ATTEMPTS => {
                    tracing::warn!(attempt, error = %m, "token endpoint unavailable; retrying");
                    tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// A client-credentials token for a workspace's app (connections that use that grant).
    pub(crate) async fn client_credentials_token(
        &self,
        ws: &str,
        spec: &ConnectorSpec,
    ) -> Result<(Option<i64>, Secret)> {
        let provider = self.ctx.oauth_provider(&spec.key)?.clone();
        let (row, app) = self.ctx.oauth_app(ws, &provider.key).await?;
        let scopes = scopes_for(&provider, &row.scopes);
        let tokens = self
            .with_retries(|| self.client().client_credentials(&provider, &app, &scopes))
            .await
            .map_err(|e| grant_error(&provider, e))?;
        Ok((expiry(&tokens, now_ms()), tokens.access_token))
    }

    /// A valid access token for the connection, refreshed if it is about to expire.
    pub async fn access_token(&self, connection_id: &str) -> Result<Secret> {
        self.token(connection_id, None).await
    }

    /// After the provider refused `rejected`: refresh once, unless another caller already did.
    pub async fn force_refresh(&self, connection_id: &str, rejected: &Secret) -> Result<Secret> {
        self.token(connection_id, Some(rejected)).await
    }

    async fn token(&self, id: &str, rejected: Option<&Secret>) -> Result<Secret> {
        let row = self
            .ctx
            .store()
            .get_connection(None, id)
            .await?
            .ok_or(EngineError::NotFound("connection"))?;
        let provider = self.ctx.oauth_provider(&row.connector)?.clone();
        let ahead = provider.refresh_ahead_seconds as i64 * 1000;
        let fresh = |r: &ConnectionRow| r.token_expires_at.is_none_or(|e| e > now_ms() + ahead);
        let creds = self.ctx.store().list_credentials(OWNER, id).await?;
        let current = self.open_field(&creds, "access_token").await?;
        if rejected.is_none() && fresh(&row) {
            if let Some(token) = current {
                return Ok(token);
            }
        }
        let seen = (
            row.token_expires_at,
            current.as_ref().map(|t| t.expose().to_string()),
        );
        let lock = self.refresh_lock(id);
        let _held = lock.lock().await;
        let guard = self.ctx.store().claim_for_refresh(id).await?;
        let row = guard.connection.clone();
        let current = self.open_field(&guard.credentials, "access_token").await?;
        let now_seen = (
            row.token_expires_at,
            current.as_ref().map(|t| t.expose().to_string()),
        );
        if let Some(token) = &current {
            // Someone refreshed while we waited: theirs is the answer.
            let changed = now_seen != seen;
            let still_rejected = rejected.is_some_and(|r| r.expose() == token.expose());
            if changed && !still_rejected {
                return Ok(token.clone());
            }
            if rejected.is_none() && fresh(&row) {
                return Ok(token.clone());
            }
        }
        let refresh = match provider.auth_mode {
            AuthKind::Oauth2ClientCredentials => None,
            _ => match self.open_field(&guard.credentials, "refresh_token").await? {
                Some(refresh) => Some(refresh),
                // A personal or imported token: nothing can renew it, so no OAuth app is
                // needed to know the owner must reconnect.
                None => {
                    let reason = match rejected {
                        Some(_) => "the provider refused the access token and the connection has no refresh token",
                        None => "the access token needs renewing and the connection has no refresh token",
                    };
                    return self.expire(guard, &row, reason, reason).await;
                }
            },
        };
        let (app_row, app) = self.ctx.oauth_app(&row.workspace_id, &provider.key).await?;
        let result = match &refresh {
            Some(refresh) => {
                self.with_retries(|| self.client().refresh(&provider, &app, refresh))
                    .await
            }
            // Only the client-credentials grant gets here without a refresh token.
            None => {
                let scopes = scopes_for(&provider, &app_row.scopes);
                self.with_retries(|| self.client().client_credentials(&provider, &app, &scopes))
                    .await
            }
        };
        match result {
            Ok(tokens) => {
                let access = tokens.access_token.clone();
                let write = self.refreshed_write(&row, &guard.credentials, tokens)?;
                let version = row.version;
                guard.commit(&write, version).await?;
                Ok(access)
            }
            Err(e) if e.is_invalid_grant() => {
                let reason = format!("the provider refused the refresh: {e}");
                self.expire(guard, &row, &reason, &e.to_string()).await
            }
            Err(e) => {
                drop(guard);
                Err(grant_error(&provider, e))
            }
        }
    }

    /// Marks the connection `needs_reconnect` (with its `connection.token_expired` event) and
    /// returns the error that tells the caller so.
    async fn expire(
        &self,
        guard: RefreshGuard,
        row: &ConnectionRow,
        reason: &str,
        detail: &str,
    ) -> Result<Secret> {
        // The row was read under the refresh claim: when callers refused at once queue up
        // here, the first tells the owner and the others find it already done.
        if row.health == Health::NeedsReconnect.as_str() {
            drop(guard);
        } else {
            let write = self.expired_write(row, reason, "refresh");
            guard.commit(&write, row.version).await?;
        }
        Err(EngineError::NeedsReconnect(format!(
            "the connection's authorization is no longer valid; the owner must reconnect ({detail})"
        )))
    }

    async fn open_field(&self, creds: &[CredentialRow], field: &str) -> Result<Option<Secret>> {
        match creds.iter().find(|c| c.field == field) {
            Some(c) => Ok(Some(self.ctx.vault().open_credential(c).await?)),
            None => Ok(None),
        }
    }

    /// The row and credentials after a successful refresh.
    fn refreshed_write(
        &self,
        row: &ConnectionRow,
        existing: &[CredentialRow],
        tokens: TokenSet,
    ) -> Result<ConnectionWrite> {
        let now = now_ms();
        let mut new = row.clone();
        new.token_expires_at = expiry(&tokens, now);
        if let Some(scope) = &tokens.scope {
            new.granted_scopes = Some(crate::views::split_scopes(scope).join(" "));
        }
        new.version = row.version + 1;
        new.updated_at = now;
        let mut write = ConnectionWrite::default();
        if new.health == Health::NeedsReconnect.as_str() {
            new.health = Health::Healthy.as_str().into();
            new.health_reason = None;
            write.events.push(connection_event(
                &new,
                "connection.health_changed",
                json!({"from": row.health}),
            ));
        }
        let mut fields = vec![("access_token", tokens.access_token)];
        // An answer without a refresh token keeps the one we have.
        if let Some(rt) = tokens.refresh_token {
            fields.push(("refresh_token", rt));
        }
        for (field, secret) in fields {
            let prior = existing.iter().find(|c| c.field == field);
            let cid = prior.map_or_else(|| ids::new_id(ids::IdKind::Credential), |c| c.id.clone());
            let (ciphertext, key_id) =
                self.ctx
                    .vault()
                    .seal_credential(&cid, (OWNER, &row.id), field, &secret)?;
            write.credentials.push(CredentialRow {
                id: cid,
                workspace_id: row.workspace_id.clone(),
                owner_type: OWNER.into(),
                owner_id: row.id.clone(),
                field: field.into(),
                key_id,
                ciphertext,
                created_at: prior.map_or(now, |c| c.created_at),
                updated_at: now,
            });
        }
        write.activity.push(activity_row(
            Some(&row.workspace_id),
            Some(&row.id),
            "system",
            "connection.token_refreshed",
            json!({"expires_at": new.token_expires_at.map(patchbay_core::ms_to_rfc3339)}),
        ));
        write.connection = Some(new);
        Ok(write)
    }

    /// The row after the provider declared the grant dead.
    fn expired_write(&self, row: &ConnectionRow, reason: &str, during: &str) -> ConnectionWrite {
        let mut new = row.clone();
        new.health = Health::NeedsReconnect.as_str().into();
        new.health_reason = Some(reason.to_string());
        new.version = row.version + 1;
        new.updated_at = now_ms();
        let mut write = ConnectionWrite::default();
        write.activity.push(activity_row(
            Some(&row.workspace_id),
            Some(&row.id),
            "system",
            "connection.token_expired",
            json!({"during": during, "reason": reason}),
        ));
        write.events.push(connection_event(
            &new,
            "connection.token_expired",
            json!({"reason": reason}),
        ));
        if row.health != new.health {
            write.events.push(connection_event(
                &new,
                "connection.health_changed",
                json!({"from": row.health}),
            ));
        }
        write.connection = Some(new);
        write
    }

    /// After a second refusal of a fresh token: the owner must reconnect.
    pub(crate) async fn mark_token_expired(&self, id: &str, reason: &str) -> Result<()> {
        self.ctx.changed(Change::Connection(id));
        let on_write = |row: &ConnectionRow| {
            // Read under the row's write lock: when concurrent 401s race here, the first one
            // tells the owner and the rest find the connection already marked.
            if row.health == Health::NeedsReconnect.as_str() {
                return (Vec::new(), Vec::new());
            }
            let write = self.expired_write(row, reason, "api call");
            (write.activity, write.events)
        };
        self.ctx
            .store()
            .update_health(
                id,
                Health::NeedsReconnect.as_str(),
                Some(reason),
                None,
                &on_write,
            )
            .await?;
        Ok(())
    }
}

/// Scopes to request: the app's, else the provider's defaults.
pub(crate) fn scopes_for(provider: &Provider, app_scopes: &str) -> Vec<String> {
    let app: Vec<String> = serde_json::from_str(app_scopes).unwrap_or_default();
    if app.is_empty() {
        provider.default_scopes.clone()
    } else {
        app
    }
}

/// A failed grant request that is not `invalid_grant`.
pub(crate) fn grant_error(provider: &Provider, e: OAuthError) -> EngineError {
    match e {
        OAuthError::Transient(m) => EngineError::ProviderUnavailable(format!(
            "{} token endpoint unavailable: {m}",
            provider.key
        )),
        e if e.is_invalid_grant() => EngineError::NeedsReconnect(e.to_string()),
        other => {
            EngineError::ProviderUnavailable(format!("{} token endpoint: {other}", provider.key))
        }
    }
}
