//! The hosted connect page: a connect session offering an API-key connector and an OAuth one,
//! the credential form checked with the partner before anything is kept, single use, expiry,
//! and the OAuth choice going on to the provider.

use crate::oauth::{location, query};
use crate::ui::{assert_ui_headers, browser, csrf_field, pair, set_cookie};
use crate::{both_backends, catalog, new_database_for, TestApp, EMULATOR_KEY};
use patchbay_emulators::oauth2::{self, OAuthConfig, OAuthEmulator};
use patchbay_emulators::{printing_partner, PrintingEmulator};
use patchbay_store::testing::TestBackend;
use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, LOCATION};
use reqwest::Response;
use serde_json::{json, Value};
use std::time::Duration;

both_backends!(
    the_form_connects_an_api_key_connector_once,
    an_oauth_choice_goes_to_the_provider,
    sessions_name_their_connectors,
    expired_and_unknown_sessions_get_a_clear_page,
);

const RETURN: &str = "https://app.example/connected?from=patchbay";
const CALLBACK_SECRET: &str = "callback-secret-0123456789abcdef";

/// Todoist's OAuth at the emulator, as the catalog sees it.
fn todoist_at(em: &OAuthEmulator) -> String {
    format!(
        "todoist: {{authorization_url: '{}', token_url: '{}', revocation_url: '{}', userinfo_url: '{}', pkce: true, client_auth: basic}}",
        em.authorize_url(),
        em.token_url(),
        em.revoke_url(),
        em.userinfo_url()
    )
}

async fn oauth_emulator() -> OAuthEmulator {
    // Todoist's scope names are not the emulator's defaults: accept any.
    oauth2::spawn(OAuthConfig {
        scopes_supported: vec![],
        ..Default::default()
    })
    .await
    .unwrap()
}

/// Registers the workspace's Todoist app at the emulator.
async fn register_app(app: &TestApp, key: &str, em: &OAuthEmulator) {
    let (s, body) = app
        .call(
            reqwest::Method::PUT,
            "/v1/oauth-apps/todoist",
            key,
            Some(json!({"client_id": em.config().client_id, "client_secret": em.config().client_secret})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
}

/// A server with Todoist's OAuth at an emulator and the printing partner emulator; a
/// workspace with the Todoist app: (app, key, oauth emulator, printing emulator).
async fn setup(backend: TestBackend) -> (TestApp, String, OAuthEmulator, PrintingEmulator) {
    let em = oauth_emulator().await;
    let app = TestApp::spawn_with_providers(backend, &todoist_at(&em)).await;
    let (_, key) = app.workspace("acme").await;
    register_app(&app, &key, &em).await;
    let printing = printing_partner::spawn(Default::default()).await.unwrap();
    (app, key, em, printing)
}

/// A session offering the printing partner (shop set, API base URL left to the form) and
/// Todoist.
async fn offer_both(app: &TestApp, key: &str) -> Value {
    let (s, session) = app
        .post(
            "/v1/connect-sessions",
            key,
            json!({
                "connectors": ["printing_partner", "todoist"],
                "owner": {"id": "user-7", "scope": {"type": "event", "id": "evt_1"}},
                "return_url": RETURN,
                "config": {"shop_id": "demo-shop"}
            }),
        )
        .await;
    assert_eq!(s, 201, "{session}");
    session
}

/// Opens the page: (response status, the CSRF cookie pair if one was set, the html).
async fn open(url: &str) -> (u16, Option<String>, String) {
    let resp = browser().get(url).send().await.unwrap();
    assert_ui_headers(&resp);
    let status = resp.status().as_u16();
    let cookie = set_cookie(&resp, "pb_connect_csrf");
    if let Some(c) = &cookie {
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/connect"] {
            assert!(c.contains(attribute), "{c}");
        }
    }
    // Either spelling of an escaped `&` is fine.
    let html = resp.text().await.unwrap().replace("&#38;", "&amp;");
    (status, cookie.map(|c| pair(&c)), html)
}

async fn post(app: &TestApp, cookie: Option<&str>, form: &[(&str, &str)]) -> Response {
    let mut req = browser().post(format!("{}/connect", app.base)).form(form);
    if let Some(c) = cookie {
        req = req.header(COOKIE, c);
    }
    let resp = req.send().await.unwrap();
    assert_ui_headers(&resp);
    resp
}

/// The printing partner form as a user fills it in.
fn printing_form<'a>(token: &'a str, csrf: &'a str, api_key: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("session", token),
        ("connector", "printing_partner"),
        ("config.api_base_url", ""),
        ("secrets.api_key", api_key),
        ("secrets.callback_secret", CALLBACK_SECRET),
    ]
}

async fn connections(app: &TestApp, key: &str) -> Vec<Value> {
    let (s, list) = app.get("/v1/connections", key).await;
    assert_eq!(s, 200, "{list}");
    list["data"].as_array().unwrap().clone()
}

