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
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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

struct Inner {
    store: Store,
    vault: Vault,
    registry: Registry,
    admin_key_hash: Option<String>,
    /// When each key's use was last recorded, to record at most once a minute per key.
    key_use: Mutex<HashMap<String, i64>>,
    catalog: Catalog,
    oauth: OAuthClient,
    http: HttpClient,
    public_url: String,
    connect_ttl_ms: i64,
    /// One lock per connection whose token is being refreshed in this process.
    refresh_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    rate: rate::RateBudget,
    /// How long a claimed job stays claimed without a renewal.
    job_lease_ms: i64,
    provider_concurrency: usize,
    provider_slots: Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
    ingest: std::sync::OnceLock<webhooks::Ingest>,
    hooks: webhooks::HookCache,
    /// When fan-out last looked behind each subscription's cursor, in this process.
    fan_out_rechecks: Mutex<HashMap<String, i64>>,
    data_cache: live::DataCache,
    proxy_cache: proxy::ProxyCache,
    auth_cache: auth::AuthCache,
}

impl Engine {
    pub fn new(store: Store, vault: Vault, registry: Registry, options: EngineOptions) -> Self {
        Engine {
            inner: Arc::new(Inner {
                store,
                vault,
                registry,
                admin_key_hash: options
                    .admin_key
                    .as_ref()
                    .map(|k| auth::hash_key(k.expose())),
                key_use: Mutex::new(HashMap::new()),
                catalog: options.catalog,
                oauth: OAuthClient::new(options.http.clone()),
                http: options.http,
                public_url: options.public_url.trim_end_matches('/').to_string(),
                connect_ttl_ms: options.connect_ttl.as_millis() as i64,
                refresh_locks: Mutex::new(HashMap::new()),
                rate: rate::RateBudget::default(),
                job_lease_ms: options.job_lease.as_millis() as i64,
                provider_concurrency: options.provider_concurrency.max(1),
                provider_slots: Mutex::new(HashMap::new()),
                ingest: std::sync::OnceLock::new(),
                hooks: webhooks::HookCache::default(),
                fan_out_rechecks: Mutex::new(HashMap::new()),
                data_cache: live::DataCache::default(),
                proxy_cache: proxy::ProxyCache::default(),
                auth_cache: auth::AuthCache::default(),
            }),
        }
    }

    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    pub(crate) fn oauth(&self) -> &OAuthClient {
        &self.inner.oauth
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

    /// A slot for one more concurrent sync of `provider` in this process.
    pub(crate) async fn provider_slot(&self, provider: &str) -> tokio::sync::OwnedSemaphorePermit {
        let sem = {
            let mut slots = self.inner.provider_slots.lock().expect("provider slots");
            slots
                .entry(provider.to_string())
                .or_insert_with(|| {
                    Arc::new(tokio::sync::Semaphore::new(self.inner.provider_concurrency))
                })
                .clone()
        };
        sem.acquire_owned().await.expect("semaphore never closes")
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

/// Clamps a requested page size.
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

pub fn page_limit(requested: Option<i64>) -> i64 {
    requested.unwrap_or(50).clamp(1, 500)
}
