//! The shared context every capability service is built on: store, vault, connector registry,
//! provider catalog, the policy-enforcing outbound HTTP client, the public URL and the rate
//! budgets. It holds no capability's state; capabilities that cache something about a
//! connection listen here for changes to it.

use crate::rate;
use patchbay_connectors::providers::Catalog;
use patchbay_connectors::HttpClient;
use patchbay_core::Registry;
use patchbay_store::Store;
use std::sync::{Arc, RwLock};

/// Cheap to clone: every service keeps one.
#[derive(Clone)]
pub struct Context {
    inner: Arc<Shared>,
}

struct Shared {
    store: Store,
    vault: crate::Vault,
    registry: Registry,
    catalog: Catalog,
    http: HttpClient,
    public_url: String,
    rate: rate::RateBudget,
    listeners: RwLock<Vec<Listener>>,
}

type Listener = Box<dyn Fn(&Change<'_>) + Send + Sync>;

/// Something changed that a capability may have cached.
#[derive(Debug, Clone, Copy)]
pub enum Change<'a> {
    /// A connection's configuration, credentials or health changed, or it was removed.
    Connection(&'a str),
    /// Integration principal keys were rotated or removed.
    Keys,
}

impl Context {
    pub fn new(
        store: Store,
        vault: crate::Vault,
        registry: Registry,
        catalog: Catalog,
        http: HttpClient,
        public_url: &str,
    ) -> Self {
        Context {
            inner: Arc::new(Shared {
                store,
                vault,
                registry,
                catalog,
                http,
                public_url: public_url.trim_end_matches('/').to_string(),
                rate: rate::RateBudget::default(),
                listeners: RwLock::new(Vec::new()),
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn vault(&self) -> &crate::Vault {
        &self.inner.vault
    }

    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    /// The policy-enforcing client for calls patchbay makes itself.
    pub(crate) fn http(&self) -> &HttpClient {
        &self.inner.http
    }

    /// Where browsers reach this server.
    pub fn public_url(&self) -> &str {
        &self.inner.public_url
    }

    /// The OAuth redirect URI every provider app must register.
    pub fn redirect_uri(&self) -> String {
        format!("{}/v1/oauth/callback", self.inner.public_url)
    }

    pub(crate) fn rate_budget(&self) -> &rate::RateBudget {
        &self.inner.rate
    }

    /// The provider answered a connection's call with a rate limit: that connection's calls
    /// (syncs, actions, proxy) wait it out. Providers count limits per token or user, so
    /// other connections to the same provider are not held back.
    pub(crate) fn pause_connection(
        &self,
        provider: &str,
        connection: &str,
        wait: std::time::Duration,
    ) {
        self.inner
            .rate
            .pause(&format!("{provider}/{connection}"), wait);
    }

    /// The budgets a call for `connection` of `provider` draws from.
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

    /// Registers a capability's cache to hear of changes. Listeners run inline and must be
    /// quick (drop an entry, clear a map).
    pub(crate) fn on_change(&self, listener: impl Fn(&Change<'_>) + Send + Sync + 'static) {
        self.inner
            .listeners
            .write()
            .expect("change listeners")
            .push(Box::new(listener));
    }

    /// Tells every listener in this process; other processes see the change when their
    /// caches expire.
    pub(crate) fn changed(&self, change: Change<'_>) {
        for listener in self
            .inner
            .listeners
            .read()
            .expect("change listeners")
            .iter()
        {
            listener(&change);
        }
    }
}
