//! The engine: what patchbay does, independent of HTTP. It owns the vault service (keyring
//! loaded from the database, seal/open, online rotation), authentication of API keys and
//! principals, workspaces, the connection lifecycle with its activity and outbox events, OAuth
//! apps and the connect flow, and the token manager. Later areas (queue, sync runner, webhooks)
//! join here.

pub mod actions;
pub mod activity;
pub mod auth;
pub mod connections;
mod error;
pub mod events;
pub mod idle;
pub mod live;
pub mod oauth;
pub mod proxy;
pub mod rate;
pub mod repos;
pub mod sync;
pub mod text;
pub mod vault;
pub mod views;
pub mod webhooks;
pub mod workspaces;

pub use auth::Caller;
pub use error::EngineError;
pub use vault::{RotationReport, Vault};

use patchbay_connectors::oauth::OAuthClient;
use patchbay_connectors::providers::Catalog;
use patchbay_connectors::HttpClient;
use patchbay_core::{Registry, Secret};
use patchbay_store::Store;
use std::sync::Arc;

/// What an engine needs besides its store, vault and registry.
pub struct EngineOptions {
    pub admin_key: Option<Secret>,
    pub catalog: Catalog,
    pub http: HttpClient,
    /// Where browsers reach this server; the OAuth redirect URI is built from it.
    pub public_url: String,
    /// How long connect sessions and OAuth states live.
    pub connect_ttl: std::time::Duration,
    /// How long a worker's claim on a job lasts without renewal; a dead worker's jobs are
    /// picked up by others after this.
    pub job_lease: std::time::Duration,
    /// Syncs of one provider that one process runs at once.
    pub provider_concurrency: usize,
}

/// The job lease unless configured otherwise.
pub const DEFAULT_JOB_LEASE: std::time::Duration = std::time::Duration::from_secs(30);

/// The lifetime of connect sessions and OAuth states unless configured otherwise.
pub const DEFAULT_CONNECT_TTL: std::time::Duration = std::time::Duration::from_secs(600);

/// Shared state of one patchbay process.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

/// The shared context every capability builds on, then each capability's own state, kept in
/// its folder.
struct Inner {
    store: Store,
    vault: Vault,
    registry: Registry,
    catalog: Catalog,
    http: HttpClient,
    public_url: String,
    rate: rate::RateBudget,
    auth: auth::AuthState,
    oauth: oauth::OAuthState,
    sync: sync::SyncState,
    webhooks: webhooks::WebhookState,
    events: events::EventState,
    data_cache: live::DataCache,
    proxy_cache: proxy::ProxyCache,
}

impl Engine {
    pub fn new(store: Store, vault: Vault, registry: Registry, options: EngineOptions) -> Self {
        Engine {
            inner: Arc::new(Inner {
                store,
                vault,
                registry,
                auth: auth::AuthState::new(options.admin_key.as_ref()),
                oauth: oauth::OAuthState::new(
                    OAuthClient::new(options.http.clone()),
                    options.connect_ttl,
                ),
                sync: sync::SyncState::new(options.job_lease, options.provider_concurrency),
                catalog: options.catalog,
                http: options.http,
                public_url: options.public_url.trim_end_matches('/').to_string(),
                rate: rate::RateBudget::default(),
                webhooks: webhooks::WebhookState::default(),
                events: events::EventState::default(),
                data_cache: live::DataCache::default(),
                proxy_cache: proxy::ProxyCache::default(),
            }),
        }
    }

    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    pub(crate) fn oauth(&self) -> &OAuthClient {
        &self.inner.oauth.client
    }

    /// The policy-enforcing client for calls patchbay makes itself (subscriber deliveries).
    pub(crate) fn outbound_http(&self) -> &HttpClient {
        &self.inner.http
    }

    /// The OAuth redirect URI every provider app must register.
    pub fn redirect_uri(&self) -> String {
        format!("{}/v1/oauth/callback", self.inner.public_url)
    }

    pub fn public_url(&self) -> &str {
        &self.inner.public_url
    }

    pub(crate) fn rate_budget(&self) -> &rate::RateBudget {
        &self.inner.rate
    }

    /// The budgets a call for `connection` of `provider` draws from.
    /// The provider answered a connection's call with a rate limit: that connection's calls
    /// (syncs, actions, proxy) wait it out. Providers count limits per token or user, so
    /// other connections to the same provider are not held back.
    pub(crate) fn pause_connection(
        &self,
        provider: &str,
        connection: &str,
        wait: std::time::Duration,
    ) {
        self.rate_budget()
            .pause(&format!("{provider}/{connection}"), wait);
    }

    pub(crate) fn rate_keys(
        &self,
        provider: &str,
        connection: &str,
    ) -> Vec<(String, Option<rate::Limit>)> {
        let p = self.catalog().get(provider);
        let limit = p.and_then(|p| p.requests_per_second).map(|r| rate::Limit {
            per_second: r,
            burst: p.and_then(|p| p.burst).map_or(r.max(1.0), f64::from),
        });
        let per_conn = p
            .and_then(|p| p.connection_requests_per_second)
            .map(|r| rate::Limit {
                per_second: r,
                burst: r.max(1.0),
            });
        vec![
            (provider.to_string(), limit),
            (format!("{provider}/{connection}"), per_conn),
        ]
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn vault(&self) -> &Vault {
        &self.inner.vault
    }

    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }
}

/// Reads a `limit` query parameter: 1 to 500, refused otherwise rather than quietly clamped.
pub fn de_page_limit<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<i64>, D::Error> {
    use serde::Deserialize;
    // Query strings carry text; a number arrives as a string.
    let raw = Option::<String>::deserialize(d)?;
    let Some(raw) = raw else { return Ok(None) };
    match raw.parse::<i64>() {
        Ok(n) if (1..=MAX_PAGE_LIMIT).contains(&n) => Ok(Some(n)),
        _ => Err(serde::de::Error::custom(format!(
            "limit must be a whole number from 1 to {MAX_PAGE_LIMIT}, not {raw:?}"
        ))),
    }
}

/// The largest page a list route answers.
pub const MAX_PAGE_LIMIT: i64 = 500;

/// The page size to use: 50 when none was asked for.
pub fn page_limit(requested: Option<i64>) -> i64 {
    requested.unwrap_or(50).clamp(1, 500)
}
