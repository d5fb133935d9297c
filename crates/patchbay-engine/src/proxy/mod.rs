//! The authenticated proxy: a caller's request goes to the connection's provider API with the
//! connection's credential instead of the caller's key. Bodies stream both ways. The token
//! manager supplies OAuth tokens (one forced refresh and one retry after a 401), the rate
//! budget is shared with syncs and actions, and idempotent requests are retried after a 429
//! or 5xx as often as the provider's catalog entry says.

mod request;

pub use request::{end_to_end, target_url};
use request::{idempotent, join_under};

use crate::auth::Caller;
use crate::error::{EngineError, Result};
use crate::oauth::{is_oauth, Tokens};
use crate::{Change, Context};
use patchbay_core::{Capability, ConnectorError, Lifecycle};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Longest wait for a provider's `Retry-After` before the 429 is passed to the caller.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);
/// How long a connection's proxy setup (row, opened credentials) is reused in this process.
/// Edits and token failures here drop it at once; other processes see them within this time.
const TARGET_TTL: Duration = Duration::from_secs(10);

/// What the proxy needs about a connection, kept briefly so a call costs no database reads
/// beyond the caller's key.
struct Prepared {
    row: patchbay_store::ConnectionRow,
    connector: std::sync::Arc<dyn patchbay_core::Connector>,
    ctx: patchbay_core::ConnectorContext,
    /// Where requests go and the credential headers, ready to send (`None` when the connector
    /// refused, so each request reports why).
    target: Option<Target>,
    rate_keys: Vec<(String, Option<crate::rate::Limit>)>,
    /// The header names this provider signals rate limits with.
    rate_headers: patchbay_connectors::providers::RateLimitHeaders,
    retries: u32,
    oauth: bool,
    valid_until: std::time::Instant,
}

/// A connector's proxy target with its headers parsed once.
#[derive(Clone)]
struct Target {
    base_url: String,
    /// `base_url` parsed, to check joined URLs against.
    root: Url,
    headers: Vec<(HeaderName, HeaderValue)>,
}

fn target_for(
    connector: &dyn patchbay_core::Connector,
    ctx: &patchbay_core::ConnectorContext,
) -> Result<Target> {
    let target = connector
        .proxy_target(ctx)
        .map_err(EngineError::Connector)?;
    let mut headers = Vec::with_capacity(target.headers.len());
    for (name, value) in &target.headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            EngineError::Connector(ConnectorError::Config(format!(
                "invalid header name {name}"
            )))
        })?;
        let mut value = HeaderValue::from_str(value.expose()).map_err(|_| {
            EngineError::Connector(ConnectorError::Config(
                "a credential contains characters not allowed in a header".into(),
            ))
        })?;
        value.set_sensitive(true);
        headers.push((name, value));
    }
    let root = Url::parse(target.base_url.trim_end_matches('/'))
        .map_err(|e| EngineError::BadRequest(format!("invalid base URL: {e}")))?;
    Ok(Target {
        base_url: target.base_url,
        root,
        headers,
    })
}

type Shared = std::sync::Arc<Prepared>;

/// The proxy: authenticated pass-through requests to a connection's provider.
#[derive(Clone)]
pub struct Proxy {
    ctx: Context,
    tokens: Tokens,
    cache: Arc<ProxyCache>,
}

impl Proxy {
    pub(crate) fn new(ctx: Context, tokens: Tokens) -> Self {
        let cache = Arc::new(ProxyCache::default());
        let heard = cache.clone();
        // Edits and token failures drop the connection's prepared copy at once.
        ctx.on_change(move |change| {
            if let Change::Connection(id) = change {
                heard.forget(id);
            }
        });
        Proxy { ctx, tokens, cache }
    }
}

/// Read on every proxied request, written once per connection and TTL: an `RwLock`, so
/// concurrent requests never queue behind each other here.
#[derive(Default)]
struct ProxyCache(std::sync::RwLock<std::collections::HashMap<String, Shared>>);

impl ProxyCache {
    fn get(&self, id: &str) -> Option<Shared> {
        let map = self.0.read().expect("proxy cache");
        map.get(id)
            .filter(|p| p.valid_until > std::time::Instant::now())
            .cloned()
    }

    fn put(&self, id: &str, p: Shared) {
        let mut map = self.0.write().expect("proxy cache");
        if map.len() > 50_000 {
            let now = std::time::Instant::now();
            map.retain(|_, p| p.valid_until > now);
        }
        map.insert(id.to_string(), p);
    }

