//! The subscription pages of a workspace: created with the secret shown once, enabled and
//! disabled, rotated (later deliveries verify with the new secret only), deliveries listed and
//! a failed one retried; and which pages the operator and other workspaces may not open.

use super::{between, page, post_form, signed_in};
use crate::{both_backends, printing_body, TestApp, ADMIN_KEY};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use patchbay_connectors::webhooks::verify;
use patchbay_core::{WebhookRequest, WebhookScheme};
use patchbay_store::testing::TestBackend;
use reqwest::header::LOCATION;
use reqwest::Client;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

both_backends!(
    a_subscription_created_through_the_form_shows_its_secret_once,
    subscription_controls_rotation_and_delivery_retry,
    planners_and_the_operator_each_keep_to_their_pages,
);

/// Headers and body of one delivery as received.
type Received = (BTreeMap<String, String>, Vec<u8>);

/// Deliveries as a subscriber receives them.
#[derive(Default)]
struct Hook {
    got: Mutex<Vec<Received>>,
    fail: AtomicU32,
}

async fn receive(
    State(h): State<Arc<Hook>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    if h.fail.load(Ordering::SeqCst) > 0 {
        h.fail.fetch_sub(1, Ordering::SeqCst);
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let headers = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    h.got.lock().unwrap().push((headers, body.to_vec()));
    StatusCode::NO_CONTENT
}

async fn hook_server() -> (Arc<Hook>, String) {
    let hook = Arc::new(Hook::default());
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(hook.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (hook, url)
}

/// Creates a subscription through the form; returns (its id, its secret).
async fn create_subscription(
    app: &TestApp,
    b: &Client,
    session: &str,
    csrf: &str,
    url: &str,
) -> (String, String) {
    let resp = post_form(
        app,
        b,
        "/ui/subscriptions",
        session,
        &[
            ("csrf", csrf),
            ("url", url),
            ("event_types", "connection.created, sync.failed"),
            ("description", "orders"),
            ("enabled", "on"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 201);
    let html = resp.text().await.unwrap();
    assert!(html.contains("it will not be shown again"), "{html}");
    let secret = between(&html, r#"id="signing-secret">"#, "<").unwrap();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let id = between(&html, r#"href="/ui/subscriptions/"#, r#"""#).unwrap();
    (id, secret)
}

async fn a_subscription_created_through_the_form_shows_its_secret_once(backend: TestBackend) {
    let (_, url) = hook_server().await;
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let (b, session, csrf) = signed_in(&app, &key).await;
    let html = page(&app, &b, "/ui/subscriptions", &session, 200).await;
    assert!(html.contains("There are no subscriptions yet."), "{html}");
    for control in ["sub-url", "sub-types", "sub-description", "sub-enabled"] {
        assert!(
            html.contains(&format!(r#"<label for="{control}">"#)),
            "{control}"
        );
    }

    let resp = post_form(&app, &b, "/ui/subscriptions", &session, &[("url", &url)]).await;
    assert_eq!(resp.status(), 403);
    let resp = post_form(
        &app,
        &b,
        "/ui/subscriptions",
        &session,
        &[("csrf", &csrf), ("url", "https://user:pw@example.com/hook")],
    )
    .await;
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.unwrap();
    let error = between(&html, r#"id="sub-url-error">"#, "<").unwrap();
    assert!(error.contains("user name or password"), "{error}");
    assert!(html.contains(r#"aria-describedby="sub-url-error""#));
    assert!(!html.contains("user:pw@"), "a password in a URL is echoed");
    assert_eq!(
        app.get("/v1/subscriptions", &key).await.1["data"],
        json!([])
    );

    let (id, secret) = create_subscription(&app, &b, &session, &csrf, &url).await;
    let (_, api) = app.get(&format!("/v1/subscriptions/{id}"), &key).await;
    assert_eq!(api["url"], url.as_str());
    assert_eq!(
        api["event_types"],
        json!(["connection.created", "sync.failed"])
    );
    assert_eq!(api["description"], "orders");
    assert_eq!(api["enabled"], true);
    assert!(api["signing_secret"].is_null());
    for path in [
        "/ui/subscriptions".to_string(),
        format!("/ui/subscriptions/{id}"),
    ] {
        let html = page(&app, &b, &path, &session, 200).await;
        assert!(html.contains(&url), "{html}");
        assert!(
            !html.contains(&secret),
            "the secret is shown again on {path}"
        );
        assert!(!html.contains(&key));
    }
}

async fn subscription_controls_rotation_and_delivery_retry(backend: TestBackend) {
    let (hook, url) = hook_server().await;
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let (b, session, csrf) = signed_in(&app, &key).await;
    let (id, old_secret) = create_subscription(&app, &b, &session, &csrf, &url).await;
    let show = format!("/ui/subscriptions/{id}");

    // Disable and enable, as the API then reports.
    for (value, state) in [("false", "disabled"), ("true", "enabled")] {
        let resp = post_form(
            &app,
            &b,
            &format!("{show}/enabled"),
            &session,
            &[("csrf", &csrf), ("enabled", value)],
        )
        .await;
        assert_eq!(resp.status(), 303);
        assert_eq!(resp.headers()[LOCATION], show.as_str());
        let (_, api) = app.get(&format!("/v1/subscriptions/{id}"), &key).await;
        assert_eq!(api["enabled"], value == "true", "{api}");
        let html = page(&app, &b, &show, &session, 200).await;
        assert!(
            html.contains(&format!(r#"<dd id="sub-state">{state}</dd>"#)),
            "{html}"
        );
    }
    let resp = post_form(
        &app,
        &b,
        &format!("{show}/enabled"),
        &session,
        &[("csrf", ""), ("enabled", "false")],
    )
    .await;
    assert_eq!(resp.status(), 403);
    assert_eq!(
        app.get(&format!("/v1/subscriptions/{id}"), &key).await.1["enabled"],
        true
    );

    // Rotation shows a new secret, once.
    let resp = post_form(
        &app,
        &b,
        &format!("{show}/rotate"),
        &session,
        &[("csrf", "")],
    )
    .await;
    assert_eq!(resp.status(), 403);
    let resp = post_form(
        &app,
        &b,
        &format!("{show}/rotate"),
        &session,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    let secret = between(&html, r#"id="signing-secret">"#, "<").unwrap();
    assert!(
        secret.starts_with("whsec_") && secret != old_secret,
        "{secret}"
    );
    assert!(html.contains("it will not be shown again"));
    assert!(!page(&app, &b, &show, &session, 200).await.contains(&secret));

    // A delivery that fails is listed with its answer and can be retried from the page.
    hook.fail.store(1, Ordering::SeqCst);
    app.connection(
        &key,
        printing_body("u1", "s1", "http://127.0.0.1:9", "pp_live_0123456789ab"),
    )
    .await;
    app.engine.events().dispatch_once().await.unwrap();
    let (_, dl) = app
        .get(&format!("/v1/subscriptions/{id}/deliveries"), &key)
        .await;
    let delivery = dl["data"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(dl["data"][0]["status"], "pending", "{dl}");
    assert_eq!(dl["data"][0]["last_status_code"], 503, "{dl}");
    let html = page(&app, &b, &show, &session, 200).await;
    assert!(html.contains(&format!(
        "<code>{}</code>",
        dl["data"][0]["event_id"].as_str().unwrap()
    )));
    assert!(html.contains("HTTP 503"), "{html}");
    let retry = format!("/ui/deliveries/{delivery}/retry");
    assert!(html.contains(&format!(r#"action="{retry}""#)), "{html}");

    let resp = post_form(&app, &b, &retry, &session, &[("csrf", "")]).await;
    assert_eq!(resp.status(), 403);
    let resp = post_form(&app, &b, &retry, &session, &[("csrf", &csrf)]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()[LOCATION], show.as_str());
    app.engine.events().dispatch_once().await.unwrap();
    let (_, dl) = app
        .get(&format!("/v1/subscriptions/{id}/deliveries"), &key)
        .await;
    assert_eq!(dl["data"][0]["status"], "succeeded", "{dl}");
    assert_eq!(dl["data"][0]["attempts"], 2, "{dl}");
    let html = page(&app, &b, &show, &session, 200).await;
    assert!(html.contains("<td>succeeded"), "{html}");
    assert!(
        !html.contains(&retry),
        "a retry button for a delivered event"
    );

    // What arrived is signed with the new secret and no longer with the old one.
    let got = hook.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let req = WebhookRequest {
        headers: got[0].0.clone(),
        body: got[0].1.clone(),
    };
    let now = patchbay_core::now_ms() / 1000;
    verify(WebhookScheme::StandardWebhooks, &req, &secret, now).expect("the new secret");
    assert!(verify(WebhookScheme::StandardWebhooks, &req, &old_secret, now).is_err());

    // Deleting it takes the token, then the subscription is gone.
    let resp = post_form(
        &app,
        &b,
        &format!("{show}/remove"),
        &session,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(
        app.get(&format!("/v1/subscriptions/{id}"), &key).await.0,
        404
    );
    page(&app, &b, &show, &session, 404).await;
}

async fn planners_and_the_operator_each_keep_to_their_pages(backend: TestBackend) {
    let (_, url) = hook_server().await;
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let (_, other_key) = app.workspace("globex").await;
    let (b, planner, csrf) = signed_in(&app, &key).await;
    let (sub, _) = create_subscription(&app, &b, &planner, &csrf, &url).await;

    // A planner has no operator page, and cannot create workspaces.
    let home = page(&app, &b, "/ui", &planner, 200).await;
    assert!(!home.contains("failing-count") && !home.contains("/ui/workspaces"));
    let html = page(&app, &b, "/ui/repositories", &planner, 403).await;
    assert!(html.contains("admin key"), "{html}");
    let resp = post_form(
        &app,
        &b,
        "/ui/workspaces",
        &planner,
        &[("csrf", &csrf), ("name", "x")],
    )
    .await;
    assert_eq!(resp.status(), 403);
    let resp = post_form(
        &app,
        &b,
        "/ui/repositories",
        &planner,
        &[("csrf", &csrf), ("full_name", "a/b")],
    )
    .await;
    assert_eq!(resp.status(), 403);
    assert_eq!(
        app.get("/v1/admin/workspaces", ADMIN_KEY).await.1["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // The operator is told subscriptions belong to a workspace, not shown an empty list.
    let (ob, operator, ocsrf) = signed_in(&app, ADMIN_KEY).await;
    for path in [
        "/ui/subscriptions".to_string(),
        format!("/ui/subscriptions/{sub}"),
    ] {
        let html = page(&app, &ob, &path, &operator, 403).await;
        assert!(html.contains("workspace"), "{html}");
    }
    let resp = post_form(
        &app,
        &ob,
        &format!("/ui/subscriptions/{sub}/rotate"),
        &operator,
        &[("csrf", &ocsrf)],
    )
    .await;
    assert_eq!(resp.status(), 403);

    // Another workspace does not find this one's subscription.
    let (gb, globex, gcsrf) = signed_in(&app, &other_key).await;
    page(&app, &gb, &format!("/ui/subscriptions/{sub}"), &globex, 404).await;
    let resp = post_form(
        &app,
        &gb,
        &format!("/ui/subscriptions/{sub}/enabled"),
        &globex,
        &[("csrf", &gcsrf), ("enabled", "false")],
    )
    .await;
    assert_eq!(resp.status(), 404);
    assert_eq!(
        app.get(&format!("/v1/subscriptions/{sub}"), &key).await.1["enabled"],
        true
    );
}
