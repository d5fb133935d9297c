//! The web UI: sign-in and sign-out, sessions, CSRF, security headers and the first pages. The
//! browser here keeps no cookies and follows no redirects, so every cookie is handled by hand.

use crate::{both_backends, printing_body, TestApp, ADMIN_KEY};
use patchbay_store::testing::TestBackend;
use reqwest::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, LOCATION, REFERRER_POLICY,
    SET_COOKIE, X_CONTENT_TYPE_OPTIONS,
};
use reqwest::{redirect::Policy, Client, Response};
use serde_json::{json, Value};

both_backends!(
    pages_without_a_session_go_to_sign_in,
    sign_in_refuses_forms_without_csrf_and_wrong_keys,
    a_workspace_sees_the_catalog_until_it_signs_out,
    the_operator_sees_the_workspaces,
    a_workspace_lists_its_connections,
    the_operator_lists_connections_of_every_workspace,
);

pub(crate) fn browser() -> Client {
    Client::builder().redirect(Policy::none()).build().unwrap()
}

/// The `Set-Cookie` headers of `resp`.
pub(crate) fn set_cookies(resp: &Response) -> Vec<String> {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

/// The `Set-Cookie` header that sets `name`.
pub(crate) fn set_cookie(resp: &Response, name: &str) -> Option<String> {
    set_cookies(resp)
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
}

/// `name=value` of a `Set-Cookie` header, as a browser sends it back.
pub(crate) fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

/// The hidden CSRF field of the first form in `html`.
pub(crate) fn csrf_field(html: &str) -> String {
    let start = html.find(r#"name="csrf" value=""#).expect("a CSRF field") + 19;
    html[start..].split('"').next().unwrap().to_string()
}

pub(crate) fn assert_ui_headers(resp: &Response) {
    let h = resp.headers();
    let csp = h[CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert_eq!(h[X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(h[REFERRER_POLICY], "no-referrer");
}

/// Opens the sign-in form: (the CSRF cookie pair, the form's token).
pub(crate) async fn open_form(app: &TestApp, browser: &Client) -> (String, String) {
    let resp = browser
        .get(format!("{}/ui/sign-in", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = pair(&set_cookie(&resp, "pb_ui_csrf").expect("a CSRF cookie"));
    let html = resp.text().await.unwrap();
    (cookie, csrf_field(&html))
}

pub(crate) async fn post_sign_in(
    app: &TestApp,
    browser: &Client,
    cookie: Option<&str>,
    form: &[(&str, &str)],
) -> Response {
    let mut req = browser.post(format!("{}/ui/sign-in", app.base)).form(form);
    if let Some(c) = cookie {
        req = req.header(COOKIE, c);
    }
    req.send().await.unwrap()
}

/// Signs in with `key`; returns the session cookie pair.
pub(crate) async fn sign_in(app: &TestApp, browser: &Client, key: &str) -> String {
    let (cookie, csrf) = open_form(app, browser).await;
    let resp = post_sign_in(
        app,
        browser,
        Some(&cookie),
        &[("key", key), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()[LOCATION], "/ui");
    let session = set_cookie(&resp, "pb_ui_session").expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(session.contains(attribute), "{session}");
    }
    // The server here is plain http; `Secure` would make the browser drop the cookie.
    assert!(!session.contains("Secure"), "{session}");
    pair(&session)
}

pub(crate) async fn get_page(
    app: &TestApp,
    browser: &Client,
    path: &str,
    cookie: &str,
) -> Response {
    browser
        .get(format!("{}{path}", app.base))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap()
}

async fn pages_without_a_session_go_to_sign_in(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let browser = browser();
    for cookie in ["", "pb_ui_session=0123456789abcdef"] {
        let resp = get_page(&app, &browser, "/ui", cookie).await;
        assert_eq!(resp.status(), 303, "cookie {cookie:?}");
        assert_eq!(resp.headers()[LOCATION], "/ui/sign-in");
        assert_ui_headers(&resp);
    }

    let resp = browser
        .get(format!("{}/ui/sign-in", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_ui_headers(&resp);
    assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
    let csrf_cookie = set_cookie(&resp, "pb_ui_csrf").unwrap();
    assert!(csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Strict"));
    let html = resp.text().await.unwrap();
    assert!(html.contains(r#"<label for="key">"#), "{html}");
    assert!(
        html.contains(r#"id="key" name="key" type="password""#),
        "{html}"
    );
    assert!(html.contains(r#"href="/ui/assets/app.css""#));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "another origin: {html}"
    );

    let css = browser
        .get(format!("{}/ui/assets/app.css", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert_ui_headers(&css);
    assert!(css.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    assert!(css.headers()[CACHE_CONTROL]
        .to_str()
        .unwrap()
        .contains("max-age"));
}

async fn sign_in_refuses_forms_without_csrf_and_wrong_keys(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let browser = browser();
    let (cookie, csrf) = open_form(&app, &browser).await;

    // Without the token, with another token, or without the cookie: refused before the key
    // is looked at.
    let other = "0".repeat(64);
    let attempts = [
        (Some(cookie.as_str()), vec![("key", key.as_str())]),
        (Some(&cookie), vec![("key", &key), ("csrf", &other)]),
        (None, vec![("key", &key), ("csrf", &csrf)]),
        (Some(&cookie), vec![("key", &key), ("csrf", "")]),
    ];
    for (cookie, form) in attempts {
        let resp = post_sign_in(&app, &browser, cookie, &form).await;
        assert_eq!(resp.status(), 403, "{cookie:?} {form:?}");
        assert!(set_cookie(&resp, "pb_ui_session").is_none());
        assert_ui_headers(&resp);
    }

    let wrong = "pbk_not_a_real_key_0123456789";
    let resp = post_sign_in(
        &app,
        &browser,
        Some(&cookie),
        &[("key", wrong), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(resp.status(), 401);
    assert!(set_cookies(&resp).is_empty(), "{:?}", set_cookies(&resp));
    let html = resp.text().await.unwrap();
    assert!(html.contains(r#"role="alert""#), "{html}");
    assert!(!html.contains(wrong), "the typed key is echoed: {html}");
    // The form stays usable with the same token.
    assert_eq!(csrf_field(&html), csrf);

    // A connection's principal key is for programs; people sign in with workspace keys.
    let conn = app
        .connection(
            &key,
            printing_body("u1", "shop-1", "http://127.0.0.1:9", "pp_live_0123456789ab"),
        )
        .await;
    let principal = conn["principal_key"].as_str().unwrap();
    let resp = post_sign_in(
        &app,
        &browser,
        Some(&cookie),
        &[("key", principal), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(resp.status(), 401);
    assert!(set_cookie(&resp, "pb_ui_session").is_none());
}

async fn a_workspace_sees_the_catalog_until_it_signs_out(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let secret = "pp_live_0123456789ab";
    let conn = app
        .connection(
            &key,
            printing_body("u1", "shop-1", "http://127.0.0.1:9", secret),
        )
        .await;
    let principal = conn["principal_key"].as_str().unwrap();
    let browser = browser();
    let session = sign_in(&app, &browser, &key).await;

    let resp = get_page(&app, &browser, "/ui", &session).await;
    assert_eq!(resp.status(), 200);
    assert_ui_headers(&resp);
    assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
    let html = resp.text().await.unwrap();
    assert!(html.contains("<h1>Connectors</h1>"), "{html}");
    for connector in ["printing_partner", "google-mail"] {
        assert!(
            html.contains(&format!("<code>{connector}</code>")),
            "{connector} missing"
        );
    }
    assert!(html.contains("<caption>Actions</caption>"));
    for hidden in [key.as_str(), ADMIN_KEY, secret, principal, session.as_str()] {
        assert!(!html.contains(hidden), "a secret is on the page");
    }
    let csrf = csrf_field(&html);

    // Sign-out takes the session's token and nothing else.
    let sign_out = |form: Vec<(&'static str, String)>| {
        browser
            .post(format!("{}/ui/sign-out", app.base))
            .header(COOKIE, &session)
            .form(&form)
            .send()
    };
    for form in [vec![], vec![("csrf", "0".repeat(64))]] {
        let resp = sign_out(form).await.unwrap();
        assert_eq!(resp.status(), 403);
    }
    assert_eq!(
        get_page(&app, &browser, "/ui", &session).await.status(),
        200
    );

    let resp = sign_out(vec![("csrf", csrf.clone())]).await.unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()[LOCATION], "/ui/sign-in");
    let cleared = set_cookie(&resp, "pb_ui_session").unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");

    // The old cookie no longer opens anything, and cannot sign out twice.
    let resp = get_page(&app, &browser, "/ui", &session).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()[LOCATION], "/ui/sign-in");
    assert_eq!(sign_out(vec![("csrf", csrf)]).await.unwrap().status(), 403);
}

async fn the_operator_sees_the_workspaces(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (acme_id, acme_key) = app.workspace("acme").await;
    let (_, globex_key) = app.workspace("Globex <Corp>").await;
    let browser = browser();
    let session = sign_in(&app, &browser, ADMIN_KEY).await;

    let resp = get_page(&app, &browser, "/ui", &session).await;
    assert_eq!(resp.status(), 200);
    assert_ui_headers(&resp);
    let html = resp.text().await.unwrap();
    assert!(html.contains("<h1>Workspaces</h1>"), "{html}");
    assert!(html.contains("<td>acme</td>"), "{html}");
    assert!(html.contains(&acme_id));
    // Names are escaped, never markup.
    assert!(
        html.contains("Globex &#60;Corp&#62;") || html.contains("Globex &lt;Corp&gt;"),
        "{html}"
    );
    for hidden in [ADMIN_KEY, acme_key.as_str(), globex_key.as_str()] {
        assert!(!html.contains(hidden), "a key is on the page");
    }
    assert!(html.contains(r#"action="/ui/sign-out""#));
}

/// A draft printing partner connection named `name` (its shop too) whose `api_key` is `secret`.
pub(crate) async fn printing_connection(
    app: &TestApp,
    key: &str,
    name: &str,
    secret: &str,
) -> Value {
    let mut body = printing_body("u1", name, "http://127.0.0.1:9", secret);
    body["name"] = json!(name);
    let conn = app.connection(key, body).await;
    assert_eq!(conn["lifecycle"], "draft", "{conn}");
    conn
}

async fn a_workspace_lists_its_connections(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let (_, other_key) = app.workspace("globex").await;
    let secret = "pp_live_planted_secret_0001";
    let first = printing_connection(&app, &key, "Shop <One>", secret).await;
    let second = printing_connection(&app, &key, "Shop Two", secret).await;
    let elsewhere = printing_connection(&app, &other_key, "Globex shop", secret).await;
    let second_id = second["id"].as_str().unwrap();
    let (status, revoked) = app
        .patch(
            &format!("/v1/connections/{second_id}"),
            &key,
            json!({"lifecycle": "revoked"}),
        )
        .await;
    assert_eq!(status, 200, "{revoked}");

    let browser = browser();
    let resp = get_page(&app, &browser, "/ui/connections", "").await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()[LOCATION], "/ui/sign-in");

    let session = sign_in(&app, &browser, &key).await;
    let home = get_page(&app, &browser, "/ui", &session).await;
    let home = home.text().await.unwrap();
    assert!(home.contains(r#"href="/ui/connections""#), "no nav link");

    let resp = get_page(&app, &browser, "/ui/connections", &session).await;
    assert_eq!(resp.status(), 200);
    assert_ui_headers(&resp);
    assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
    let html = resp.text().await.unwrap();
    assert!(html.contains("<h1>Connections</h1>"), "{html}");
    // Names are escaped, never markup.
    assert!(
        html.contains("Shop &#60;One&#62;") || html.contains("Shop &lt;One&gt;"),
        "{html}"
    );
    assert!(html.contains("Shop Two"), "{html}");
    assert!(html.contains(first["id"].as_str().unwrap()));
    assert!(html.contains(second_id));
    assert!(html.contains("<td>draft</td>") && html.contains("<td>revoked</td>"));
    assert!(html.contains("<code>printing_partner</code>"));
    assert!(html.contains("<code>u1</code>"));
    assert!(
        !html.contains(elsewhere["id"].as_str().unwrap()),
        "another workspace's connection"
    );
    // A workspace sees only its own, so there is no workspace column.
    assert!(!html.contains(r#"<th scope="col">Workspace</th>"#));
    for field in ["connector", "lifecycle", "health"] {
        assert!(
            html.contains(&format!(r#"<label for="filter-{field}">"#))
                && html.contains(&format!(r#"<select id="filter-{field}" name="{field}">"#)),
            "{field} filter"
        );
    }
    assert!(html.contains(r#"<form method="get" action="/ui/connections""#));
    let mut hidden = vec![
        key.as_str(),
        other_key.as_str(),
        ADMIN_KEY,
        secret,
        "callback-secret-0123456789abcdef",
        session.as_str(),
        // Not even the redacted hints.
        "••",
    ];
    for conn in [&first, &second, &elsewhere] {
        hidden.push(conn["principal_key"].as_str().unwrap());
    }
    for h in &hidden {
        assert!(!html.contains(h), "a secret is on the page: {h}");
    }
    assert!(!html.contains("Next page"));

    // The lifecycle filter narrows the list and keeps its choice selected.
    let resp = get_page(
        &app,
        &browser,
        "/ui/connections?lifecycle=revoked",
        &session,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert!(html.contains(second_id) && html.contains("<td>revoked</td>"));
    assert!(!html.contains(first["id"].as_str().unwrap()), "{html}");
    assert!(
        html.contains(r#"<option value="revoked" selected>"#),
        "{html}"
    );
    // The form's "Any" choices arrive empty and filter nothing.
    let resp = get_page(
        &app,
        &browser,
        "/ui/connections?connector=&lifecycle=draft&health=",
        &session,
    )
    .await;
    let html = resp.text().await.unwrap();
    assert!(html.contains(first["id"].as_str().unwrap()) && !html.contains(second_id));
    let resp = get_page(&app, &browser, "/ui/connections?health=failing", &session).await;
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("No connections match these filters."),
        "{html}"
    );
    let resp = get_page(&app, &browser, "/ui/connections?lifecycle=<b>", &session).await;
    assert_eq!(resp.status(), 400);
    assert!(!resp.text().await.unwrap().contains("<b>"));

    // Paging follows the API's cursor: the first connection's page continues with the second.
    let (status, page) = app.get("/v1/connections?limit=1", &key).await;
    assert_eq!(status, 200, "{page}");
    let cursor = page["next_cursor"].as_str().unwrap();
    let resp = get_page(
        &app,
        &browser,
        &format!("/ui/connections?cursor={cursor}"),
        &session,
    )
    .await;
    let html = resp.text().await.unwrap();
    let shown = page["data"][0]["id"].as_str().unwrap();
    assert!(!html.contains(shown), "{html}");
    assert_eq!(
        html.contains(first["id"].as_str().unwrap()) as u8 + html.contains(second_id) as u8,
        1
    );

    // Signed out, the page is gone.
    let csrf = csrf_field(&home);
    let resp = browser
        .post(format!("{}/ui/sign-out", app.base))
        .header(COOKIE, &session)
        .form(&[("csrf", csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let resp = get_page(&app, &browser, "/ui/connections", &session).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()[LOCATION], "/ui/sign-in");
}

async fn the_operator_lists_connections_of_every_workspace(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (acme_id, acme_key) = app.workspace("acme").await;
    let (globex_id, globex_key) = app.workspace("globex").await;
    let secret = "pp_live_planted_secret_0002";
    let a = printing_connection(&app, &acme_key, "Acme shop", secret).await;
    let g = printing_connection(&app, &globex_key, "Globex shop", secret).await;
    let browser = browser();
    let session = sign_in(&app, &browser, ADMIN_KEY).await;

    let resp = get_page(&app, &browser, "/ui/connections", &session).await;
    assert_eq!(resp.status(), 200);
    assert_ui_headers(&resp);
    let html = resp.text().await.unwrap();
    assert!(html.contains(r#"<th scope="col">Workspace</th>"#), "{html}");
    for (conn, workspace) in [(&a, &acme_id), (&g, &globex_id)] {
        assert!(html.contains(conn["id"].as_str().unwrap()), "{html}");
        assert!(html.contains(&format!("<td><code>{workspace}</code></td>")));
    }
    for hidden in [
        ADMIN_KEY,
        acme_key.as_str(),
        globex_key.as_str(),
        secret,
        "••",
    ] {
        assert!(!html.contains(hidden), "a secret is on the page");
    }
}
