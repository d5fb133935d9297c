//! The web UI in a real browser: signing in and out, a connection created through its
//! generated form, enabled, synced, browsed, used and disabled; CSRF; narrow screens. Every page
//! visited is checked for console errors and size and kept as a screenshot.

use crate::browser::Browser;
use crate::{both_backends, TestApp, ADMIN_KEY, EMULATOR_KEY};
use patchbay_emulators::printing_partner::{self, PrintingConfig};
use patchbay_engine::sync::jobs::RunOutcome;
use patchbay_store::testing::TestBackend;

both_backends!(
    a_planner_creates_syncs_browses_and_disables_a_connection,
    forms_without_a_csrf_token_are_refused_in_the_browser,
    pages_fit_a_narrow_screen,
    an_oauth_connection_goes_to_the_provider_and_comes_back,
    the_hosted_connect_page_creates_a_connection_and_returns,
    the_operator_sees_a_failing_connection_counted,
);

/// Runs queued syncs to the end, as a worker would.
async fn run_jobs(app: &TestApp) {
    while let RunOutcome::Ran { .. } = app.engine.syncs().try_run_one("w").await.unwrap() {}
}

async fn a_planner_creates_syncs_browses_and_disables_a_connection(backend: TestBackend) {
    let em = printing_partner::spawn(PrintingConfig {
        orders: 30,
        ..Default::default()
    })
    .await
    .unwrap();
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let b = Browser::open(&app.base, &format!("planner-{backend:?}")).await;

    b.sign_in(&key).await;
    assert_eq!(b.path().await, "/ui");
    assert!(
        b.body().await.contains("Printing"),
        "the catalog lists connectors"
    );
    b.page("catalog").await;

    b.goto("/ui/connections").await;
    b.click("#new-connection-link").await;
    b.choose("#pick-connector", "printing_partner").await;
    b.click("form[action='/ui/connections/new'][method='get'] button")
        .await;
    assert_eq!(
        b.path().await,
        "/ui/connections/new?connector=printing_partner"
    );
    b.page("new-connection").await;

    // A shop id the schema refuses comes back next to its field; the typed secrets do not.
    b.fill("#name", "Demo shop").await;
    b.fill("#owner", "user-1").await;
    b.fill("#config-shop_id", "Not A Shop!").await;
    b.fill("#config-api_base_url", &em.base_url).await;
    b.fill("#secrets-api_key", EMULATOR_KEY).await;
    b.fill(
        "#secrets-callback_secret",
        "callback-secret-0123456789abcdef",
    )
    .await;
    b.choose("#enable", "true").await;
    b.click("#create").await;
    let error = b.text(".field.invalid .field-error").await;
    assert!(!error.is_empty());
    assert!(b
        .client
        .source()
        .await
        .unwrap()
        .contains(r#"aria-describedby="config-shop_id-error""#));
    assert!(!b.client.source().await.unwrap().contains(EMULATOR_KEY));
    b.page("new-connection-errors").await;

    b.fill("#config-shop_id", "demo-shop").await;
    b.fill("#secrets-api_key", EMULATOR_KEY).await;
    b.fill(
        "#secrets-callback_secret",
        "callback-secret-0123456789abcdef",
    )
    .await;
    b.click("#create").await;
    let principal = b.text("#principal-key").await;
    assert!(principal.len() > 20, "the principal key is shown once");
    b.page("created").await;

    b.click("#open-connection").await;
    let path = b.path().await;
    let id = path.trim_start_matches("/ui/connections/").to_string();
    assert!(id.starts_with("conn_"), "{path}");
    assert_eq!(b.text("#lifecycle").await, "enabled");
    let html = b.client.source().await.unwrap();
    assert!(!html.contains(EMULATOR_KEY) && !html.contains(&principal));
    // Its data endpoints, drawn as widgets from the partner's answers.
    assert!(b.has("#widget-title-data-orders_by_status").await);
    assert!(b.has(".widget svg").await, "the chart is drawn");
    b.page("connection").await;
    b.choose("#add-source", &format!("{id} orders_shipped"))
        .await;
    b.click("#add-to-dashboard").await;
    assert_eq!(b.path().await, "/ui/dashboard");
    assert!(
        b.has("progress").await,
        "the progress widget is on the dashboard: {}",
        b.body().await
    );
    b.page("dashboard-from-connection").await;
    b.goto(&path).await;

    b.click("#sync-incremental").await;
    assert!(b.body().await.contains("pending") || b.body().await.contains("running"));
    run_jobs(&app).await;
    b.goto(&path).await;
    let runs = b.text("#sync-runs").await;
    assert!(runs.contains("completed"), "{runs}");
    b.page("synced").await;

    b.click("a[href$='/records/orders']").await;
    let rows = b
        .client
        .find_all(fantoccini::Locator::Css("tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 25, "a page of the 30 orders");
    b.page("records").await;
    b.click("a[rel='next']").await;
    assert_eq!(
        b.client
            .find_all(fantoccini::Locator::Css("tbody tr"))
            .await
            .unwrap()
            .len(),
        5
    );
    b.click("tbody tr a").await;
    assert!(b.text("pre").await.contains("\"id\""));
    b.page("record").await;

    // An action through its generated form: a wrong quantity first, then a real order.
    b.goto(&format!("/ui/connections/{id}/actions/submit_order"))
        .await;
    b.page("action-form").await;
    b.fill("#input-product_id", "prd_0001").await;
    b.fill("#input-quantity", "0").await;
    b.click("#run").await;
    assert!(b.has("#input-quantity[aria-invalid='true']").await);
    b.fill("#input-quantity", "3").await;
    b.click("#run").await;
    let result = b.text("#action-result").await;
    assert!(result.contains("ord_"), "{result}");
    b.page("action-result").await;

    b.goto(&path).await;
    b.click("#to-disabled").await;
    assert_eq!(b.text("#lifecycle").await, "disabled");
    b.page("disabled").await;
    let (_, view) = app.get(&format!("/v1/connections/{id}"), &key).await;
    assert_eq!(view["lifecycle"], "disabled");

    b.click("form[action='/ui/sign-out'] button").await;
    assert_eq!(b.path().await, "/ui/sign-in");
    b.goto("/ui/connections").await;
    assert_eq!(b.path().await, "/ui/sign-in", "signed out for good");
    b.page("signed-out").await;
    b.close().await;
}

async fn forms_without_a_csrf_token_are_refused_in_the_browser(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let b = Browser::open(&app.base, &format!("csrf-{backend:?}")).await;
    b.sign_in(&key).await;
    b.goto("/ui/connections/new?connector=printing_partner")
        .await;
    b.fill("#owner", "user-1").await;
    b.script("const f = document.querySelector('#new-connection'); f.noValidate = true; f.querySelector('input[name=csrf]').remove(); return null")
        .await;
    b.click("#create").await;
    assert!(b.body().await.contains("could not be verified"));
    b.page("refused").await;
    let (_, list) = app.get("/v1/connections", &key).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0, "nothing created");

    // The operator's session works the same way.
    let b2 = Browser::open(&app.base, &format!("csrf-operator-{backend:?}")).await;
    b2.sign_in(ADMIN_KEY).await;
    assert!(b2.body().await.contains("Workspaces"));
    b2.page("operator-home").await;
    b.close().await;
    b2.close().await;
}

async fn pages_fit_a_narrow_screen(backend: TestBackend) {
    let em = printing_partner::spawn(PrintingConfig::default())
        .await
        .unwrap();
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let mut body = crate::printing_body("u1", "demo-shop", &em.base_url, EMULATOR_KEY);
    body["enable"] = serde_json::json!(true);
    let c = app.connection(&key, body).await;
    let id = c["id"].as_str().unwrap();
    let b = Browser::open(&app.base, &format!("narrow-{backend:?}")).await;
    b.width(320).await;
    let inner = b.script("return window.innerWidth").await;
    assert!(inner.as_u64().unwrap() <= 330, "viewport {inner}");
    b.goto("/ui/sign-in").await;
    b.page("320-sign-in").await;
    b.sign_in(&key).await;
    for (label, path) in [
        ("320-catalog", "/ui".to_string()),
        ("320-connections", "/ui/connections".to_string()),
        ("320-connection", format!("/ui/connections/{id}")),
        (
            "320-new-connection",
            "/ui/connections/new?connector=printing_partner".to_string(),
        ),
        (
            "320-action",
            format!("/ui/connections/{id}/actions/submit_order"),
        ),
    ] {
        b.goto(&path).await;
        b.page(label).await;
    }
    b.close().await;
}

async fn an_oauth_connection_goes_to_the_provider_and_comes_back(backend: TestBackend) {
    let em = patchbay_emulators::oauth2::spawn(patchbay_emulators::oauth2::OAuthConfig {
        scopes_supported: vec![],
        ..Default::default()
    })
    .await
    .unwrap();
    let overrides = format!(
        "todoist: {{authorization_url: '{}', token_url: '{}', revocation_url: '{}', userinfo_url: '{}', pkce: true, client_auth: basic}}",
        em.authorize_url(),
        em.token_url(),
        em.revoke_url(),
        em.userinfo_url()
    );
    let app = TestApp::spawn_with_providers(backend, &overrides).await;
    let (_, key) = app.workspace("acme").await;
    let (s, body) = app
        .call(
            reqwest::Method::PUT,
            "/v1/oauth-apps/todoist",
            &key,
            Some(serde_json::json!({"client_id": em.config().client_id, "client_secret": em.config().client_secret})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let b = Browser::open(&app.base, &format!("oauth-{backend:?}")).await;
    b.sign_in(&key).await;
    b.goto("/ui/connections/new?connector=todoist").await;
    assert!(
        !b.has("#secrets-access_token").await,
        "no credential fields for OAuth"
    );
    b.page("new-oauth").await;
    b.fill("#owner", "user-9").await;
    b.click("#create").await;
    b.page("continue").await;
    // Through the provider and back: the browser lands on the new connection.
    b.click("#continue").await;
    let path = b.path().await;
    assert!(path.starts_with("/ui/connections/conn_"), "{path}");
    assert_eq!(b.text("#lifecycle").await, "enabled");
    b.page("oauth-connected").await;
    let (_, list) = app.get("/v1/connections", &key).await;
    assert_eq!(list["data"][0]["owner"]["id"], "user-9");
    b.close().await;
}

async fn the_hosted_connect_page_creates_a_connection_and_returns(backend: TestBackend) {
    let em = printing_partner::spawn(PrintingConfig::default())
        .await
        .unwrap();
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    // The application's page the user returns to is on another origin.
    let return_url = format!("{}/after-connect?step=2", em.base_url);
    let (status, session) = app
        .post(
            "/v1/connect-sessions",
            &key,
            serde_json::json!({
                "connectors": ["printing_partner"],
                "owner": {"id": "end-user-7"},
                "return_url": return_url,
                "config": {"shop_id": "demo-shop"}
            }),
        )
        .await;
    assert_eq!(status, 201, "{session}");
    let connect_url = session["connect_url"].as_str().unwrap();
    let b = Browser::open(&app.base, &format!("connect-{backend:?}")).await;
    b.width(320).await;
    b.client.goto(connect_url).await.unwrap();
    b.page("connect").await;

    // A key the partner refuses: the form again with the refusal, nothing stored.
    b.fill("#printing_partner-config-api_base_url", &em.base_url)
        .await;
    b.fill(
        "#printing_partner-secrets-api_key",
        "pp_test_not_the_right_key",
    )
    .await;
    b.fill(
        "#printing_partner-secrets-callback_secret",
        "callback-secret-0123456789abcdef",
    )
    .await;
    b.click(".connect-form button").await;
    assert!(b.has("#printing_partner-refusal").await);
    b.page("connect-refused").await;
    let (_, list) = app.get("/v1/connections", &key).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0);

    b.fill("#printing_partner-config-api_base_url", &em.base_url)
        .await;
    b.fill("#printing_partner-secrets-api_key", EMULATOR_KEY)
        .await;
    b.fill(
        "#printing_partner-secrets-callback_secret",
        "callback-secret-0123456789abcdef",
    )
    .await;
    b.click(".connect-form button").await;
    let url = b.client.current_url().await.unwrap();
    assert!(url.as_str().starts_with(&return_url), "{url}");
    let id = url
        .query_pairs()
        .find(|(k, _)| k == "connection_id")
        .map(|(_, v)| v.into_owned())
        .expect("connection_id on the return URL");
    let (_, view) = app.get(&format!("/v1/connections/{id}"), &key).await;
    assert_eq!(view["lifecycle"], "enabled");
    assert_eq!(view["owner"]["id"], "end-user-7");
    b.close().await;
}

async fn the_operator_sees_a_failing_connection_counted(backend: TestBackend) {
    let em = printing_partner::spawn(PrintingConfig::default())
        .await
        .unwrap();
    let app = TestApp::spawn(backend).await;
    let b = Browser::open(&app.base, &format!("operator-{backend:?}")).await;
    b.sign_in(ADMIN_KEY).await;
    b.page("operator-home").await;

    // A workspace made through the form; its key, shown once, signs a planner in.
    b.fill("#workspace-name", "Acme Events").await;
    b.click("form[action='/ui/workspaces'] button").await;
    let key = b.text("#secret-key").await;
    b.page("workspace-created").await;
    let mut body = crate::printing_body("u1", "demo-shop", &em.base_url, EMULATOR_KEY);
    body["enable"] = serde_json::json!(true);
    let c = app.connection(&key, body).await;
    let id = c["id"].as_str().unwrap();
    b.goto("/ui").await;
    assert_eq!(b.text("#failing-count").await, "0");

    // The partner stops accepting the key: a test marks it, and the count rises.
    let (s, _) = app
        .patch(
            &format!("/v1/connections/{id}"),
            &key,
            serde_json::json!({"secrets": {"api_key": "pp_test_not_the_right_key_99"}}),
        )
        .await;
    assert_eq!(s, 200);
    app.post(
        &format!("/v1/connections/{id}/test"),
        &key,
        serde_json::json!({}),
    )
    .await;
    b.goto("/ui").await;
    assert_eq!(b.text("#failing-count").await, "1");
    b.page("operator-failing").await;
    b.click("a[href='/ui/connections?health=needs_reconnect']")
        .await;
    assert!(b.body().await.contains(id));
    b.page("operator-failing-list").await;
    for (label, path) in [
        ("operator-activity", "/ui/activity"),
        ("operator-repositories", "/ui/repositories"),
    ] {
        b.goto(path).await;
        b.page(label).await;
    }

    // The planner's subscription pages, through the key the operator was shown.
    let p = Browser::open(&app.base, &format!("subscriptions-{backend:?}")).await;
    p.sign_in(&key).await;
    p.goto("/ui/subscriptions").await;
    p.page("subscriptions").await;
    p.fill("#sub-url", "https://app.example.com/hooks").await;
    p.click("form[action='/ui/subscriptions'] button").await;
    assert!(p.text("#signing-secret").await.starts_with("whsec_"));
    p.page("subscription-secret").await;
    p.goto("/ui/activity").await;
    p.page("planner-activity").await;
    b.close().await;
    p.close().await;
}
