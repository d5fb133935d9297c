//! API tests: each runs against SQLite and PostgreSQL, with the server on a loopback port and
//! partner APIs served by the emulators.

mod api;
mod bindings;
mod browser;
mod contract;
mod drift;
mod gcal;
mod github;
mod gmail;
mod lifecycle;
mod live;
mod llm_providers;
mod oauth;
mod outbound;
mod principals;
mod proxy;
mod repos;
mod slack;
mod sync;
mod telegram;
mod todoist;
mod ui;
mod ui_browser;
mod ui_connect;
mod ui_connection;
mod ui_dashboard;
mod ui_ops;
mod vault;
mod webhook_routing;
mod webhooks;

use patchbay_connectors::providers::Catalog;
use patchbay_core::{Registry, Secret};
use patchbay_engine::{Engine, EngineOptions, Vault};
use patchbay_store::testing::{new_database, TestBackend, TestDatabase};
use patchbay_vault::MasterKey;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{json, Value};
use std::time::Duration;

/// Generates `name::sqlite` and `name::postgres` tests from `async fn name(TestBackend)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { super::$name(patchbay_store::testing::TestBackend::Sqlite).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() { super::$name(patchbay_store::testing::TestBackend::Postgres).await }
        })*
    };
}

pub const ADMIN_KEY: &str = "pbadmin_test_key_0123456789abcdef";

pub fn http() -> patchbay_connectors::HttpClient {
    patchbay_connectors::HttpClient::new(
        patchbay_connectors::NetworkPolicy::AllowAll,
        Duration::from_secs(5),
    )
}

pub fn catalog(overrides: Option<&str>) -> Catalog {
    Catalog::load(overrides).expect("provider catalog")
}

pub fn new_database_for(backend: TestBackend) -> TestDatabase {
    new_database(backend)
}