    fn forget(&self, id: &str) {
        self.0.write().expect("proxy cache").remove(id);
    }
}

/// A streamed request body as the caller sends it.
pub type BodyStream = std::pin::Pin<
    Box<
        dyn futures_util::Stream<
                Item = std::result::Result<bytes::Bytes, Box<dyn std::error::Error + Send + Sync>>,
            > + Send,
    >,
>;

/// A request body: buffered ones can be sent again (retries, refresh); streams only once.
pub enum ProxyBody {
    Empty,
    Buffered(bytes::Bytes),
    Stream(BodyStream),
}

/// The provider's answer body as the caller gets it: it fails once the provider has been
/// silent for the outbound timeout while it was being read.
pub type AnswerStream = crate::idle::IdleLimited<
    std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
>;

pub struct ProxyRequest {
    pub method: Method,
    /// The path after `/proxy`, as the caller sent it (still percent-encoded), e.g. `/user/repos`.
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: ProxyBody,
}

/// Headers that describe one hop, not the message (RFC 9110 section 7.6.1), plus the ones the
/// proxy sets itself. The caller's `Authorization` carries its patchbay key and never leaves.
impl Proxy {
    /// The connection as the proxy uses it, from the cache while fresh. Tenancy is checked on
    /// every call, cached or not.
    async fn prepared(&self, caller: &Caller, id: &str) -> Result<Shared> {
        if let Some(p) = self.cache.get(id) {
            let visible = caller
                .workspace_id()
                .is_none_or(|ws| ws == p.row.workspace_id);
            return if visible {
                Ok(p)
            } else {
                Err(EngineError::NotFound("connection"))
            };
        }
        let row = self.ctx.load_connection(caller, id).await?;
        let connector = self.ctx.connector_for(&row)?;
        let oauth = is_oauth(connector.as_ref());
        let ctx = self.tokens.context_for(&row, oauth).await?;
        // An OAuth token is reused only while the token manager would still hand it out.
        let ahead = self
            .ctx
            .catalog()
            .get(&row.connector)
            .map_or(300_000, |p| p.refresh_ahead_seconds as i64 * 1000);
        let token_left = row
            .token_expires_at
            .filter(|_| oauth)
            .map(|e| Duration::from_millis((e - ahead - patchbay_core::now_ms()).max(0) as u64));
        let ttl = token_left.map_or(TARGET_TTL, |left| left.min(TARGET_TTL));
        let ctx = patchbay_core::ConnectorContext {
            connection_id: row.id.clone(),
            config: ctx.config,
            secrets: ctx.secrets,
        };
        let prepared = std::sync::Arc::new(Prepared {
            target: target_for(connector.as_ref(), &ctx).ok(),
            rate_keys: self.ctx.rate_keys(&row.connector, &row.id),
            rate_headers: self
                .ctx
                .catalog()
                .get(&row.connector)
                .map(|p| p.rate_limit_headers.clone())
                .unwrap_or_default(),
            retries: self
                .ctx
                .catalog()
                .get(&row.connector)
                .map_or(2, |p| p.retries),
            row,
            connector,
            ctx,
            oauth,
            valid_until: std::time::Instant::now() + ttl,
        });
        self.cache.put(id, prepared.clone());
        Ok(prepared)
    }

