//! The engine: what patchbay does, independent of HTTP. One folder per capability, each owning
//! a service with its own state (connections, oauth, sync, webhooks, events, actions, proxy,
//! live, bindings, activity), built on the shared [`Context`]; [`Engine`] is the thin front that builds
//! them and hands them out. Also here: the vault service (keyring loaded from the database,
//! seal/open, online rotation), key authentication, workspaces, the repository registry, custom LLM
//! providers and dashboard widgets.

pub mod actions;
pub mod activity;
pub mod auth;
pub mod bindings;
pub mod connections;
mod context;
mod error;
pub mod events;
pub mod idle;
pub mod live;
pub mod llm_providers;
pub mod oauth;
pub mod proxy;
pub mod rate;
pub mod repos;
pub mod sync;
pub mod text;
pub mod vault;
pub mod views;
pub mod webhooks;
pub mod widgets;
pub mod workspaces;

pub use auth::Caller;
pub use context::{Change, Context};
pub use error::EngineError;
pub use vault::{RotationReport, Vault};

use patchbay_connectors::providers::Catalog;
use patchbay_connectors::HttpClient;
use patchbay_core::{Registry, Secret};
use patchbay_store::Store;

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

/// One patchbay process: the shared context and every capability's service. A thin front:
/// handlers ask it for the service they need (`engine.syncs()`, `engine.oauth()`, ...); no
/// service depends on it.
#[derive(Clone)]
pub struct Engine {
    ctx: Context,
    auth: auth::Auth,
    tokens: oauth::Tokens,
    oauth: oauth::OAuth,
    connections: connections::Connections,
    syncs: sync::Syncs,
    webhooks: webhooks::Webhooks,
    events: events::Events,
    actions: actions::Actions,
    bindings: bindings::Bindings,
    proxy: proxy::Proxy,
    live: live::Live,
}

impl Engine {
    pub fn new(store: Store, vault: Vault, registry: Registry, options: EngineOptions) -> Self {
        let ctx = Context::new(
            store,
            vault,
            registry,
            options.catalog,
            options.http,
            &options.public_url,
        );
        let tokens = oauth::Tokens::new(ctx.clone());
        let watches = webhooks::Watches::new(ctx.clone(), tokens.clone());
        let connections = connections::Connections::new(ctx.clone(), tokens.clone(), watches);
        let syncs = sync::Syncs::new(
            ctx.clone(),
            tokens.clone(),
            options.job_lease,
            options.provider_concurrency,
        );
        let actions = actions::Actions::new(ctx.clone(), tokens.clone());
        let bindings = bindings::Bindings::new(ctx.clone(), actions.clone());
        Engine {
            auth: auth::Auth::new(ctx.clone(), options.admin_key.as_ref()),
            oauth: oauth::OAuth::new(
                ctx.clone(),
                tokens.clone(),
                connections.clone(),
                options.connect_ttl,
            ),
            webhooks: webhooks::Webhooks::new(
                ctx.clone(),
                syncs.clone(),
                bindings.clone(),
                options.job_lease,
            ),
            connections,
            syncs,
            events: events::Events::new(ctx.clone()),
            actions,
            bindings,
            proxy: proxy::Proxy::new(ctx.clone(), tokens.clone()),
            live: live::Live::new(ctx.clone(), tokens.clone()),
            tokens,
            ctx,
        }
    }

    /// The shared context: store, vault, registry, catalog.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    pub fn auth(&self) -> &auth::Auth {
        &self.auth
    }

    /// The token manager: access tokens refreshed ahead of expiry.
    pub fn tokens(&self) -> &oauth::Tokens {
        &self.tokens
    }

    /// OAuth apps, connect sessions and the callback.
    pub fn oauth(&self) -> &oauth::OAuth {
        &self.oauth
    }

    pub fn connections(&self) -> &connections::Connections {
        &self.connections
    }

    pub fn syncs(&self) -> &sync::Syncs {
        &self.syncs
    }

    /// Inbound webhooks.
    /// Push subscriptions held at providers.
    pub fn watches(&self) -> &webhooks::Watches {
        self.connections.watches()
    }

    pub fn webhooks(&self) -> &webhooks::Webhooks {
        &self.webhooks
    }

    /// Outbound events: outbox, subscriptions, deliveries.
    pub fn events(&self) -> &events::Events {
        &self.events
    }

    pub fn actions(&self) -> &actions::Actions {
        &self.actions
    }

    /// Channel bindings, message routing and replies.
    pub fn bindings(&self) -> &bindings::Bindings {
        &self.bindings
    }

    pub fn proxy(&self) -> &proxy::Proxy {
        &self.proxy
    }

    /// Signals, live data and alerts.
    pub fn live(&self) -> &live::Live {
        &self.live
    }

    pub fn activity(&self) -> activity::ActivityLog {
        activity::ActivityLog::new(self.ctx.clone())
    }

    /// Custom OpenAI-compatible LLM providers.
    pub fn llm_providers(&self) -> llm_providers::LlmProviders {
        llm_providers::LlmProviders::new(self.ctx.clone())
    }

    pub fn repositories(&self) -> repos::Repositories {
        repos::Repositories::new(self.ctx.clone())
    }

    /// Dashboard widgets and their data.
    pub fn widgets(&self) -> widgets::Widgets {
        widgets::Widgets::new(self.ctx.clone(), self.live.clone())
    }

    pub fn workspaces(&self) -> workspaces::Workspaces {
        workspaces::Workspaces::new(self.ctx.clone())
    }

    pub fn catalog(&self) -> &Catalog {
        self.ctx.catalog()
    }

    pub fn redirect_uri(&self) -> String {
        self.ctx.redirect_uri()
    }

    pub fn public_url(&self) -> &str {
        self.ctx.public_url()
    }

    pub fn store(&self) -> &Store {
        self.ctx.store()
    }

    pub fn vault(&self) -> &Vault {
        self.ctx.vault()
    }

    pub fn registry(&self) -> &Registry {
        self.ctx.registry()
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
