//! The connection pages over HTTP: every control refuses a form without the session's CSRF
//! token, answers refusals with their status, and shows a rotated key once.

use crate::ui::{browser, csrf_field, get_page, sign_in};
use crate::{both_backends, printing_body, TestApp, EMULATOR_KEY};
use patchbay_emulators::printing_partner::{self, PrintingConfig};
use patchbay_store::testing::TestBackend;
use reqwest::header::COOKIE;
use reqwest::Client;
use serde_json::json;

both_backends!(
    connection_controls_need_the_csrf_token,
    controls_answer_with_the_engine_outcome,
    other_workspaces_connections_are_not_found,
    a_connection_is_edited_and_deleted,
);

struct Signed {
    app: TestApp,
    key: String,
    id: String,
    browser: Client,
    cookie: String,
    csrf: String,
    _em: printing_partner::PrintingEmulator,
}

async fn setup(backend: TestBackend) -> Signed {
    let em = printing_partner::spawn(PrintingConfig::default())
        .await
        .unwrap();
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let mut body = printing_body("u1", "demo-shop", &em.base_url, EMULATOR_KEY);
    body["enable"] = json!(true);
    let id = app.connection(&key, body).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let browser = browser();
    let cookie = sign_in(&app, &browser, &key).await;
    let html = get_page(&app, &browser, &format!("/ui/connections/{id}"), &cookie)
        .await
        .text()
        .await
        .unwrap();
    let csrf = csrf_field(&html);
    Signed {
        app,
        key,
        id,
        browser,
        cookie,
        csrf,
        _em: em,
    }
}

impl Signed {
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let resp = self
            .browser
            .post(format!("{}{path}", self.app.base))
            .header(COOKIE, &self.cookie)
            .form(form)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }
}

async fn connection_controls_need_the_csrf_token(backend: TestBackend) {
    let s = setup(backend).await;
    let id = &s.id;
    for (path, extra) in [
        (
            format!("/ui/connections/{id}/lifecycle"),
            ("to", "disabled"),
        ),
        (format!("/ui/connections/{id}/test"), ("x", "")),
        (format!("/ui/connections/{id}/principal/rotate"), ("x", "")),
        (format!("/ui/connections/{id}/syncs"), ("mode", "full")),
        (
            format!("/ui/connections/{id}/actions/cancel_order"),
            ("input.order_id", "ord_000001"),
        ),
        (
            "/ui/connections/new".to_string(),
            ("connector", "printing_partner"),
        ),
    ] {
        for csrf in [
            "",
            "0000000000000000000000000000000000000000000000000000000000000000",
        ] {
            let (status, html) = s.post(&path, &[extra, ("csrf", csrf)]).await;
            assert_eq!(status, 403, "{path} with {csrf:?}");
            assert!(html.contains("could not be verified"), "{html}");
        }
    }
    // Nothing moved.
    let (_, view) = s.app.get(&format!("/v1/connections/{id}"), &s.key).await;
    assert_eq!(view["lifecycle"], "enabled");
    let (_, runs) = s
        .app
        .get(&format!("/v1/connections/{id}/syncs"), &s.key)
        .await;
    assert_eq!(runs["data"].as_array().unwrap().len(), 0);
}

