//! The dashboard: widgets added and removed through the page and the API, every shape drawn
//! with data, with an error and stale, each widget's fragment, and the alert overlay appearing
//! and clearing. Partner data comes from the printing partner emulator and from a small
//! service whose answers each test sets.

use crate::ui::{browser, csrf_field, get_page, sign_in};
use crate::{both_backends, printing_body, TestApp, ADMIN_KEY, EMULATOR_KEY};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use patchbay_emulators::printing_partner;
use patchbay_store::testing::TestBackend;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, LOCATION};
use reqwest::{Client, Response};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

both_backends!(
    widgets_are_added_and_removed_through_the_form,
    every_shape_renders_with_data_with_an_error_and_stale,
    printing_partner_widgets_show_orders_shipping_and_notices,
    the_alert_overlay_appears_and_clears,
    another_workspaces_widgets_and_connections_are_refused,
    the_api_validates_widgets_field_by_field,
);

/// What the service answers per data endpoint: a status and a body.
type Answers = Arc<Mutex<HashMap<String, (u16, Value)>>>;

struct Service {
    base: String,
    answers: Answers,
}

impl Service {
    fn set(&self, key: &str, status: u16, body: Value) {
        self.answers
            .lock()
            .unwrap()
            .insert(key.to_string(), (status, body));
    }
}

