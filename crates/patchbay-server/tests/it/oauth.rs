//! OAuth: apps, the connect flow with every failure, the token manager, revocation.

use crate::{both_backends, catalog, new_database_for, TestApp};
use patchbay_emulators::oauth2::{self, Consent, OAuthConfig, OAuthEmulator, TokenFault};
use patchbay_engine::EngineError;
use patchbay_store::testing::TestBackend;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

both_backends!(
    connect_flow_creates_and_reconnects,
    callback_failures_create_nothing,
    expired_state_redirects_with_its_code,
    one_refresh_for_a_thousand_callers,
    refresh_keeps_tokens_and_reports_dead_grants,
    unauthorized_call_refreshes_once_and_retries,
    disconnect_revokes_at_the_provider,
    oauth_apps_and_sessions_validate,
    client_credentials_connections,
    second_unauthorized_means_reconnect,
);

pub(crate) const RETURN: &str = "https://app.example/connected";

fn overrides(em: &OAuthEmulator) -> String {
    format!(
        "todoist: {{authorization_url: '{}', token_url: '{}', revocation_url: '{}', userinfo_url: '{}', pkce: true, client_auth: basic}}",
        em.authorize_url(),
        em.token_url(),
        em.revoke_url(),
        em.userinfo_url()
    )
}

async fn setup(backend: TestBackend, config: OAuthConfig) -> (OAuthEmulator, TestApp, String) {
    // Todoist's scope names are not the emulator's defaults: accept any.
    let em = oauth2::spawn(OAuthConfig {
        scopes_supported: vec![],
        ..config
    })
    .await
    .unwrap();
    let app = TestApp::spawn_with_providers(backend, &overrides(&em)).await;
    let (_, key) = app.workspace("acme").await;
    let (s, body) = app
        .call(
            reqwest::Method::PUT,
            "/v1/oauth-apps/todoist",
            &key,
            Some(json!({"client_id": em.config().client_id, "client_secret": em.config().client_secret})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        body["redirect_uri"],
        format!("{}/v1/oauth/callback", app.base)
    );
    crate::assert_hidden(&body, &em.config().client_secret);
    (em, app, key)
}

pub(crate) fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub(crate) fn query(url: &str) -> BTreeMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

pub(crate) async fn location(url: &str) -> (u16, String) {
    let resp = no_redirects().get(url).send().await.unwrap();
    let status = resp.status().as_u16();
    let loc = resp
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, loc)
}

/// Runs a connect session up to the provider's redirect back; returns the callback URL.
pub(crate) async fn consent(app: &TestApp, key: &str, em: &OAuthEmulator, owner: &str) -> String {
    let (s, session) = app
        .post(
            "/v1/connect-sessions",
            key,
            json!({"connector": "todoist", "owner": {"id": owner}, "return_url": RETURN}),
        )
        .await;
    assert_eq!(s, 201, "{session}");
    let (s, to_provider) = location(session["authorize_url"].as_str().unwrap()).await;
    assert_eq!(s, 302);
    assert!(
        to_provider.starts_with(&em.authorize_url()),
        "{to_provider}"
    );
    em.approve(&to_provider).await.unwrap()
}

pub(crate) async fn finish(callback: &str) -> BTreeMap<String, String> {
    let (s, back) = location(callback).await;
    assert_eq!(s, 302, "callback must redirect");
    assert!(back.starts_with(RETURN), "{back}");
    query(&back)
}

async fn connections(app: &TestApp, key: &str) -> Vec<Value> {
    app.get("/v1/connections?connector=todoist", key).await.1["data"]
        .as_array()
        .unwrap()
        .clone()
}