async fn controls_answer_with_the_engine_outcome(backend: TestBackend) {
    let s = setup(backend).await;
    let id = &s.id;
    let csrf = s.csrf.as_str();

    let (status, html) = s
        .post(&format!("/ui/connections/{id}/test"), &[("csrf", csrf)])
        .await;
    assert_eq!(status, 200);
    assert!(html.contains("Test passed"), "{html}");

    // The rotated key is on the answer once; it works and the page does not show it again.
    let (status, html) = s
        .post(
            &format!("/ui/connections/{id}/principal/rotate"),
            &[("csrf", csrf)],
        )
        .await;
    assert_eq!(status, 200);
    let start = html.find(r#"<code id="new-key">"#).expect("the new key") + 19;
    let new_key = html[start..].split('<').next().unwrap().to_string();
    let (status, _) = s.app.get(&format!("/v1/connections/{id}"), &new_key).await;
    assert_eq!(status, 200, "the rotated key authenticates");
    let again = get_page(
        &s.app,
        &s.browser,
        &format!("/ui/connections/{id}"),
        &s.cookie,
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(!again.contains(&new_key));
    assert!(!again.contains(EMULATOR_KEY), "no secret on the page");

    // A sync started from the page, then a second one refused while it is pending.
    let (status, _) = s
        .post(
            &format!("/ui/connections/{id}/syncs"),
            &[("csrf", csrf), ("mode", "full")],
        )
        .await;
    assert_eq!(status, 303);
    let (status, _) = s
        .post(
            &format!("/ui/connections/{id}/syncs"),
            &[("csrf", csrf), ("mode", "full")],
        )
        .await;
    assert_eq!(status, 409);
    let (_, runs) = s
        .app
        .get(&format!("/v1/connections/{id}/syncs"), &s.key)
        .await;
    let run = runs["data"][0]["id"].as_str().unwrap().to_string();
    let fragment = get_page(
        &s.app,
        &s.browser,
        &format!("/ui/connections/{id}/syncs"),
        &s.cookie,
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        fragment.contains("pending") && fragment.contains("/cancel"),
        "{fragment}"
    );
    assert!(!fragment.contains("<html"), "a fragment, not a page");
    let (status, _) = s
        .post(
            &format!("/ui/connections/{id}/syncs/{run}/cancel"),
            &[("csrf", csrf)],
        )
        .await;
    assert_eq!(status, 303);
    let (_, run_view) = s
        .app
        .get(&format!("/v1/connections/{id}/syncs/{run}"), &s.key)
        .await;
    assert_eq!(run_view["status"], "cancelled");

    // Browsing an entity the connector lacks, or a record that is not stored, is a 404.
    for path in [
        format!("/ui/connections/{id}/records/invoices"),
        format!("/ui/connections/{id}/records/orders/ord_missing"),
        format!("/ui/connections/{id}/actions/launch_rocket"),
    ] {
        let resp = get_page(&s.app, &s.browser, &path, &s.cookie).await;
        assert_eq!(resp.status(), 404, "{path}");
    }

    // An action whose input the connector refuses shows the error next to the field.
    let (status, html) = s
        .post(
            &format!("/ui/connections/{id}/actions/submit_order"),
            &[
                ("csrf", csrf),
                ("input.product_id", "prd_0001"),
                ("input.quantity", "many"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="input-quantity-error""#), "{html}");
    // An unknown state is a 400; once revoked, a connection cannot be enabled again (409).
    let lifecycle = format!("/ui/connections/{id}/lifecycle");
    let (status, _) = s
        .post(&lifecycle, &[("csrf", csrf), ("to", "sleeping")])
        .await;
    assert_eq!(status, 400);
    let (status, _) = s
        .post(&lifecycle, &[("csrf", csrf), ("to", "revoked")])
        .await;
    assert_eq!(status, 303);
    let (status, html) = s
        .post(&lifecycle, &[("csrf", csrf), ("to", "enabled")])
        .await;
    assert_eq!(status, 409, "{html}");
}

async fn other_workspaces_connections_are_not_found(backend: TestBackend) {
    let s = setup(backend).await;
    let (_, other_key) = s.app.workspace("other").await;
    let other = sign_in(&s.app, &s.browser, &other_key).await;
    for path in [
        format!("/ui/connections/{}", s.id),
        format!("/ui/connections/{}/records/orders", s.id),
        format!("/ui/connections/{}/actions/submit_order", s.id),
        format!("/ui/connections/{}/syncs", s.id),
    ] {
        let resp = get_page(&s.app, &s.browser, &path, &other).await;
        let status = resp.status();
        let html = resp.text().await.unwrap();
        assert!(
            status == 404 || (path.ends_with("/syncs") && !html.contains("<td>")),
            "{path}: {status}"
        );
        assert!(!html.contains("demo-shop"), "{path} leaks the connection");
    }
}

async fn a_connection_is_edited_and_deleted(backend: TestBackend) {
    let s = setup(backend).await;
    let (id, csrf) = (s.id.as_str(), s.csrf.as_str());
    let (_, before) = s.app.get(&format!("/v1/connections/{id}"), &s.key).await;
    let base = before["config"]["api_base_url"]
        .as_str()
        .unwrap()
        .to_string();
    let form = get_page(
        &s.app,
        &s.browser,
        &format!("/ui/connections/{id}/edit"),
        &s.cookie,
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        form.contains(r#"value="demo-shop""#),
        "stored config is filled in"
    );
    assert!(!form.contains(EMULATOR_KEY), "stored secrets are not");

    // A bad value comes back next to its field and changes nothing.
    let edit = format!("/ui/connections/{id}/edit");
    let (status, html) = s
        .post(
            &edit,
            &[
                ("csrf", csrf),
                ("config.shop_id", "demo-shop"),
                ("config.api_base_url", &base),
                ("config.default_paper", "a3"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        html.contains(r#"id="config-default_paper-error""#),
        "{html}"
    );

    // Blank secrets keep theirs; a new callback secret replaces only that one.
    let (status, _) = s
        .post(
            &edit,
            &[
                ("csrf", csrf),
                ("name", "Renamed"),
                ("config.shop_id", "demo-shop"),
                ("config.api_base_url", &base),
                ("config.default_paper", "letter"),
                ("secrets.api_key", ""),
                (
                    "secrets.callback_secret",
                    "a-brand-new-callback-secret-0002",
                ),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (_, after) = s.app.get(&format!("/v1/connections/{id}"), &s.key).await;
    assert_eq!(after["name"], "Renamed");
    assert_eq!(after["config"]["default_paper"], "letter");
    assert_eq!(
        after["redacted_secrets"]["api_key"],
        before["redacted_secrets"]["api_key"]
    );
    assert_ne!(
        after["redacted_secrets"]["callback_secret"],
        before["redacted_secrets"]["callback_secret"]
    );

    // Clearing an optional field removes it from the stored config.
    let (status, _) = s
        .post(
            &edit,
            &[
                ("csrf", csrf),
                ("config.shop_id", "demo-shop"),
                ("config.api_base_url", &base),
                ("config.default_paper", ""),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (_, after) = s.app.get(&format!("/v1/connections/{id}"), &s.key).await;
    assert!(after["config"].get("default_paper").is_none(), "{after}");

    let delete = format!("/ui/connections/{id}/delete");
    let page = get_page(&s.app, &s.browser, &delete, &s.cookie).await;
    assert_eq!(page.status(), 200);
    let (status, _) = s.post(&delete, &[("csrf", "")]).await;
    assert_eq!(status, 403);
    let (status, _) = s.post(&delete, &[("csrf", csrf)]).await;
    assert_eq!(status, 303);
    let (status, _) = s.app.get(&format!("/v1/connections/{id}"), &s.key).await;
    assert_eq!(status, 404);
}