/// A service whose `/data/{key}` answers what the test set (404 otherwise).
async fn service() -> Service {
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

const SHAPES: [&str; 6] = ["stat", "gauge", "list", "progress", "alert", "chart"];

/// An enabled `http_json` connection with one data endpoint per shape (`/data/<shape>`,
/// cached for a second).
async fn service_connection(app: &TestApp, key: &str, svc: &Service) -> String {
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

async fn printing_connection(app: &TestApp, key: &str, base_url: &str) -> String {
    let mut body = printing_body("u1", "demo-shop", base_url, EMULATOR_KEY);
    body["enable"] = json!(true);
    body["name"] = json!("Print shop");
    let c = app.connection(key, body).await;
    assert_eq!(c["lifecycle"], "enabled", "{c}");
    c["id"].as_str().unwrap().to_string()
}

async fn add_widget(app: &TestApp, key: &str, connection: &str, endpoint: &str) -> String {
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

async fn post_form(
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

async fn page_text(app: &TestApp, browser: &Client, path: &str, cookie: &str) -> (u16, String) {
    let resp = get_page(app, browser, path, cookie).await;
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// The HTML of one widget on the dashboard page.
fn widget_html<'a>(page: &'a str, id: &str) -> &'a str {
    let start = page
        .find(&format!(r#"id="widget-{id}""#))
        .unwrap_or_else(|| panic!("widget {id} is on the page: {page}"));
    let rest = &page[start..];
    &rest[..rest.find("</article>").unwrap()]
}

async fn widget_ids(app: &TestApp, key: &str) -> Vec<String> {
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

/// Sets every shape's answer of `svc` to the good data below.
fn answer_every_shape(svc: &Service) {
    svc.set(
        "stat",
        200,
        json!({"label": "Open tickets", "value": 42, "delta": 3, "unit": "tickets"}),
    );
    svc.set(
        "gauge",
        200,
        json!({"label": "Disk", "value": 70, "min": 0, "max": 100, "unit": "GB"}),
    );
    svc.set(
        "list",
        200,
        json!({"label": "Deploys", "total": 5, "items": [
        {"title": "api v2", "url": "https://deploys.example/1", "subtitle": "production"},
        {"title": "web v9", "url": "javascript:alert(1)"}]}),
    );
    svc.set(
        "progress",
        200,
        json!({"label": "Migration", "value": 3, "total": 4, "unit": "steps"}),
    );
    svc.set("alert", 200, json!({"level": "critical", "title": "Queue stuck", "items": [{"title": "jobs waiting for 2 hours"}]}));
    svc.set("chart", 200, json!({"label": "Requests", "series": [
        {"name": "api", "points": [{"x": "mon", "y": 1}, {"x": "tue", "y": 4}, {"x": "wed", "y": 2}]},
        {"name": "web", "points": [["mon", 2], ["tue", 3], ["wed", 5]]}]}));
}

/// What each shape's widget shows when its data is right.
fn assert_drawn(shape: &str, card: &str) {
    let expected: &[&str] = match shape {
        "stat" => &[
            r#"<span class="stat-value">42</span>"#,
            "tickets",
            r#"<span class="delta delta-up">+3</span>"#,
        ],
        "gauge" => &[r#"<path class="gauge-fill""#, "70 of 100 GB", ">70%</text>"],
        "list" => &[
            r#"<a href="https://deploys.example/1" rel="noreferrer">api v2</a>"#,
            "production",
            "and 3 more",
        ],
        "progress" => &[r#"<progress value="3" max="4""#, "3 of 4 steps (75%)"],
        "alert" => &[
            r#"class="banner level-critical""#,
            "Queue stuck",
            "jobs waiting for 2 hours",
        ],
        "chart" => &[
            "<polyline points=",
            r#"<th scope="row">tue</th><td>4</td><td>3</td>"#,
            r#"<ul class="legend">"#,
        ],
        _ => unreachable!(),
    };
    for e in expected {
        assert!(card.contains(e), "{shape}: {e} in {card}");
    }
    // Links a browser could run are not links.
    assert!(!card.contains("javascript:"), "{card}");
}

async fn every_shape_renders_with_data_with_an_error_and_stale(backend: TestBackend) {
    let svc = service().await;
    answer_every_shape(&svc);
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let conn = service_connection(&app, &key, &svc).await;
    let mut ids = Vec::new();
    for shape in SHAPES {
        ids.push((shape, add_widget(&app, &key, &conn, shape).await));
    }
    let browser = browser();
    let cookie = sign_in(&app, &browser, &key).await;

    let (s, page) = page_text(&app, &browser, "/ui/dashboard", &cookie).await;
    assert_eq!(s, 200);
    for (shape, id) in &ids {
        let card = widget_html(&page, id);
        assert_drawn(shape, card);
        assert!(card.contains(r#"class="widget-body state-ok""#), "{card}");
        assert!(card.contains("Ops service · "), "{card}");
        // The same body is served alone for the page's script.
        let (s, fragment) = page_text(
            &app,
            &browser,
            &format!("/ui/dashboard/widgets/{id}"),
            &cookie,
        )
        .await;
        assert_eq!(s, 200);
        assert_drawn(shape, &fragment);
        assert!(!fragment.contains("<html"), "{fragment}");
    }

    // The service fails: each widget says why and keeps its last data, marked stale.
    for shape in SHAPES {
        svc.set(shape, 500, json!({"error": "the service is down"}));
    }
    tokio::time::sleep(Duration::from_millis(1100)).await; // the endpoints' cache time
    let (s, page) = page_text(&app, &browser, "/ui/dashboard", &cookie).await;
    assert_eq!(s, 200);
    for (shape, id) in &ids {
        let card = widget_html(&page, id);
        assert!(
            card.contains(r#"class="widget-body state-error""#),
            "{card}"
        );
        assert!(
            card.contains("<strong>Could not refresh:</strong>"),
            "{card}"
        );
        assert!(card.contains("500"), "{card}");
        assert!(card.contains("<strong>Stale:</strong>"), "{card}");
        assert_drawn(shape, card);
        let (_, fragment) = page_text(
            &app,
            &browser,
            &format!("/ui/dashboard/widgets/{id}"),
            &cookie,
        )
        .await;
        assert!(fragment.contains("<strong>Stale:</strong>"), "{fragment}");
    }

    // Data that does not have its shape is explained, never a broken page.
    svc.set("stat", 200, json!({"count": 1}));
    svc.set("gauge", 200, json!({"value": "lots", "max": 10}));
    svc.set("list", 200, json!({"rows": []}));
    svc.set("progress", 200, json!({"value": 1}));
    svc.set("alert", 200, json!(7));
    svc.set("chart", 200, json!({"series": "none"}));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (s, page) = page_text(&app, &browser, "/ui/dashboard", &cookie).await;
    assert_eq!(s, 200);
    for (_, id) in &ids {
        let card = widget_html(&page, id);
        assert!(card.contains("This data cannot be shown:"), "{card}");
    }

    // A disabled connection is a reason too, and the last good data stays out of date.
    answer_every_shape(&svc);
    let (s, c) = app
        .patch(
            &format!("/v1/connections/{conn}"),
            &key,
            json!({"lifecycle": "disabled"}),
        )
        .await;
    assert_eq!(s, 200, "{c}");
    let (_, page) = page_text(&app, &browser, "/ui/dashboard", &cookie).await;
    for (_, id) in &ids {
        let card = widget_html(&page, id);
        assert!(card.contains("the connection is disabled"), "{card}");
        assert!(card.contains("<strong>Stale:</strong>"), "{card}");
    }
}

async fn printing_partner_widgets_show_orders_shipping_and_notices(backend: TestBackend) {
    let em = printing_partner::spawn(Default::default()).await.unwrap();
    em.post_notice("warning", "Press 2 is down for maintenance");
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let conn = printing_connection(&app, &key, &em.base_url).await;
    let chart = add_widget(&app, &key, &conn, "orders_by_status").await;
    let progress = add_widget(&app, &key, &conn, "orders_shipped").await;
    let notices = add_widget(&app, &key, &conn, "service_notices").await;
    let browser = browser();
    let cookie = sign_in(&app, &browser, &key).await;

    let (s, page) = page_text(&app, &browser, "/ui/dashboard", &cookie).await;
    assert_eq!(s, 200);
    // 25 seeded orders whose statuses cycle draft, submitted, printing, shipped.
    let card = widget_html(&page, &chart);
    assert!(card.contains("Orders by status"), "{card}");
    assert_eq!(card.matches(r#"class="chart-bar""#).count(), 4, "{card}");
    for (status, n) in [
        ("draft", 7),
        ("submitted", 6),
        ("printing", 6),
        ("shipped", 6),
    ] {
        assert!(
            card.contains(&format!(r#"<th scope="row">{status}</th><td>{n}</td>"#)),
            "{card}"
        );
    }
    let card = widget_html(&page, &progress);
    assert!(card.contains("6 of 25 orders (24%)"), "{card}");
    assert!(card.contains(r#"<progress value="6" max="25""#), "{card}");
    let card = widget_html(&page, &notices);
    assert!(card.contains(r#"class="banner level-warning""#), "{card}");
    assert!(
        card.contains("1 service notice from the print shop"),
        "{card}"
    );
    assert!(card.contains("Press 2 is down for maintenance"), "{card}");
    // The raised notice is in the overlay too.
    assert!(
        page.contains(r#"<section class="alert-overlay" role="alert""#),
        "{page}"
    );

    // A shop that is down: the widget says so and has no data yet.
    let down = printing_partner::spawn(Default::default()).await.unwrap();
    let mut body = printing_body("u2", "demo-shop", &down.base_url, EMULATOR_KEY);
    body["enable"] = json!(true);
    let c = app.connection(&key, body).await;
    down.fail_next(100);
    let broken = add_widget(&app, &key, c["id"].as_str().unwrap(), "orders_shipped").await;
    let (s, fragment) = page_text(
        &app,
        &browser,
        &format!("/ui/dashboard/widgets/{broken}"),
        &cookie,
    )
    .await;
    assert_eq!(s, 200);
    assert!(fragment.contains("state-error"), "{fragment}");
    assert!(
        fragment.contains("<strong>Could not refresh:</strong>"),
        "{fragment}"
    );
    assert!(fragment.contains("No data yet."), "{fragment}");
    assert!(!fragment.contains("Stale:"), "{fragment}");
}

async fn the_alert_overlay_appears_and_clears(backend: TestBackend) {
    let svc = service().await;
    answer_every_shape(&svc);
    svc.set(
        "alert",
        200,
        json!({"level": "ok", "title": "All good", "items": []}),
    );
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    service_connection(&app, &key, &svc).await;
    let browser = browser();
    let cookie = sign_in(&app, &browser, &key).await;

    // Every signed-in page holds the overlay's place and loads the script that fills it.
    let resp = get_page(&app, &browser, "/ui/connections", &cookie).await;
    crate::ui::assert_ui_headers(&resp);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains(
            r#"<div id="alerts" class="alerts" data-src="/ui/alerts" data-refresh="30"></div>"#
        ),
        "{html}"
    );
    assert!(
        html.contains(r#"<script src="/ui/assets/app.js" defer></script>"#),
        "{html}"
    );
    let resp = get_page(&app, &browser, "/ui/assets/app.js", "").await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert_eq!(resp.headers()[CACHE_CONTROL], "public, max-age=3600");
    assert!(resp.text().await.unwrap().contains("data-refresh"));

    let (s, fragment) = page_text(&app, &browser, "/ui/alerts", &cookie).await;
    assert_eq!(s, 200);
    assert!(
        !fragment.contains("role=\"alert\""),
        "nothing raised: {fragment}"
    );

    svc.set("alert", 200, json!({"level": "warning", "title": "Disk almost full", "items": [{"title": "db-1 at 91%"}]}));
    tokio::time::sleep(Duration::from_millis(1100)).await; // the endpoint's cache time
    let (s, fragment) = page_text(&app, &browser, "/ui/alerts", &cookie).await;
    assert_eq!(s, 200);
    assert!(
        fragment.contains(r#"<section class="alert-overlay" role="alert""#),
        "{fragment}"
    );
    assert!(fragment.contains("1 alert raised"), "{fragment}");
    assert!(fragment.contains("Disk almost full"), "{fragment}");
    assert!(fragment.contains("db-1 at 91%"), "{fragment}");
    // The dashboard draws it with the page; others get it from the fragment.
    let (_, page) = page_text(&app, &browser, "/ui/dashboard", &cookie).await;
    assert!(
        page.contains(r#"data-refresh="30"><section class="alert-overlay" role="alert""#),
        "{page}"
    );
    // Nothing on the pages runs inline.
    for html in [&html, &page] {
        assert_eq!(html.matches("<script").count(), 1, "{html}");
        assert!(!html.contains(" style="), "{html}");
    }

    // Neither the operator nor a browser without a session sees a workspace's alerts.
    let operator = sign_in(&app, &browser, ADMIN_KEY).await;
    let (s, fragment) = page_text(&app, &browser, "/ui/alerts", &operator).await;
    assert_eq!(s, 200);
    assert!(!fragment.contains("Disk"), "{fragment}");
    let (s, fragment) = page_text(&app, &browser, "/ui/alerts", "").await;
    assert_eq!(s, 200);
    assert!(fragment.trim().is_empty(), "{fragment}");

    svc.set(
        "alert",
        200,
        json!({"level": "ok", "title": "All good", "items": []}),
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, fragment) = page_text(&app, &browser, "/ui/alerts", &cookie).await;
    assert!(!fragment.contains("role=\"alert\""), "cleared: {fragment}");
    let (_, page) = page_text(&app, &browser, "/ui/dashboard", &cookie).await;
    assert!(!page.contains("alert-overlay"), "{page}");
}

async fn another_workspaces_widgets_and_connections_are_refused(backend: TestBackend) {
    let em = printing_partner::spawn(Default::default()).await.unwrap();
    let app = TestApp::spawn(backend).await;
    let (_, key_a) = app.workspace("acme").await;
    let (_, key_b) = app.workspace("globex").await;
    let conn_a = printing_connection(&app, &key_a, &em.base_url).await;
    let widget_a = add_widget(&app, &key_a, &conn_a, "orders_shipped").await;

    let (s, b) = app
        .post(
            "/v1/widgets",
            &key_b,
            json!({"connection_id": conn_a, "endpoint": "orders_shipped"}),
        )
        .await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(
        b["error"]["details"]["fields"][0]["field"], "connection_id",
        "{b}"
    );
    for (method, path) in [
        (reqwest::Method::GET, format!("/v1/widgets/{widget_a}")),
        (reqwest::Method::DELETE, format!("/v1/widgets/{widget_a}")),
    ] {
        let (s, b) = app.call(method, &path, &key_b, None).await;
        assert_eq!(s, 404, "{path}: {b}");
    }

    let browser = browser();
    let cookie = sign_in(&app, &browser, &key_b).await;
    let (_, html) = page_text(&app, &browser, "/ui/dashboard", &cookie).await;
    assert!(
        !html.contains(&conn_a) && !html.contains(&widget_a),
        "{html}"
    );
    let csrf = csrf_field(&html);
    let resp = post_form(
        &app,
        &browser,
        "/ui/dashboard/widgets",
        &cookie,
        &[
            ("source", &format!("{conn_a} orders_shipped")),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(resp.status(), 422);
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("no such connection in this workspace"));
    let (s, _) = page_text(
        &app,
        &browser,
        &format!("/ui/dashboard/widgets/{widget_a}"),
        &cookie,
    )
    .await;
    assert_eq!(s, 404);
    let resp = post_form(
        &app,
        &browser,
        &format!("/ui/dashboard/widgets/{widget_a}/remove"),
        &cookie,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(resp.status(), 404);
    assert_eq!(widget_ids(&app, &key_a).await, vec![widget_a.clone()]);

    // Fragments answer 401 rather than the sign-in page to a script without a session.
    let (s, _) = page_text(
        &app,
        &browser,
        &format!("/ui/dashboard/widgets/{widget_a}"),
        "",
    )
    .await;
    assert_eq!(s, 401);
    // Dashboards are the workspaces'.
    let operator = sign_in(&app, &browser, ADMIN_KEY).await;
    let (s, html) = page_text(&app, &browser, "/ui/dashboard", &operator).await;
    assert_eq!(s, 403, "{html}");
    let (s, _) = app
        .post(
            "/v1/widgets",
            ADMIN_KEY,
            json!({"connection_id": conn_a, "endpoint": "orders_shipped"}),
        )
        .await;
    assert_eq!(s, 403);
}

async fn the_api_validates_widgets_field_by_field(backend: TestBackend) {
    let em = printing_partner::spawn(Default::default()).await.unwrap();
    let svc = service().await;
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let conn = printing_connection(&app, &key, &em.base_url).await;

    let fields = |b: &Value| -> Vec<String> {
        b["error"]["details"]["fields"]
            .as_array()
            .unwrap_or_else(|| panic!("field errors in {b}"))
            .iter()
            .map(|f| f["field"].as_str().unwrap().to_string())
            .collect()
    };
    let long = "t".repeat(101);
    for (body, expected) in [
        (
            json!({"connection_id": conn, "endpoint": "orders_shipped", "refresh_seconds": 5}),
            vec!["refresh_seconds"],
        ),
        (
            json!({"connection_id": conn, "endpoint": "orders_shipped", "refresh_seconds": 3601}),
            vec!["refresh_seconds"],
        ),
        (
            json!({"connection_id": conn, "endpoint": "nope", "title": long, "position": -1}),
            vec!["endpoint", "title", "position"],
        ),
        (
            json!({"connection_id": conn, "endpoint": "orders_shipped", "title": "two\nlines"}),
            vec!["title"],
        ),
        (
            json!({"connection_id": "conn_nope", "endpoint": "orders_shipped"}),
            vec!["connection_id"],
        ),
    ] {
        let (s, b) = app.post("/v1/widgets", &key, body.clone()).await;
        assert_eq!(s, 422, "{body}: {b}");
        assert_eq!(fields(&b), expected, "{body}: {b}");
    }
    let (s, b) = app
        .post("/v1/widgets", &key, json!({"endpoint": "orders_shipped"}))
        .await;
    assert_eq!(s, 422, "{b}");
    let (s, b) = app
        .post(
            "/v1/widgets",
            &key,
            json!({"connection_id": conn, "endpoint": "orders_shipped", "colour": "red"}),
        )
        .await;
    assert_eq!(s, 422, "unknown fields are refused: {b}");
    assert!(widget_ids(&app, &key).await.is_empty());

    // Refresh defaults to the endpoint's cache time, within the bounds; widgets go last.
    let first = add_widget(&app, &key, &conn, "orders_shipped").await;
    let other = service_connection(&app, &key, &svc).await;
    let second = add_widget(&app, &key, &other, "stat").await;
    let (s, front) = app
        .post("/v1/widgets", &key, json!({"connection_id": conn, "endpoint": "service_notices", "position": 0, "title": "  Notices  "}))
        .await;
    assert_eq!(s, 201, "{front}");
    assert_eq!(front["title"], "Notices");
    let (_, list) = app.get("/v1/widgets", &key).await;
    let data = list["data"].as_array().unwrap();
    let summary: Vec<(&str, u64, i64)> = data
        .iter()
        .map(|w| {
            (
                w["id"].as_str().unwrap(),
                w["refresh_seconds"].as_u64().unwrap(),
                w["position"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (first.as_str(), 30, 0),
            (front["id"].as_str().unwrap(), 30, 0),
            (second.as_str(), 10, 1)
        ],
        // By position, then by creation.
        "{list}"
    );
    assert!(list["next_cursor"].is_null());

    let (s, _) = app
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/widgets/{first}"),
            &key,
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = app
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/widgets/{first}"),
            &key,
            None,
        )
        .await;
    assert_eq!(s, 404);
    // A widget goes with its connection.
    let (s, _) = app
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/connections/{other}"),
            &key,
            None,
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(
        widget_ids(&app, &key).await,
        [front["id"].as_str().unwrap().to_string()]
    );
}