pub fn registry() -> Registry {
    patchbay_connectors::builtin(http(), &catalog(None))
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub engine: Engine,
    pub db: TestDatabase,
    pub master: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

impl TestApp {
    pub async fn spawn(backend: TestBackend) -> TestApp {
        Self::spawn_on(
            new_database(backend),
            MasterKey::generate_base64(),
            registry(),
        )
        .await
    }

    /// A server whose provider catalog has `overrides` merged in (emulated providers).
    pub async fn spawn_with_providers(backend: TestBackend, overrides: &str) -> TestApp {
        let catalog = catalog(Some(overrides));
        let registry = patchbay_connectors::builtin(http(), &catalog);
        Self::spawn_full(
            new_database(backend),
            MasterKey::generate_base64(),
            registry,
            catalog,
        )
        .await
    }

    /// A server on an existing database (a restart), with the given master key and registry.
    pub async fn spawn_on(db: TestDatabase, master: String, registry: Registry) -> TestApp {
        Self::spawn_full(db, master, registry, catalog(None)).await
    }

    pub async fn spawn_full(
        db: TestDatabase,
        master: String,
        registry: Registry,
        catalog: Catalog,
    ) -> TestApp {
        Self::spawn_ttl(
            db,
            master,
            registry,
            catalog,
            patchbay_engine::DEFAULT_CONNECT_TTL,
        )
        .await
    }

    pub async fn spawn_ttl(
        db: TestDatabase,
        master: String,
        registry: Registry,
        catalog: Catalog,
        connect_ttl: Duration,
    ) -> TestApp {
        Self::spawn_inner(db, master, registry, catalog, connect_ttl, http()).await
    }

    /// A server whose engine gives up on outbound calls after `timeout` (connectors keep the
    /// usual client).
    pub async fn spawn_with_timeout(
        backend: TestBackend,
        overrides: &str,
        timeout: Duration,
    ) -> TestApp {
        let catalog = catalog(Some(overrides));
        let registry = patchbay_connectors::builtin(http(), &catalog);
        let client = patchbay_connectors::HttpClient::new(
            patchbay_connectors::NetworkPolicy::AllowAll,
            timeout,
        );
        Self::spawn_inner(
            new_database(backend),
            MasterKey::generate_base64(),
            registry,
            catalog,
            patchbay_engine::DEFAULT_CONNECT_TTL,
            client,
        )
        .await
    }

    async fn spawn_inner(
        db: TestDatabase,
        master: String,
        registry: Registry,
        catalog: Catalog,
        connect_ttl: Duration,
        http: patchbay_connectors::HttpClient,
    ) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let store = db.open().await.expect("test database");
        let vault = Vault::load(store.clone(), MasterKey::from_base64(&master).unwrap())
            .await
            .expect("vault");
        let options = EngineOptions {
            admin_key: Some(Secret::new(ADMIN_KEY)),
            catalog,
            http,
            public_url: base.clone(),
            connect_ttl,
            job_lease: Duration::from_secs(2),
            provider_concurrency: 4,
        };
        let engine = Engine::new(store, vault, registry, options);
        engine
            .connections()
            .scan_config_drift()
            .await
            .expect("drift scan");
        let app = patchbay_server::router(
            engine.clone(),
            &patchbay_server::ServerOptions {
                body_limit: 64 * 1024,
            },
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(patchbay_server::serve(listener, app, async {
            let _ = stopped.await;
        }));
        TestApp {
            base,
            client: reqwest::Client::new(),
            engine,
            db,
            master,
            stop: Some(stop),
        }
    }

    pub fn req(&self, method: Method, path: &str, key: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(key)
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut rb = self.req(method, path, key);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        read(rb.send().await.expect("request")).await
    }

    pub async fn get(&self, path: &str, key: &str) -> (u16, Value) {
        self.call(Method::GET, path, key, None).await
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, key, Some(body)).await
    }

    pub async fn patch(&self, path: &str, key: &str, body: Value) -> (u16, Value) {
        self.call(Method::PATCH, path, key, Some(body)).await
    }

    /// Makes a pending delivery due now (as if its retry time had come).
    pub async fn store_retry(&self, delivery_id: &str) {
        self.engine
            .store()
            .retry_delivery(delivery_id, patchbay_core::now_ms())
            .await
            .unwrap();
    }

    /// Creates a workspace; returns (id, secret key).
    pub async fn workspace(&self, name: &str) -> (String, String) {
        let (status, body) = self
            .post("/v1/admin/workspaces", ADMIN_KEY, json!({"name": name}))
            .await;
        assert_eq!(status, 201, "{body}");
        (
            body["workspace"]["id"].as_str().unwrap().to_string(),
            body["secret_key"].as_str().unwrap().to_string(),
        )
    }

    /// Creates a connection and returns its JSON (with `principal_key`).
    pub async fn connection(&self, key: &str, body: Value) -> Value {
        let (status, created) = self.post("/v1/connections", key, body).await;
        assert_eq!(status, 201, "{created}");
        created
    }
}

