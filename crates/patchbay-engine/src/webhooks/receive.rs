//! Receiving: verify the delivery over its raw bytes with the connection's cached secret,
//! answer handshakes, and make the event durable through the group commit before the 2xx.

use super::Webhooks;
use super::{WebhookAck, WebhookReply};
use crate::error::{EngineError, Result};
use patchbay_connectors::webhooks::{
    bearer_token, delivery_id, handshake, kept_headers_json, route_account, token_key_id, verify,
    verify_push, PushExpectation, VerifyError,
};
use patchbay_core::{ids, now_ms, Capability, Lifecycle, WebhookRequest, WebhookScheme};
use patchbay_store::{StoreError, WebhookEventRow};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// How long a connection's webhook secret is served from memory before it is read again.
const SECRET_TTL: Duration = Duration::from_secs(10);
const BATCH: usize = 256;

/// A verified delivery waiting for its batch's commit.
type Pending = (
    WebhookEventRow,
    oneshot::Sender<std::result::Result<bool, Arc<StoreError>>>,
);

/// Group commit of inbound events.
pub(crate) struct Ingest {
    tx: mpsc::Sender<Pending>,
}

#[derive(Clone)]
struct HookTarget {
    workspace_id: String,
    connector: String,
    lifecycle: String,
    scheme: Option<WebhookScheme>,
    secret: Option<patchbay_core::Secret>,
    /// For push tokens: what they must say and where the keys are.
    push: Option<PushCheck>,
    loaded: Instant,
}

#[derive(Clone)]
struct PushCheck {
    audience: String,
    issuers: Vec<String>,
    email: Option<String>,
    jwks_url: Option<String>,
}

#[derive(Default)]
pub(crate) struct HookCache(Mutex<HashMap<String, std::sync::Arc<HookTarget>>>);

impl HookCache {
    pub(super) fn forget(&self, connection_id: &str) {
        self.0.lock().expect("hook cache").remove(connection_id);
    }
}

impl Webhooks {
    fn ingest(&self) -> &Ingest {
        self.state.ingest.get_or_init(|| {
            let (tx, mut rx) = mpsc::channel::<Pending>(BATCH * 8);
            let store = self.ctx.store().clone();
            // One batch in flight: deliveries arriving during a commit gather in the channel
            // and go into the next batch. A second batch in flight was measured on both
            // backends and was no faster (SQLite has one writer; on PostgreSQL it split the
            // batches and paid twice the per-statement cost).
            tokio::spawn(async move {
                while let Some(first) = rx.recv().await {
                    let mut batch = vec![first];
                    while batch.len() < BATCH {
                        match rx.try_recv() {
                            Ok(p) => batch.push(p),
                            Err(_) => break,
                        }
                    }
                    let (rows, replies): (Vec<WebhookEventRow>, Vec<_>) = batch.into_iter().unzip();
                    match store.insert_webhook_events(&rows).await {
                        Ok(inserted) => {
                            for (new, reply) in inserted.into_iter().zip(replies) {
                                let _ = reply.send(Ok(new));
                            }
                        }
                        Err(e) => {
                            let cause = Arc::new(e);
                            for reply in replies {
                                let _ = reply.send(Err(cause.clone()));
                            }
                        }
                    }
                }
            });
            Ingest { tx }
        })
    }