    /// Sends `req` to the connection's provider and returns the provider's answer as it
    /// arrives (the body is not read here).
    pub async fn proxy(
        &self,
        caller: &Caller,
        id: &str,
        req: ProxyRequest,
    ) -> Result<reqwest::Response> {
        if matches!(caller, Caller::Integration { .. }) {
            return Err(EngineError::Forbidden(
                "integration keys cannot use the proxy; run an action instead".into(),
            ));
        }
        let prepared = self.prepared(caller, id).await?;
        let (row, connector, oauth) = (&prepared.row, prepared.connector.clone(), prepared.oauth);
        if !connector.spec().supports(Capability::Proxy) {
            return Err(EngineError::Incapable(format!(
                "{} does not support the proxy",
                row.connector
            )));
        }
        if row.lifecycle != Lifecycle::Enabled.as_str() {
            return Err(EngineError::Conflict(format!(
                "the connection is {}; the proxy needs it enabled",
                row.lifecycle
            )));
        }
        let retries = if idempotent(&req.method) {
            prepared.retries
        } else {
            0
        };
        let headers = end_to_end(&req.headers);
        let mut body = Some(req.body);
        let mut refreshed = false;
        let mut attempt = 0;
        // After a refresh the connection's context and target are rebuilt with the new token.
        let mut fresh: Option<(patchbay_core::ConnectorContext, Target)> = None;
        loop {
            let computed;
            let (ctx, target) = match (&fresh, &prepared.target) {
                (Some((ctx, target)), _) => (ctx, target),
                (None, Some(target)) => (&prepared.ctx, target),
                // The connector refused this connection's target: ask again, for the error.
                (None, None) => {
                    computed = target_for(connector.as_ref(), &prepared.ctx)?;
                    (&prepared.ctx, &computed)
                }
            };
            let url = join_under(
                &target.base_url,
                &target.root,
                &req.path,
                req.query.as_deref(),
            )?;
            // A streamed body can be sent once; a buffered one again after a refresh or retry.
            // Bytes going up count as activity, so a long upload is not taken for silence.
            let activity = crate::idle::Activity::new();
            let this_body = match body.take() {
                Some(ProxyBody::Buffered(b)) => {
                    body = Some(ProxyBody::Buffered(b.clone()));
                    Some(reqwest::Body::from(b))
                }
                Some(ProxyBody::Stream(s)) => Some(reqwest::Body::wrap_stream(activity.watch(s))),
                Some(ProxyBody::Empty) => {
                    body = Some(ProxyBody::Empty);
                    None
                }
                None => None,
            };
            let replayable = body.is_some();
            let mut out = headers.clone();
            for (name, value) in &target.headers {
                out.insert(name.clone(), value.clone());
            }
            self.ctx.rate_budget().acquire(&prepared.rate_keys).await;
            let http = self.ctx.http();
            let mut builder = http
                .request_url(req.method.clone(), url)
                .map_err(EngineError::Connector)?
                .headers(out);
            if let Some(b) = this_body {
                builder = builder.body(b);
            }
            let answer = match activity.within(http.execute(builder), http.timeout()).await {
                Some(answer) => answer,
                None => Err(ConnectorError::Network(format!(
                    "timed out: nothing moved for {} s",
                    http.timeout().as_secs()
                ))),
            };
            let resp = match answer {
                Ok(resp) => resp,
                Err(e) if e.is_transient() && attempt < retries && replayable => {
                    attempt += 1;
                    tokio::time::sleep(backoff(attempt)).await;
                    continue;
                }
                Err(e) => return Err(EngineError::Connector(e)),
            };
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED && oauth {
                let stale = ctx.secrets.get("access_token").cloned();
                if !refreshed && replayable {
                    if let Some(stale) = stale {
                        refreshed = true;
                        self.cache.forget(&row.id);
                        let token = self.tokens.force_refresh(&row.id, &stale).await?;
                        let mut ctx = patchbay_core::ConnectorContext {
                            connection_id: ctx.connection_id.clone(),
                            config: ctx.config.clone(),
                            secrets: ctx.secrets.clone(),
                        };
                        ctx.secrets.insert("access_token".into(), token);
                        let target = target_for(connector.as_ref(), &ctx)?;
                        fresh = Some((ctx, target));
                        continue;
                    }
                }
                self.cache.forget(&row.id);
                if refreshed {
                    self.tokens
                        .mark_token_expired(
                            &row.id,
                            "the provider refused a freshly refreshed token (proxy)",
                        )
                        .await?;
                }
                return Ok(resp);
            }
            let limited = patchbay_connectors::http::rate_limit(
                status.as_u16(),
                resp.headers(),
                &prepared.rate_headers,
                chrono::Utc::now(),
            );
            if let Some(wait) = limited {
                let wait = wait.map_or(Duration::from_secs(1), Duration::from_secs);
                // Limits are counted per credential: other connections keep going.
                self.ctx.pause_connection(&row.connector, &row.id, wait);
                if attempt < retries && replayable && wait <= MAX_RETRY_WAIT {
                    attempt += 1;
                    continue;
                }
                return Ok(resp);
            }
            if status.is_server_error() && attempt < retries && replayable {
                attempt += 1;
                tokio::time::sleep(backoff(attempt)).await;
                continue;
            }
            return Ok(resp);
        }
    }
}

/// The answer's body, streamed, ending in an error once the provider falls silent for the
/// outbound timeout.
pub fn answer_stream(proxy: &Proxy, resp: reqwest::Response) -> AnswerStream {
    crate::idle::IdleLimited::new(Box::pin(resp.bytes_stream()), proxy.ctx.http().timeout())
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100 * 2u64.pow(attempt.min(6)))
}
