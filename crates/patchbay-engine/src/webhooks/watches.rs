//! Push subscriptions held at providers (Gmail `users.watch`): set up once a connection asks
//! for one, renewed at half their remaining life so one failed renewal still leaves time for
//! the next, and stopped when the connection is disabled, revoked or deleted.

use crate::auth::activity_row;
use crate::connections::OWNER_TYPE;
use crate::error::{EngineError, Result};
use crate::oauth::{Call, CallOut, Tokens};
use crate::{Change, Context};
use patchbay_core::{now_ms, Lifecycle, Secret, Watch};
use patchbay_store::{ConnectionRow, ConnectionWrite, WatchRow};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// How long one process holds a watch it is renewing.
const LEASE_MS: i64 = 60_000;
const BATCH: i64 = 50;
/// Retry delays after failures: 1 min doubling to 1 h.
const RETRY_FIRST_MS: i64 = 60_000;
const RETRY_MAX_MS: i64 = 3_600_000;

/// Push subscriptions: which connections hold one, and keeping them alive.
#[derive(Clone)]
pub struct Watches {
    ctx: Context,
    tokens: Tokens,
}

impl Watches {
    pub(crate) fn new(ctx: Context, tokens: Tokens) -> Self {
        Watches { ctx, tokens }
    }

    /// The URL a connection's pushes are sent to.
    pub fn callback_url(&self, row: &ConnectionRow) -> String {
        format!(
            "{}/v1/webhooks/{}/{}",
            self.ctx.public_url().trim_end_matches('/'),
            row.connector,
            row.id
        )
    }

    /// After a connection is created or changed: ask for its watch, or stop the one it holds.
    /// Failures are logged; the next change or renewal pass tries again.
    pub(crate) async fn reconcile(&self, row: &ConnectionRow) {
        let wanted = self.wanted(row);
        let out = if wanted {
            self.ctx.store().want_watch(&row.id, now_ms()).await
        } else {
            self.stop(row).await;
            Ok(())
        };
        if let Err(e) = out {
            tracing::warn!(connection = %row.id, error = %e, "could not record the watch");
        }
    }

    fn wanted(&self, row: &ConnectionRow) -> bool {
        let Ok(connector) = self.ctx.connector_for(row) else {
            return false;
        };
        let config: Value = serde_json::from_str(&row.config).unwrap_or(Value::Null);
        row.lifecycle == Lifecycle::Enabled.as_str() && connector.wants_watch(&config)
    }

    /// Stops the connection's watch at the provider, best-effort, and forgets it. Returns whether
    /// the provider confirmed.
    pub(crate) async fn stop(&self, row: &ConnectionRow) -> bool {
        let taken = match self.ctx.store().take_watch(&row.id).await {
            Ok(Some(w)) => w,
            Ok(None) => return false,
            Err(e) => {
                tracing::warn!(connection = %row.id, error = %e, "could not read the watch");
                return false;
            }
        };
        let Some(watch) = watch_of(&taken) else {
            return false;
        };
        let Ok(connector) = self.ctx.connector_for(row) else {
            return false;
        };
        match self
            .tokens
            .call_for(connector.as_ref(), row, &Call::Unwatch(&watch))
            .await
        {
            Ok(Ok(_)) => true,
            Ok(Err(e)) => {
                tracing::warn!(connection = %row.id, error = %e, "the provider did not stop the watch");
                false
            }
            Err(e) => {
                tracing::warn!(connection = %row.id, error = %e, "could not stop the watch");
                false
            }
        }
    }

    /// One pass: sets up or renews every watch that is due. Returns how many now hold.
    pub async fn renew_due_once(&self) -> Result<usize> {
        let now = now_ms();
        let due = self
            .ctx
            .store()
            .claim_due_watches(now, now + LEASE_MS, BATCH)
            .await?;
        let mut held = 0;
        for w in due {
            if self.renew(w).await? {
                held += 1;
            }
        }
        Ok(held)
    }

    async fn renew(&self, w: WatchRow) -> Result<bool> {
        let store = self.ctx.store();
        let Some(row) = store.get_connection(None, &w.connection_id).await? else {
            store.take_watch(&w.connection_id).await?;
            return Ok(false);
        };
        if !self.wanted(&row) {
            self.stop(&row).await;
            return Ok(false);
        }
        let connector = self.ctx.connector_for(&row)?;
        if let Some(field) = &connector.spec().webhook_secret_field {
            self.ensure_webhook_secret(&row, field).await?;
        }
        let callback = self.callback_url(&row);
        let previous = watch_of(&w);
        let answer = self
            .tokens
            .call_for(
                connector.as_ref(),
                &row,
                &Call::Watch(&callback, previous.as_ref()),
            )
            .await;
        let now = now_ms();
        let failure = match answer {
            Ok(Ok(CallOut::Watch(watch))) => {
                let renew_at = now + (watch.expires_at_ms - now).max(0) / 2;
                store
                    .watch_renewed(
                        &row.id,
                        &watch.state.to_string(),
                        watch.expires_at_ms,
                        renew_at,
                        now,
                    )
                    .await?;
                tracing::debug!(connection = %row.id, expires_at = watch.expires_at_ms, "watch renewed");
                return Ok(true);
            }
            Ok(Ok(_)) => "unexpected answer".to_string(),
            Ok(Err(e)) => e.to_string(),
            Err(EngineError::Store(e)) => return Err(EngineError::Store(e)),
            Err(e) => e.to_string(),
        };
        let delay = (RETRY_FIRST_MS << w.attempts.clamp(0, 6)).min(RETRY_MAX_MS);
        tracing::warn!(connection = %row.id, error = %failure, "watch renewal failed");
        store
            .watch_failed(&row.id, &failure, now + delay, now)
            .await?;
        Ok(false)
    }

    /// Channels that echo a token (Google Calendar's) need the connection's webhook secret
    /// before the first watch; patchbay makes one, sealed like every credential.
    async fn ensure_webhook_secret(&self, row: &ConnectionRow, field: &str) -> Result<()> {
        let store = self.ctx.store();
        let creds = store.list_credentials(OWNER_TYPE, &row.id).await?;
        if creds.iter().any(|c| c.field == field) {
            return Ok(());
        }
        let secret = Secret::new(crate::auth::random_token());
        let secrets = BTreeMap::from([(field.to_string(), &secret)]);
        let credentials = self
            .ctx
            .seal_all(&row.workspace_id, &row.id, &creds, &secrets)?;
        let mut new = row.clone();
        new.version += 1;
        new.updated_at = now_ms();
        let write = ConnectionWrite {
            connection: Some(new),
            credentials,
            activity: vec![activity_row(
                Some(&row.workspace_id),
                Some(&row.id),
                "system",
                "connection.webhook_secret_created",
                json!({"field": field}),
            )],
            ..Default::default()
        };
        store.update_connection(&write, row.version).await?;
        self.ctx.changed(Change::Connection(&row.id));
        Ok(())
    }

    /// Renewal passes every `every` until `cancel`.
    pub fn spawn_renewer(
        &self,
        every: Duration,
        cancel: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let watches = self.clone();
        let mut cancel = cancel;
        tokio::spawn(async move {
            while !*cancel.borrow() {
                if let Err(e) = watches.renew_due_once().await {
                    tracing::warn!(error = %e, "watch renewal pass failed");
                }
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = cancel.changed() => {}
                }
            }
        })
    }
}

fn watch_of(row: &WatchRow) -> Option<Watch> {
    let state = serde_json::from_str(row.state.as_deref()?).ok()?;
    Some(Watch {
        expires_at_ms: row.expires_at.unwrap_or(0),
        state,
    })
}
