//! The dashboard: widgets added and removed through the page and the API, every shape drawn
//! with data, with an error and stale, each widget's fragment, and the alert overlay appearing
//! and clearing. Partner data comes from the printing partner emulator and from a small
//! service whose answers each test sets.

mod alerts;
mod api;
mod browser;
mod shapes;

use crate::ui::{browser, csrf_field, get_page, sign_in};
use crate::{both_backends, printing_body, TestApp, EMULATOR_KEY};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use patchbay_emulators::printing_partner;
use patchbay_store::testing::TestBackend;
use reqwest::header::{COOKIE, LOCATION};
use reqwest::{Client, Response};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

both_backends!(widgets_are_added_and_removed_through_the_form);

/// What the service answers per data endpoint: a status and a body.
type Answers = Arc<Mutex<HashMap<String, (u16, Value)>>>;

pub(crate) struct Service {
    base: String,
    answers: Answers,
}

impl Service {
    pub(crate) fn set(&self, key: &str, status: u16, body: Value) {
        self.answers
            .lock()
            .unwrap()
            .insert(key.to_string(), (status, body));
    }
}

/// A service whose `/data/{key}` answers what the test set (404 otherwise).
pub(crate) async fn service() -> Service {
    let answers: Answers = Arc::default();
    let app = axum::Router::new()
        .route(
            "/records",
            axum::routing::get(|| async { axum::Json(json!({"data": []})) }),
        )
        .route(
            "/data/{key}",
            axum::routing::get(
                |State(a): State<Answers>, Path(key): Path<String>| async move {
                    let (status, body) = a
                        .lock()
                        .unwrap()
                        .get(&key)
                        .cloned()
                        .unwrap_or((404, json!({"error": "no such data"})));
                    (StatusCode::from_u16(status).unwrap(), axum::Json(body))
                },
            ),
        )
        .with_state(answers.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Service { base, answers }
}

pub(crate) const SHAPES: [&str; 6] = ["stat", "gauge", "list", "progress", "alert", "chart"];

/// An enabled `http_json` connection with one data endpoint per shape (`/data/<shape>`,
/// cached for a second).
pub(crate) async fn service_connection(app: &TestApp, key: &str, svc: &Service) -> String {
    let endpoints: Vec<Value> = SHAPES
        .iter()
        .map(|s| json!({"key": s, "description": format!("The {s}"), "path": format!("/data/{s}"), "shape": s, "ttl_seconds": 1}))
        .collect();
    let c = app
        .connection(
            key,
            json!({"connector": "http_json", "owner": {"id": "u1"}, "enable": true, "name": "Ops service",
                   "config": {"base_url": svc.base, "list_path": "/records", "data_endpoints": endpoints},
                   "secrets": {"api_key": "service-api-key-123"}}),
        )
        .await;
    assert_eq!(c["lifecycle"], "enabled", "{c}");
    c["id"].as_str().unwrap().to_string()
}

pub(crate) async fn printing_connection(app: &TestApp, key: &str, base_url: &str) -> String {
    let mut body = printing_body("u1", "demo-shop", base_url, EMULATOR_KEY);
    body["enable"] = json!(true);
    body["name"] = json!("Print shop");
    let c = app.connection(key, body).await;
    assert_eq!(c["lifecycle"], "enabled", "{c}");
    c["id"].as_str().unwrap().to_string()
}

pub(crate) async fn add_widget(
    app: &TestApp,
    key: &str,
    connection: &str,
    endpoint: &str,
) -> String {
    let (s, w) = app
        .post(
            "/v1/widgets",
            key,
            json!({"connection_id": connection, "endpoint": endpoint}),
        )
        .await;
    assert_eq!(s, 201, "{w}");
    w["id"].as_str().unwrap().to_string()
}

pub(crate) async fn post_form(
    app: &TestApp,
    browser: &Client,
    path: &str,
    cookie: &str,
    form: &[(&str, &str)],
) -> Response {
    browser
        .post(format!("{}{path}", app.base))
        .header(COOKIE, cookie)
        .form(form)
        .send()
        .await
        .unwrap()
}

pub(crate) async fn page_text(
    app: &TestApp,
    browser: &Client,
    path: &str,
    cookie: &str,
) -> (u16, String) {
    let resp = get_page(app, browser, path, cookie).await;
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// The HTML of one widget on the dashboard page.
pub(crate) fn widget_html<'a>(page: &'a str, id: &str) -> &'a str {
    let start = page
        .find(&format!(r#"id="widget-{id}""#))
        .unwrap_or_else(|| panic!("widget {id} is on the page: {page}"));
    let rest = &page[start..];
    &rest[..rest.find("</article>").unwrap()]
}

pub(crate) async fn widget_ids(app: &TestApp, key: &str) -> Vec<String> {
    let (s, list) = app.get("/v1/widgets", key).await;
    assert_eq!(s, 200, "{list}");
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap().to_string())
        .collect()
}

async fn widgets_are_added_and_removed_through_the_form(backend: TestBackend) {
    let em = printing_partner::spawn(Default::default()).await.unwrap();
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let conn = printing_connection(&app, &key, &em.base_url).await;
    let browser = browser();
    let cookie = sign_in(&app, &browser, &key).await;

    let (s, html) = page_text(&app, &browser, "/ui/dashboard", &cookie).await;
    assert_eq!(s, 200);
    assert!(html.contains("No widgets yet"), "{html}");
    let source = format!("{conn} orders_by_status");
    assert!(
        html.contains(&format!(r#"<option value="{source}">"#)),
        "{html}"
    );
    assert!(html.contains(r#"<label for="widget-refresh">"#), "{html}");
    let csrf = csrf_field(&html);

    // Without the token nothing is added.
    let resp = post_form(
        &app,
        &browser,
        "/ui/dashboard/widgets",
        &cookie,
        &[("source", &source)],
    )
    .await;
    assert_eq!(resp.status(), 403);
    let resp = post_form(
        &app,
        &browser,
        "/ui/dashboard/widgets",
        &cookie,
        &[("source", &source), ("csrf", "0".repeat(64).as_str())],
    )
    .await;
    assert_eq!(resp.status(), 403);
    assert!(widget_ids(&app, &key).await.is_empty());

    // The engine's field errors come back next to their fields, with what was typed.
    for (refresh, said) in [
        ("5", "must be from 10 to 3600 seconds"),
        ("soon", "must be a whole number of seconds"),
    ] {
        let resp = post_form(
            &app,
            &browser,
            "/ui/dashboard/widgets",
            &cookie,
            &[
                ("source", &source),
                ("refresh_seconds", refresh),
                ("title", "Mine"),
                ("csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(resp.status(), 422);
        let html = resp.text().await.unwrap();
        assert!(
            html.contains(&format!(
                r#"<p class="field-error" id="widget-refresh-error">{said}</p>"#
            )),
            "{html}"
        );
        assert!(html.contains(&format!(r#"value="{refresh}""#)), "{html}");
        assert!(
            html.contains(&format!(r#"<option value="{source}" selected>"#)),
            "{html}"
        );
    }
    let resp = post_form(
        &app,
        &browser,
        "/ui/dashboard/widgets",
        &cookie,
        &[("source", &format!("{conn} nope")), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("the connection has no data endpoint"),
        "{html}"
    );
    assert!(widget_ids(&app, &key).await.is_empty());

    let resp = post_form(
        &app,
        &browser,
        "/ui/dashboard/widgets",
        &cookie,
        &[
            ("source", &source),
            ("refresh_seconds", "45"),
            ("title", "Shop orders"),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(resp.status(), 303);
    let ids = widget_ids(&app, &key).await;
    assert_eq!(ids.len(), 1);
    let id = &ids[0];
    assert_eq!(
        resp.headers()[LOCATION],
        format!("/ui/dashboard#widget-{id}").as_str()
    );
    let (_, w) = app.get(&format!("/v1/widgets/{id}"), &key).await;
    assert_eq!(
        (
            w["refresh_seconds"].as_u64(),
            w["title"].as_str(),
            w["endpoint"].as_str()
        ),
        (Some(45), Some("Shop orders"), Some("orders_by_status")),
        "{w}"
    );

    // The page draws it with its data and refreshes it from its fragment.
    let (_, html) = page_text(&app, &browser, "/ui/dashboard", &cookie).await;
    let card = widget_html(&html, id);
    assert!(card.contains("Shop orders"), "{card}");
    assert!(
        card.contains(&format!(
            r#"data-src="/ui/dashboard/widgets/{id}" data-refresh="45""#
        )),
        "{card}"
    );
    assert!(card.contains(r#"class="chart-bar""#), "{card}");
    assert!(html.len() < 100 * 1024);

    // Removing takes the token too.
    let remove = format!("/ui/dashboard/widgets/{id}/remove");
    let resp = post_form(&app, &browser, &remove, &cookie, &[]).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(widget_ids(&app, &key).await.len(), 1);
    let resp = post_form(&app, &browser, &remove, &cookie, &[("csrf", &csrf)]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()[LOCATION], "/ui/dashboard");
    assert!(widget_ids(&app, &key).await.is_empty());
    let resp = post_form(&app, &browser, &remove, &cookie, &[("csrf", &csrf)]).await;
    assert_eq!(resp.status(), 404);
    let (_, html) = page_text(&app, &browser, "/ui/dashboard", &cookie).await;
    assert!(html.contains("No widgets yet"), "{html}");
}