    async fn hook_target(&self, connection_id: &str) -> Result<std::sync::Arc<HookTarget>> {
        if let Some(hit) = self
            .state
            .hooks
            .0
            .lock()
            .expect("hook cache")
            .get(connection_id)
        {
            if hit.loaded.elapsed() < SECRET_TTL {
                return Ok(hit.clone());
            }
        }
        let row = self
            .ctx
            .store()
            .get_connection(None, connection_id)
            .await?
            .ok_or(EngineError::NotFound("connection"))?;
        let connector = self.ctx.connector_for(&row)?;
        let secret = match &connector.spec().webhook_secret_field {
            Some(field) => {
                let creds = self
                    .ctx
                    .store()
                    .list_credentials("connection", connection_id)
                    .await?;
                match creds.iter().find(|c| &c.field == field) {
                    Some(c) => Some(self.ctx.vault().open_credential(c).await?),
                    None => None,
                }
            }
            None => None,
        };
        let config: Value = serde_json::from_str(&row.config).unwrap_or(Value::Null);
        let scheme = connector.webhook_scheme_for(&config);
        let push = (scheme == Some(WebhookScheme::PubsubOidc)).then(|| {
            let setting = |key: &str| {
                config
                    .get(key)
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
            };
            let provider = self.ctx.catalog().get(&row.connector);
            PushCheck {
                // Pub/Sub's default audience is the push endpoint itself.
                audience: setting("push_audience").unwrap_or_else(|| {
                    format!(
                        "{}/v1/webhooks/{}/{}",
                        self.ctx.public_url().trim_end_matches('/'),
                        row.connector,
                        row.id
                    )
                }),
                issuers: provider
                    .map(|p| p.token_issuers.clone())
                    .unwrap_or_default(),
                email: setting("push_service_account"),
                jwks_url: provider.and_then(|p| p.jwks_url.clone()),
            }
        });
        let target = std::sync::Arc::new(HookTarget {
            scheme,
            push,
            workspace_id: row.workspace_id,
            connector: row.connector,
            lifecycle: row.lifecycle,
            secret,
            loaded: Instant::now(),
        });
        self.state
            .hooks
            .0
            .lock()
            .expect("hook cache")
            .insert(connection_id.to_string(), target.clone());
        Ok(target)
    }

    /// Verifies and stores one delivery for one connection; the answer means it is durable.
    pub async fn receive_webhook(
        &self,
        connector_key: &str,
        connection_id: &str,
        headers: BTreeMap<String, String>,
        body: Vec<u8>,
    ) -> Result<WebhookReply> {
        self.webhook_connector(connector_key)?;
        if !ids::is_id(ids::IdKind::Connection, connection_id) {
            return Err(EngineError::NotFound("connection"));
        }
        let target = self.hook_target(connection_id).await?;
        // Another connector's connection, or a revoked one, is simply not found here.
        if target.connector != connector_key || target.lifecycle == Lifecycle::Revoked.as_str() {
            return Err(EngineError::NotFound("connection"));
        }
        let req = WebhookRequest { headers, body };
        let scheme = self.verify_for(&target, &req).await?;
        if let Some(answer) = handshake(scheme, &req.body) {
            return Ok(WebhookReply::Handshake(answer));
        }
        let ack = self
            .store_webhook(&target, connection_id, scheme, req)
            .await?;
        Ok(WebhookReply::Stored(vec![ack]))
    }

    /// A delivery routed by its payload (GitHub App `installation.id`, Slack `team_id`): it
    /// is stored for every connection to that provider account whose secret verifies it.
    pub async fn receive_routed_webhook(
        &self,
        connector_key: &str,
        headers: BTreeMap<String, String>,
        body: Vec<u8>,
    ) -> Result<WebhookReply> {
        let connector = self.webhook_connector(connector_key)?;
        let account = route_account(connector.spec().webhook_scheme, &body).ok_or_else(|| {
            EngineError::BadRequest(format!(
                "the payload names no account to route by; post to /v1/webhooks/{connector_key}/{{connection_id}}"
            ))
        })?;
        let candidates = self
            .ctx
            .store()
            .find_connections_by_route(connector_key, &account)
            .await?;
        if candidates.is_empty() {
            return Err(EngineError::NotFound("connection"));
        }
        let req = WebhookRequest { headers, body };
        let mut verified = Vec::new();
        for row in &candidates {
            let target = self.hook_target(&row.id).await?;
            if let Ok(scheme) = self.verify_for(&target, &req).await {
                verified.push((row.id.clone(), target, scheme));
            }
        }
        let Some((_, _, first_scheme)) = verified.first() else {
            return Err(EngineError::Unauthorized(
                "webhook verification failed for every connection of this account".into(),
            ));
        };
        if let Some(answer) = handshake(*first_scheme, &req.body) {
            return Ok(WebhookReply::Handshake(answer));
        }
        let mut acks = Vec::with_capacity(verified.len());
        for (id, target, scheme) in verified {
            let copy = WebhookRequest {
                headers: req.headers.clone(),
                body: req.body.clone(),
            };
            acks.push(self.store_webhook(&target, &id, scheme, copy).await?);
        }
        Ok(WebhookReply::Stored(acks))
    }