async fn connect_flow_creates_and_reconnects(backend: TestBackend) {
    let (em, app, key) = setup(backend, OAuthConfig::default()).await;
    let callback = consent(&app, &key, &em, "user-1").await;
    let sent = em.last_authorize_query().unwrap();
    assert_eq!(sent["code_challenge_method"], "S256", "PKCE S256 is sent");
    assert_eq!(
        sent["redirect_uri"],
        format!("{}/v1/oauth/callback", app.base)
    );
    assert_eq!(
        sent["scope"], "data:read_write",
        "the provider's default scopes"
    );
    let back = finish(&callback).await;
    let id = back
        .get("connection_id")
        .unwrap_or_else(|| panic!("{back:?}"))
        .clone();
    let (_, c) = app.get(&format!("/v1/connections/{id}"), &key).await;
    assert_eq!(
        (
            c["lifecycle"].as_str(),
            c["health"].as_str(),
            c["account_id"].as_str()
        ),
        (Some("enabled"), Some("healthy"), Some("u1"))
    );
    let secrets: Vec<&str> = c["redacted_secrets"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(secrets, ["access_token", "refresh_token"]);
    let (_, events) = app.get("/v1/events?limit=100", &key).await;
    assert!(events["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "connection.created" && e["connection_id"] == id.as_str()));
    let (s, t) = app
        .post(&format!("/v1/connections/{id}/test"), &key, json!({}))
        .await;
    assert_eq!(
        (s, t["ok"].as_bool(), t["account"].as_str()),
        (200, Some(true), Some("u1")),
        "{t}"
    );

    // The grant dies; the next refresh says so and the connection needs a reconnect.
    em.revoke_all_refresh_tokens();
    expire_in_db(&app, &id).await;
    let err = app.engine.tokens().access_token(&id).await.unwrap_err();
    assert!(matches!(err, EngineError::NeedsReconnect(_)), "{err}");
    assert_eq!(
        app.get(&format!("/v1/connections/{id}"), &key).await.1["health"],
        "needs_reconnect"
    );
    // Connecting the same account again updates that connection and clears it.
    let back = finish(&consent(&app, &key, &em, "user-1").await).await;
    assert_eq!(back.get("connection_id"), Some(&id), "{back:?}");
    let c = app.get(&format!("/v1/connections/{id}"), &key).await.1;
    assert_eq!(c["health"], "healthy");
    assert_eq!(connections(&app, &key).await.len(), 1);
    let (_, acts) = app
        .get(&format!("/v1/activity?connection_id={id}&limit=100"), &key)
        .await;
    let actions: Vec<&str> = acts["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    for a in [
        "connection.created",
        "connection.token_expired",
        "connection.reconnected",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    // Another owner gets a connection of their own.
    let back = finish(&consent(&app, &key, &em, "user-2").await).await;
    assert_ne!(back.get("connection_id"), Some(&id));
    assert_eq!(connections(&app, &key).await.len(), 2);
}

async fn callback_failures_create_nothing(backend: TestBackend) {
    let (em, app, key) = setup(backend, OAuthConfig::default()).await;
    let cb = format!("{}/v1/oauth/callback", app.base);
    // No state, and a state nobody issued: nowhere to send the browser.
    let resp = no_redirects()
        .get(format!("{cb}?code=x"))
        .send()
        .await
        .unwrap();
    let (s, b) = crate::read(resp).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("missing_state"))
    );
    let resp = no_redirects()
        .get(format!("{cb}?code=x&state=forged"))
        .send()
        .await
        .unwrap();
    let (s, b) = crate::read(resp).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("unknown_state"))
    );

    // Denied consent.
    em.set_consent(Consent::Deny);
    let back = finish(&consent(&app, &key, &em, "u1").await).await;
    assert_eq!(
        back.get("error").map(String::as_str),
        Some("access_denied"),
        "{back:?}"
    );
    em.set_consent(Consent::Approve);
    // A provider error.
    let callback = consent(&app, &key, &em, "u1").await;
    let state = query(&callback)["state"].clone();
    let back = finish(&format!(
        "{cb}?state={state}&error=server_error&error_description=boom"
    ))
    .await;
    assert_eq!(
        back.get("error").map(String::as_str),
        Some("provider_error"),
        "{back:?}"
    );
    // A tampered state (one character changed) is unknown.
    let callback = consent(&app, &key, &em, "u1").await;
    let q = query(&callback);
    let mut tampered = q["state"].clone();
    tampered.replace_range(0..1, if tampered.starts_with('A') { "B" } else { "A" });
    let resp = no_redirects()
        .get(format!("{cb}?code={}&state={tampered}", q["code"]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    // The untampered one still works once, then is a replay.
    let back = finish(&callback).await;
    assert!(back.contains_key("connection_id"), "{back:?}");
    let back = finish(&callback).await;
    assert_eq!(
        back.get("error").map(String::as_str),
        Some("state_replayed"),
        "{back:?}"
    );
    assert_eq!(
        connections(&app, &key).await.len(),
        1,
        "only the good callback created a connection"
    );
    // A failed exchange.
    em.fail_token_next(1, TokenFault::InvalidGrant);
    let back = finish(&consent(&app, &key, &em, "u2").await).await;
    assert_eq!(
        back.get("error").map(String::as_str),
        Some("exchange_failed"),
        "{back:?}"
    );
    em.fail_token_next(1, TokenFault::Garbage);
    let back = finish(&consent(&app, &key, &em, "u2").await).await;
    assert_eq!(
        back.get("error").map(String::as_str),
        Some("exchange_failed")
    );
    assert_eq!(
        connections(&app, &key).await.len(),
        1,
        "failures created nothing"
    );
    let (_, events) = app.get("/v1/events?limit=100", &key).await;
    let created = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "connection.created")
        .count();
    assert_eq!(created, 1);
}

async fn expired_state_redirects_with_its_code(backend: TestBackend) {
    let em = oauth2::spawn(OAuthConfig {
        scopes_supported: vec![],
        ..Default::default()
    })
    .await
    .unwrap();
    let cat = catalog(Some(&overrides(&em)));
    let registry = patchbay_connectors::builtin(crate::http(), &cat);
    let app = TestApp::spawn_ttl(
        new_database_for(backend),
        patchbay_vault::MasterKey::generate_base64(),
        registry,
        cat,
        Duration::from_millis(300),
    )
    .await;
    let (_, key) = app.workspace("acme").await;
    app.call(
        reqwest::Method::PUT,
        "/v1/oauth-apps/todoist",
        &key,
        Some(
            json!({"client_id": em.config().client_id, "client_secret": em.config().client_secret}),
        ),
    )
    .await;
    let callback = consent(&app, &key, &em, "u1").await;
    // The user took longer than the state lives.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let back = finish(&callback).await;
    assert_eq!(
        back.get("error").map(String::as_str),
        Some("state_expired"),
        "{back:?}"
    );
    assert!(connections(&app, &key).await.is_empty());
    // And the session itself has expired too.
    let (s, session) = app
        .post(
            "/v1/connect-sessions",
            &key,
            json!({"connector": "todoist", "owner": {"id": "u1"}, "return_url": RETURN}),
        )
        .await;
    assert_eq!(s, 201);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let resp = no_redirects()
        .get(session["authorize_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let (s, b) = crate::read(resp).await;
    assert_eq!((s, b["error"]["code"].as_str()), (410, Some("expired")));
}

/// Makes patchbay consider the stored access token expired.
async fn expire_in_db(app: &TestApp, id: &str) {
    let store = app.engine.store();
    let row = store.get_connection(None, id).await.unwrap().unwrap();
    let mut new = row.clone();
    new.token_expires_at = Some(patchbay_core::now_ms() - 1000);
    new.version += 1;
    let write = patchbay_store::ConnectionWrite {
        connection: Some(new),
        ..Default::default()
    };
    store.update_connection(&write, row.version).await.unwrap();
}

async fn connected(
    backend: TestBackend,
    config: OAuthConfig,
) -> (OAuthEmulator, TestApp, String, String) {
    let (em, app, key) = setup(backend, config).await;
    let back = finish(&consent(&app, &key, &em, "user-1").await).await;
    let id = back["connection_id"].clone();
    (em, app, key, id)
}

async fn one_refresh_for_a_thousand_callers(backend: TestBackend) {
    let (em, app, _, id) = connected(
        backend,
        OAuthConfig {
            rotate_refresh_tokens: true,
            ..Default::default()
        },
    )
    .await;
    expire_in_db(&app, &id).await;
    let before = em.token_requests("refresh_token");
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let engine = app.engine.clone();
            let id = id.clone();
            tokio::spawn(async move {
                engine
                    .tokens()
                    .access_token(&id)
                    .await
                    .map(|t| t.expose().to_string())
            })
        })
        .collect();
    let mut tokens = std::collections::BTreeSet::new();
    for t in tasks {
        tokens.insert(t.await.unwrap().expect("every caller gets a token"));
    }
    assert_eq!(
        em.token_requests("refresh_token") - before,
        1,
        "exactly one refresh at the provider"
    );
    assert_eq!(tokens.len(), 1, "everyone got the refreshed token");
    assert!(em.access_token_valid(tokens.iter().next().unwrap()));
}

async fn refresh_keeps_tokens_and_reports_dead_grants(backend: TestBackend) {
    // No rotation: refresh answers omit refresh_token, and the stored one must survive.
    let (em, app, key, id) = connected(
        backend,
        OAuthConfig {
            rotate_refresh_tokens: false,
            ..Default::default()
        },
    )
    .await;
    let refresh_of = |app: &TestApp, id: String| {
        let engine = app.engine.clone();
        async move {
            let creds = engine
                .store()
                .list_credentials("connection", &id)
                .await
                .unwrap();
            let c = creds
                .iter()
                .find(|c| c.field == "refresh_token")
                .unwrap()
                .clone();
            engine
                .vault()
                .open_credential(&c)
                .await
                .unwrap()
                .expose()
                .to_string()
        }
    };
    let rt = refresh_of(&app, id.clone()).await;
    for _ in 0..2 {
        expire_in_db(&app, &id).await;
        app.engine.tokens().access_token(&id).await.unwrap();
        assert_eq!(
            refresh_of(&app, id.clone()).await,
            rt,
            "the refresh token is kept"
        );
    }
    assert_eq!(em.token_requests("refresh_token"), 2);
    // 5xx is retried and never touches health.
    em.fail_token_next(2, TokenFault::ServerError);
    expire_in_db(&app, &id).await;
    app.engine
        .tokens()
        .access_token(&id)
        .await
        .expect("third attempt succeeds");
    em.fail_token_next(5, TokenFault::ServerError);
    expire_in_db(&app, &id).await;
    let err = app.engine.tokens().access_token(&id).await.unwrap_err();
    assert!(matches!(err, EngineError::ProviderUnavailable(_)), "{err}");
    assert_eq!(
        app.get(&format!("/v1/connections/{id}"), &key).await.1["health"],
        "healthy"
    );
    em.clear_faults();
    em.fail_token_next(0, TokenFault::ServerError);
    // invalid_grant: needs_reconnect, activity, and the token_expired event.
    em.fail_token_next(1, TokenFault::InvalidGrant);
    let err = app.engine.tokens().access_token(&id).await.unwrap_err();
    assert!(matches!(err, EngineError::NeedsReconnect(_)), "{err}");
    let c = app.get(&format!("/v1/connections/{id}"), &key).await.1;
    assert_eq!(c["health"], "needs_reconnect");
    let (_, events) = app.get("/v1/events?limit=100", &key).await;
    assert!(events["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "connection.token_expired" && e["connection_id"] == id.as_str()));
    // With the grant really gone, a test reports it and the health stays needs_reconnect.
    em.revoke_all_refresh_tokens();
    let (s, t) = app
        .post(&format!("/v1/connections/{id}/test"), &key, json!({}))
        .await;
    assert_eq!((s, t["ok"].as_bool()), (200, Some(false)), "{t}");
    assert_eq!(
        app.get(&format!("/v1/connections/{id}"), &key).await.1["health"],
        "needs_reconnect"
    );
}

async fn unauthorized_call_refreshes_once_and_retries(backend: TestBackend) {
    let (em, app, key, id) = connected(backend, OAuthConfig::default()).await;
    // The provider stops honouring the current token before patchbay expects it to.
    em.expire_access_tokens();
    let before = em.token_requests("refresh_token");
    let (s, t) = app
        .post(&format!("/v1/connections/{id}/test"), &key, json!({}))
        .await;
    assert_eq!((s, t["ok"].as_bool()), (200, Some(true)), "{t}");
    assert_eq!(
        em.token_requests("refresh_token") - before,
        1,
        "one forced refresh"
    );
    assert_eq!(
        app.get(&format!("/v1/connections/{id}"), &key).await.1["health"],
        "healthy"
    );
}

async fn disconnect_revokes_at_the_provider(backend: TestBackend) {
    let (em, app, key, id) = connected(backend, OAuthConfig::default()).await;
    let creds = app
        .engine
        .store()
        .list_credentials("connection", &id)
        .await
        .unwrap();
    let rt = app
        .engine
        .vault()
        .open_credential(creds.iter().find(|c| c.field == "refresh_token").unwrap())
        .await
        .unwrap();
    assert!(em.refresh_token_valid(rt.expose()));
    assert_eq!(
        app.call(
            reqwest::Method::DELETE,
            &format!("/v1/connections/{id}"),
            &key,
            None
        )
        .await
        .0,
        204
    );
    assert!(
        !em.refresh_token_valid(rt.expose()),
        "the grant was revoked (RFC 7009)"
    );
    assert!(app
        .engine
        .store()
        .list_credentials("connection", &id)
        .await
        .unwrap()
        .is_empty());
    let (_, acts) = app.get("/v1/activity?limit=100", &key).await;
    let deleted = acts["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "connection.deleted")
        .unwrap()
        .clone();
    assert_eq!(deleted["details"]["revoked_at_provider"], true);
    // Revocation is best-effort: a provider outage does not block deletion.
    let (em2, app2, key2, id2) = connected(backend, OAuthConfig::default()).await;
    em2.fail_next(10);
    assert_eq!(
        app2.call(
            reqwest::Method::DELETE,
            &format!("/v1/connections/{id2}"),
            &key2,
            None
        )
        .await
        .0,
        204
    );
    drop(em);
}

async fn oauth_apps_and_sessions_validate(backend: TestBackend) {
    let (em, app, key) = setup(backend, OAuthConfig::default()).await;
    let put = |provider: &'static str, body: Value| {
        let app = &app;
        let key = key.clone();
        async move {
            app.call(
                reqwest::Method::PUT,
                &format!("/v1/oauth-apps/{provider}"),
                &key,
                Some(body),
            )
            .await
        }
    };
    let (s, b) = put(
        "printing_partner",
        json!({"client_id": "a", "client_secret": "b"}),
    )
    .await;
    assert_eq!(s, 404, "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("todoist"));
    let (s, b) = put("todoist", json!({"client_id": "", "client_secret": ""})).await;
    assert_eq!(s, 422, "{b}");
    let (s, list) = app.get("/v1/oauth-apps", &key).await;
    assert_eq!((s, list["data"].as_array().unwrap().len()), (200, 1));
    crate::assert_hidden(&list, &em.config().client_secret);
    let session = |body: Value| {
        let app = &app;
        let key = key.clone();
        async move { app.post("/v1/connect-sessions", &key, body).await }
    };
    let (s, b) = session(
        json!({"connector": "printing_partner", "owner": {"id": "u"}, "return_url": RETURN}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    assert!(
        b.get("authorize_url").is_none() && b["connect_url"].is_string(),
        "API-key connectors connect through the hosted page, not OAuth: {b}"
    );
    let (s, _) = session(
        json!({"connector": "todoist", "owner": {"id": "u"}, "return_url": "javascript:alert(1)"}),
    )
    .await;
    assert_eq!(s, 422);
    let (s, _) =
        session(json!({"connector": "nope", "owner": {"id": "u"}, "return_url": RETURN})).await;
    assert_eq!(s, 404);
    let (_, other_key) = app.workspace("other").await;
    let (s, b) = app
        .post(
            "/v1/connect-sessions",
            &other_key,
            json!({"connector": "todoist", "owner": {"id": "u"}, "return_url": RETURN}),
        )
        .await;
    assert_eq!(
        (s, b["error"]["details"]["fields"][0]["code"].as_str()),
        (422, Some("no_oauth_app")),
        "{b}"
    );
    let resp = no_redirects()
        .get(format!(
            "{}/v1/oauth/authorize?session=pbcs_unknown",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

/// A service account API: connected with the client-credentials grant, checked via userinfo.
struct MachineApi {
    userinfo: String,
    spec: patchbay_core::ConnectorSpec,
}

#[async_trait::async_trait]
impl patchbay_core::Connector for MachineApi {
    fn spec(&self) -> &patchbay_core::ConnectorSpec {
        &self.spec
    }
    async fn test_connection(
        &self,
        ctx: &patchbay_core::ConnectorContext,
    ) -> Result<patchbay_core::TestOutcome, patchbay_core::ConnectorError> {
        let http = crate::http();
        let req = http
            .request(reqwest::Method::GET, &self.userinfo)?
            .bearer_auth(ctx.secret("access_token")?.expose());
        let (user, _) = http.send_json(req).await?;
        Ok(patchbay_core::TestOutcome {
            ok: true,
            message: "ok".into(),
            account: user["id"].as_str().map(str::to_string),
        })
    }
}

async fn client_credentials_connections(backend: TestBackend) {
    let em = oauth2::spawn(OAuthConfig {
        scopes_supported: vec![],
        ..Default::default()
    })
    .await
    .unwrap();
    let yaml = format!(
        "machine_api: {{auth_mode: oauth2_client_credentials, token_url: '{}', default_scopes: [read], client_auth: basic}}",
        em.token_url()
    );
    let cat = catalog(Some(&yaml));
    let mut registry = patchbay_connectors::builtin(crate::http(), &cat);
    let mut spec = registry.get("todoist").unwrap().spec().clone();
    spec.key = "machine_api".into();
    spec.name = "Machine API".into();
    spec.auth = patchbay_core::AuthKind::Oauth2ClientCredentials;
    registry.register(std::sync::Arc::new(MachineApi {
        userinfo: em.userinfo_url(),
        spec,
    }));
    let app = TestApp::spawn_full(
        new_database_for(backend),
        patchbay_vault::MasterKey::generate_base64(),
        registry,
        cat,
    )
    .await;
    let (_, key) = app.workspace("acme").await;
    let body = json!({"connector": "machine_api", "owner": {"id": "svc"}, "enable": true});
    let (s, b) = app.post("/v1/connections", &key, body.clone()).await;
    assert_eq!(
        (s, b["error"]["details"]["fields"][0]["code"].as_str()),
        (422, Some("no_oauth_app")),
        "{b}"
    );
    app.call(
        reqwest::Method::PUT,
        "/v1/oauth-apps/machine_api",
        &key,
        Some(
            json!({"client_id": em.config().client_id, "client_secret": em.config().client_secret}),
        ),
    )
    .await;
    let c = app.connection(&key, body).await;
    assert_eq!(c["lifecycle"], "enabled");
    assert!(c["redacted_secrets"]["access_token"].is_string());
    assert_eq!(em.token_requests("client_credentials"), 1);
    let id = c["id"].as_str().unwrap().to_string();
    // Expiry gets a new client-credentials token, not a refresh.
    expire_in_db(&app, &id).await;
    let (s, t) = app
        .post(&format!("/v1/connections/{id}/test"), &key, json!({}))
        .await;
    assert_eq!((s, t["ok"].as_bool()), (200, Some(true)), "{t}");
    assert_eq!(em.token_requests("client_credentials"), 2);
    assert_eq!(em.token_requests("refresh_token"), 0);
    // A token endpoint that refuses the app keeps the connection from being enabled.
    em.fail_token_next(1, TokenFault::ServerError);
    em.fail_token_next(3, TokenFault::ServerError);
    let (s, b) = app
        .post(
            "/v1/connections",
            &key,
            json!({"connector": "machine_api", "owner": {"id": "svc2"}, "enable": true}),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (502, Some("provider_unavailable")),
        "{b}"
    );
}

/// A provider API that refuses every token, fresh or not.
struct Grumpy {
    spec: patchbay_core::ConnectorSpec,
}

#[async_trait::async_trait]
impl patchbay_core::Connector for Grumpy {
    fn spec(&self) -> &patchbay_core::ConnectorSpec {
        &self.spec
    }
    async fn test_connection(
        &self,
        _ctx: &patchbay_core::ConnectorContext,
    ) -> Result<patchbay_core::TestOutcome, patchbay_core::ConnectorError> {
        Err(patchbay_core::ConnectorError::Unauthorized {
            status: 401,
            message: "token rejected".into(),
        })
    }
}

async fn second_unauthorized_means_reconnect(backend: TestBackend) {
    let em = oauth2::spawn(OAuthConfig {
        scopes_supported: vec![],
        ..Default::default()
    })
    .await
    .unwrap();
    let yaml = format!(
        "grumpy: {{auth_mode: oauth2, authorization_url: '{}', token_url: '{}', client_auth: basic}}",
        em.authorize_url(),
        em.token_url()
    );
    let cat = catalog(Some(&yaml));
    let mut registry = patchbay_connectors::builtin(crate::http(), &cat);
    let mut spec = registry.get("todoist").unwrap().spec().clone();
    spec.key = "grumpy".into();
    registry.register(std::sync::Arc::new(Grumpy { spec }));
    let app = TestApp::spawn_full(
        new_database_for(backend),
        patchbay_vault::MasterKey::generate_base64(),
        registry,
        cat,
    )
    .await;
    let (_, key) = app.workspace("acme").await;
    app.call(
        reqwest::Method::PUT,
        "/v1/oauth-apps/grumpy",
        &key,
        Some(
            json!({"client_id": em.config().client_id, "client_secret": em.config().client_secret}),
        ),
    )
    .await;
    // Tokens imported from elsewhere (a migration), on a draft.
    let issued = em.issue_tokens("read");
    let body = json!({"connector": "grumpy", "owner": {"id": "u1"},
        "secrets": {"access_token": issued["access_token"], "refresh_token": issued["refresh_token"]}});
    let c = app.connection(&key, body).await;
    let id = c["id"].as_str().unwrap();
    let (s, t) = app
        .post(&format!("/v1/connections/{id}/test"), &key, json!({}))
        .await;
    assert_eq!((s, t["ok"].as_bool()), (200, Some(false)), "{t}");
    assert_eq!(
        em.token_requests("refresh_token"),
        1,
        "one forced refresh between the two attempts"
    );
    let c = app.get(&format!("/v1/connections/{id}"), &key).await.1;
    assert_eq!(c["health"], "needs_reconnect");
    let (_, events) = app.get("/v1/events?limit=100", &key).await;
    assert!(events["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "connection.token_expired"));
}