async fn the_form_connects_an_api_key_connector_once(backend: TestBackend) {
    let (app, key, _em, printing) = setup(backend).await;
    let session = offer_both(&app, &key).await;
    let token = session["token"].as_str().unwrap();
    assert_eq!(
        session["connect_url"],
        format!("{}/connect?session={token}", app.base)
    );
    assert!(
        session.get("authorize_url").is_none(),
        "several connectors: the page chooses"
    );

    // The page lists both; Todoist is a link to the provider, the partner a form asking for
    // its secrets and the config the session left out.
    let resp = browser()
        .get(session["connect_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let csp = resp.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.contains("form-action 'self' https://app.example"),
        "{csp}"
    );
    let (status, cookie, html) = open(session["connect_url"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{html}");
    let cookie = cookie.expect("a CSRF cookie");
    let csrf = csrf_field(&html);
    for text in [
        "Printing partner",
        "Print shop orders and products",
        "Todoist",
        &format!("/v1/oauth/authorize?session={token}&amp;connector=todoist"),
        r#"name="secrets.api_key" type="password""#,
        r#"name="secrets.callback_secret" type="password""#,
        r#"name="config.api_base_url""#,
        r#"<label for="printing_partner-secrets-api_key">"#,
        "https://app.example/connected?from=patchbay&amp;error=access_denied",
    ] {
        assert!(html.contains(text), "{text} missing from the page");
    }
    assert!(
        !html.contains(r#"name="config.shop_id""#),
        "the session set it"
    );
    assert!(html.len() < 100 * 1024);

    // Forms without the CSRF cookie, or with another token, are refused.
    let resp = post(&app, None, &printing_form(token, &csrf, EMULATOR_KEY)).await;
    assert_eq!(resp.status(), 403);
    let other = "0".repeat(64);
    let resp = post(
        &app,
        Some(&cookie),
        &printing_form(token, &other, EMULATOR_KEY),
    )
    .await;
    assert_eq!(resp.status(), 403);
    assert!(connections(&app, &key).await.is_empty());

    // A required config field left empty is shown next to its control.
    let resp = post(
        &app,
        Some(&cookie),
        &printing_form(token, &csrf, EMULATOR_KEY),
    )
    .await;
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains(r#"id="printing_partner-config-api_base_url-error""#),
        "{html}"
    );
    assert!(!html.contains(EMULATOR_KEY), "a secret is never rendered");

    // A key the partner refuses: the form again with the partner's refusal, nothing kept.
    let wrong = "pp_test_not_the_right_key_1";
    let mut form = printing_form(token, &csrf, wrong);
    form[3].1 = &printing.base_url;
    let resp = post(&app, Some(&cookie), &form).await;
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("The provider did not accept this key"),
        "{html}"
    );
    assert!(html.contains("rejected the credentials"), "{html}");
    assert!(!html.contains(wrong) && !html.contains(CALLBACK_SECRET));
    assert!(
        html.contains(&format!(r#"value="{}""#, printing.base_url)),
        "config typed in is kept"
    );
    assert!(connections(&app, &key).await.is_empty());

    // The right key: an enabled connection for the session's owner, and back to the app.
    let mut form = printing_form(token, &csrf, EMULATOR_KEY);
    form[3].1 = &printing.base_url;
    let resp = post(&app, Some(&cookie), &form).await;
    assert_eq!(resp.status(), 303);
    let back = resp.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(back.starts_with("https://app.example/connected?"), "{back}");
    let back = query(&back);
    assert_eq!(back["from"], "patchbay");
    let id = &back["connection_id"];
    assert!(!back.contains_key("principal_key"));
    let (s, c) = app.get(&format!("/v1/connections/{id}"), &key).await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(
        (
            c["connector"].as_str(),
            c["lifecycle"].as_str(),
            c["owner"]["id"].as_str(),
            c["account_id"].as_str()
        ),
        (
            Some("printing_partner"),
            Some("enabled"),
            Some("user-7"),
            Some("demo-shop")
        ),
        "{c}"
    );
    crate::assert_hidden(&c, EMULATOR_KEY);
    assert_eq!(connections(&app, &key).await.len(), 1);

    // The session is used up: another submit, the page and the authorize link say so.
    let resp = post(&app, Some(&cookie), &form).await;
    assert_eq!(resp.status(), 410);
    assert!(resp.text().await.unwrap().contains("already used"));
    let (status, _, html) = open(session["connect_url"].as_str().unwrap()).await;
    assert_eq!(status, 410);
    assert!(html.contains("already used"), "{html}");
    let (status, _) = location(&format!(
        "{}/v1/oauth/authorize?session={token}&connector=todoist",
        app.base
    ))
    .await;
    assert_eq!(status, 410);
    assert_eq!(connections(&app, &key).await.len(), 1);
}

async fn an_oauth_choice_goes_to_the_provider(backend: TestBackend) {
    let (app, key, em, _printing) = setup(backend).await;
    let session = offer_both(&app, &key).await;
    let token = session["token"].as_str().unwrap();
    let authorize = |extra: &str| format!("{}/v1/oauth/authorize?session={token}{extra}", app.base);
    // Among several, the user's choice must be one the session offers, and OAuth.
    for (extra, code) in [
        ("", "required"),
        ("&connector=printing_partner", "not_oauth"),
        ("&connector=github", "not_allowed"),
    ] {
        let resp = browser().get(authorize(extra)).send().await.unwrap();
        let (s, b) = crate::read(resp).await;
        assert_eq!(
            (s, b["error"]["details"]["fields"][0]["code"].as_str()),
            (422, Some(code)),
            "{extra}: {b}"
        );
    }
    let (s, to_provider) = location(&authorize("&connector=todoist")).await;
    assert_eq!(s, 302);
    assert!(
        to_provider.starts_with(&em.authorize_url()),
        "{to_provider}"
    );
    assert_eq!(
        query(&to_provider)["scope"],
        "data:read_write",
        "the provider's defaults"
    );
    let callback = em.approve(&to_provider).await.unwrap();
    let (s, back) = location(&callback).await;
    assert_eq!(s, 302);
    assert!(back.starts_with(RETURN), "{back}");
    let id = query(&back)["connection_id"].clone();
    let (_, c) = app.get(&format!("/v1/connections/{id}"), &key).await;
    assert_eq!(
        (
            c["connector"].as_str(),
            c["lifecycle"].as_str(),
            c["owner"]["id"].as_str()
        ),
        (Some("todoist"), Some("enabled"), Some("user-7")),
        "the partner's config is not Todoist's: {c}"
    );
    // Connected: the page is closed.
    let (status, _, html) = open(session["connect_url"].as_str().unwrap()).await;
    assert_eq!(status, 410, "{html}");
}

async fn sessions_name_their_connectors(backend: TestBackend) {
    let (app, key, em, _printing) = setup(backend).await;
    let create = |body: Value| {
        let app = &app;
        let key = key.clone();
        async move { app.post("/v1/connect-sessions", &key, body).await }
    };
    let owner = json!({"id": "u"});
    // One OAuth connector: straight to the provider, or through the page.
    let (s, single) =
        create(json!({"connector": "todoist", "owner": owner, "return_url": RETURN})).await;
    assert_eq!(s, 201, "{single}");
    let (s, to_provider) = location(single["authorize_url"].as_str().unwrap()).await;
    assert_eq!(s, 302);
    assert!(to_provider.starts_with(&em.authorize_url()));
    let (status, _, html) = open(single["connect_url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert!(html.contains("Todoist") && !html.contains("Printing partner"));
    // One API-key connector: the page only.
    let (s, partner) =
        create(json!({"connector": "printing_partner", "owner": owner, "return_url": RETURN}))
            .await;
    assert_eq!(s, 201, "{partner}");
    assert!(partner.get("authorize_url").is_none(), "{partner}");
    assert!(partner["connect_url"]
        .as_str()
        .unwrap()
        .contains("/connect?session=pbcs_"));
    // Refused: neither or both, an empty list, an unknown connector, an OAuth app missing.
    for (body, status) in [
        (json!({"owner": owner, "return_url": RETURN}), 422),
        (
            json!({"connector": "todoist", "connectors": ["todoist"], "owner": owner, "return_url": RETURN}),
            422,
        ),
        (
            json!({"connectors": [], "owner": owner, "return_url": RETURN}),
            422,
        ),
        (
            json!({"connectors": ["printing_partner", "nope"], "owner": owner, "return_url": RETURN}),
            404,
        ),
        (
            json!({"connectors": ["printing_partner", "github"], "owner": owner, "return_url": RETURN}),
            422,
        ),
    ] {
        let (s, b) = create(body.clone()).await;
        assert_eq!(s, status, "{body}: {b}");
    }
}

async fn expired_and_unknown_sessions_get_a_clear_page(backend: TestBackend) {
    let cat = catalog(None);
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
    let (s, session) = app
        .post(
            "/v1/connect-sessions",
            &key,
            json!({"connectors": ["printing_partner"], "owner": {"id": "u"}, "return_url": RETURN}),
        )
        .await;
    assert_eq!(s, 201, "{session}");
    let token = session["token"].as_str().unwrap();
    let (status, cookie, html) = open(session["connect_url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    let (cookie, csrf) = (cookie.unwrap(), csrf_field(&html));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, _, html) = open(session["connect_url"].as_str().unwrap()).await;
    assert_eq!(status, 410);
    assert!(html.contains("expired"), "{html}");
    assert!(!html.contains("<form"), "nothing to submit");
    let resp = post(
        &app,
        Some(&cookie),
        &printing_form(token, &csrf, EMULATOR_KEY),
    )
    .await;
    assert_eq!(resp.status(), 410);
    for path in ["/connect?session=pbcs_unknown", "/connect"] {
        let (status, _, html) = open(&format!("{}{path}", app.base)).await;
        assert_eq!(status, 404, "{path}");
        assert!(html.contains("not valid"), "{html}");
    }
    assert!(connections(&app, &key).await.is_empty());
}