pub async fn read(resp: Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// A valid printing partner connection body against `base_url`.
pub fn printing_body(owner: &str, shop: &str, base_url: &str, api_key: &str) -> Value {
    json!({
        "connector": "printing_partner",
        "owner": {"id": owner, "scope": {"type": "event", "id": "evt_1"}},
        "config": {"shop_id": shop, "api_base_url": base_url},
        "secrets": {"api_key": api_key, "callback_secret": "callback-secret-0123456789abcdef"}
    })
}

pub const EMULATOR_KEY: &str = "pp_test_emulator_key_0001";

/// Fails if `secret` occurs anywhere in `body`.
pub fn assert_hidden(body: &Value, secret: &str) {
    assert!(
        !body.to_string().contains(secret),
        "secret leaked in {body}"
    );
}

/// The browser's part of an OAuth connect flow against the OAuth emulator; returns the new
/// connection's id.
pub async fn oauth_connect(
    app: &TestApp,
    key: &str,
    oauth: &patchbay_emulators::OAuthEmulator,
    connector: &str,
    return_url: &str,
) -> String {
    oauth_connect_as(app, key, oauth, connector, return_url, "ada").await
}

/// Queues a sync of `entities`, runs the queue dry in this process and returns the run,
/// which must have completed.
pub async fn sync_now(app: &TestApp, key: &str, id: &str, mode: &str, entities: &[&str]) -> Value {
    let (status, run) = app
        .post(
            &format!("/v1/connections/{id}/syncs"),
            key,
            json!({"mode": mode, "entities": entities}),
        )
        .await;
    assert_eq!(status, 202, "{run}");
    while let patchbay_engine::sync::jobs::RunOutcome::Ran { .. } =
        app.engine.syncs().try_run_one("w").await.unwrap()
    {}
    let run_id = run["id"].as_str().unwrap();
    let (_, run) = app
        .get(&format!("/v1/connections/{id}/syncs/{run_id}"), key)
        .await;
    assert_eq!(run["status"], "completed", "{run}");
    run
}

/// The first 500 records of `entity`.
pub async fn records_of(app: &TestApp, key: &str, id: &str, entity: &str) -> Vec<Value> {
    let (status, page) = app
        .get(
            &format!("/v1/connections/{id}/records/{entity}?limit=500"),
            key,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    page["data"].as_array().unwrap().clone()
}

/// Google's OAuth endpoints (PKCE, client credentials in the body) for the account
/// `email`, as the emulator serves them.
pub async fn google_oauth(email: &str) -> patchbay_emulators::OAuthEmulator {
    patchbay_emulators::oauth2::spawn(patchbay_emulators::OAuthConfig {
        scopes_supported: vec![],
        client_auth: patchbay_emulators::oauth2::ClientAuth::Body,
        require_pkce: true,
        userinfo: json!({"sub": "109876543210", "email": email, "email_verified": true}),
        ..Default::default()
    })
    .await
    .unwrap()
}

/// A server whose `connector` catalog entry sends OAuth to `oauth` and API calls to
/// `api_base` (`extra`: more catalog fields, `, key: 'value'`), a workspace with the Google app
/// registered, and one connection made through the whole flow: (app, key, connection id).
pub async fn google_connected(
    backend: TestBackend,
    connector: &str,
    oauth: &patchbay_emulators::OAuthEmulator,
    api_base: &str,
    extra: &str,
) -> (TestApp, String, String) {
    let overrides = format!(
        "{connector}: {{authorization_url: '{}', token_url: '{}', revocation_url: '{}', \
         userinfo_url: '{}', api_base_url: '{api_base}'{extra}}}",
        oauth.authorize_url(),
        oauth.token_url(),
        oauth.revoke_url(),
        oauth.userinfo_url(),
    );
    let app = TestApp::spawn_with_providers(backend, &overrides).await;
    let (_, key) = app.workspace("acme").await;
    let (s, body) = app
        .call(
            Method::PUT,
            &format!("/v1/oauth-apps/{connector}"),
            &key,
            Some(json!({"client_id": oauth.config().client_id, "client_secret": oauth.config().client_secret})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let id = oauth_connect(
        &app,
        &key,
        oauth,
        connector,
        "https://app.example/connected",
    )
    .await;
    (app, key, id)
}

/// [`oauth_connect`] for another owner.
pub async fn oauth_connect_as(
    app: &TestApp,
    key: &str,
    oauth: &patchbay_emulators::OAuthEmulator,
    connector: &str,
    return_url: &str,
    owner: &str,
) -> String {
    let (s, session) = app
        .post(
            "/v1/connect-sessions",
            key,
            json!({"connector": connector, "owner": {"id": owner}, "return_url": return_url}),
        )
        .await;
    assert_eq!(s, 201, "{session}");
    let to_provider = redirect(session["authorize_url"].as_str().unwrap()).await;
    let callback = oauth.approve(&to_provider).await.unwrap();
    let back = url::Url::parse(&redirect(&callback).await).unwrap();
    assert!(back.as_str().starts_with(return_url), "{back}");
    back.query_pairs()
        .find(|(k, _)| k == "connection_id")
        .unwrap_or_else(|| panic!("no connection in {back}"))
        .1
        .into_owned()
}

/// Where `url` redirects to, without following it.
pub async fn redirect(url: &str) -> String {
    patchbay_emulators::oauth2::redirect_location(url)
        .await
        .unwrap_or_else(|e| panic!("{url} did not redirect: {e}"))
}