    fn webhook_connector(
        &self,
        connector_key: &str,
    ) -> Result<std::sync::Arc<dyn patchbay_core::Connector>> {
        let connector = self.ctx.registry().get(connector_key)?;
        let spec = connector.spec();
        if spec.webhook_scheme.is_none() && !spec.supports(Capability::Webhooks) {
            return Err(EngineError::Unsupported(format!(
                "{connector_key} does not receive webhooks"
            )));
        }
        Ok(connector)
    }

    /// Commits a verified delivery (group commit with other deliveries arriving together).
    async fn store_webhook(
        &self,
        target: &HookTarget,
        connection_id: &str,
        scheme: WebhookScheme,
        req: WebhookRequest,
    ) -> Result<WebhookAck> {
        let delivery = delivery_id(scheme, &req)
            .unwrap_or_else(|| format!("body:{:032x}", xxhash_rust::xxh3::xxh3_128(&req.body)));
        let row = WebhookEventRow {
            id: ids::new_id(ids::IdKind::WebhookEvent),
            workspace_id: target.workspace_id.clone(),
            connection_id: connection_id.to_string(),
            connector: target.connector.clone(),
            delivery_id: delivery.clone(),
            headers: kept_headers_json(&req),
            body: req.body,
            status: "received".into(),
            attempts: 0,
            error: None,
            lease_expires_at: None,
            received_at: now_ms(),
            processed_at: None,
        };
        let id = row.id.clone();
        let (reply, answer) = oneshot::channel();
        self.ingest().tx.send((row, reply)).await.map_err(|_| {
            EngineError::ProviderUnavailable("the webhook store is shutting down".into())
        })?;
        let inserted = answer
            .await
            .map_err(|_| EngineError::ProviderUnavailable("the webhook store stopped".into()))?
            .map_err(|cause| EngineError::Store(StoreError::Batch(cause)))?;
        if inserted {
            return Ok(WebhookAck {
                id,
                connection_id: connection_id.to_string(),
                duplicate: false,
            });
        }
        let existing = self
            .ctx
            .store()
            .find_webhook_event(connection_id, &delivery)
            .await?
            .ok_or(EngineError::NotFound("webhook event"))?;
        Ok(WebhookAck {
            id: existing.id,
            connection_id: connection_id.to_string(),
            duplicate: true,
        })
    }
}

impl Webhooks {
    /// Verifies `req` with the connection's scheme and secret (or, for push tokens, the
    /// issuer's keys); both are mandatory.
    async fn verify_for(&self, target: &HookTarget, req: &WebhookRequest) -> Result<WebhookScheme> {
        let scheme = target.scheme.ok_or_else(|| {
            EngineError::Unauthorized("no webhook scheme is configured for this connection".into())
        })?;
        if let Some(push) = &target.push {
            self.verify_push_token(push, req).await?;
            return Ok(scheme);
        }
        verify_with_secret(scheme, target, req)
    }

    async fn verify_push_token(&self, push: &PushCheck, req: &WebhookRequest) -> Result<()> {
        let refused =
            |e: VerifyError| EngineError::Unauthorized(format!("webhook verification failed: {e}"));
        let kid = token_key_id(bearer_token(req).map_err(refused)?).map_err(refused)?;
        let url = push.jwks_url.as_deref().ok_or_else(|| {
            EngineError::Unauthorized(
                "the provider's catalog entry names no jwks_url to verify push tokens with".into(),
            )
        })?;
        let keys = self.push_keys(url, &kid).await?;
        let expect = PushExpectation {
            audience: &push.audience,
            issuers: &push.issuers,
            email: push.email.as_deref(),
        };
        verify_push(req, &keys, &expect).map_err(refused)
    }
}

fn verify_with_secret(
    scheme: WebhookScheme,
    target: &HookTarget,
    req: &WebhookRequest,
) -> Result<WebhookScheme> {
    let secret = target.secret.as_ref().map(|s| s.expose()).unwrap_or("");
    verify(scheme, req, secret, now_ms() / 1000).map_err(|e| match e {
        VerifyError::NoSecret => {
            EngineError::Unauthorized("no webhook secret is configured for this connection".into())
        }
        other => EngineError::Unauthorized(format!("webhook verification failed: {other}")),
    })?;
    Ok(scheme)
}
