//! The dashboard in a real browser: a widget added through the form, every shape on screen
//! (also 320 px wide) without console errors, widgets that refresh themselves into new data and
//! into an error, and the alert overlay appearing and clearing without a reload.

use super::shapes::answer_every_shape;
use super::*;
use crate::browser::Browser;
use std::time::{Duration, Instant};

both_backends!(the_dashboard_refreshes_itself_in_the_browser);

/// Waits until the text of `css` satisfies `ok` (the page refreshes by itself).
async fn eventually(b: &Browser, css: &str, within: Duration, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + within;
    loop {
        let text = if b.has(css).await {
            b.text(css).await
        } else {
            String::new()
        };
        if ok(&text) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{css} never matched; last: {text:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn the_dashboard_refreshes_itself_in_the_browser(backend: TestBackend) {
    let svc = service().await;
    answer_every_shape(&svc);
    svc.set(
        "alert",
        200,
        json!({"level": "ok", "title": "Fine", "items": []}),
    );
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let conn = service_connection(&app, &key, &svc).await;
    for shape in SHAPES.iter().filter(|s| **s != "stat") {
        add_widget(&app, &key, &conn, shape).await;
    }
    let b = Browser::open(&app.base, &format!("dashboard-{backend:?}")).await;
    b.sign_in(&key).await;
    b.goto("/ui/dashboard").await;
    b.page("dashboard-without-stat").await;

    // The stat widget comes through the form, refreshing every 10 seconds.
    b.choose("#widget-source", &format!("{conn} stat")).await;
    b.fill("#widget-refresh", "10").await;
    b.fill("#widget-title", "Tickets").await;
    b.click("form[action='/ui/dashboard/widgets'] button").await;
    let (_, list) = app.get("/v1/widgets", &key).await;
    let stat = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["endpoint"] == "stat")
        .expect("the form added the widget")["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(b.path().await, "/ui/dashboard");
    let value = format!("#widget-{stat} .stat-value");
    assert_eq!(b.text(&value).await, "42");
    for css in [
        ".gauge-fill",
        ".widget-list a",
        "progress",
        ".banner.level-ok",
        ".chart polyline",
    ] {
        assert!(b.has(css).await, "{css} is on the page");
    }
    b.page("dashboard").await;
    b.width(320).await;
    b.page("dashboard-320").await;
    b.width(1280).await;

    // New data and a raised alert arrive without a reload; then the failure, with the last
    // data kept, and the alert cleared.
    let card = format!("#widget-{stat}");
    assert!(!b.has("#alerts [role=alert]").await);
    svc.set("stat", 200, json!({"label": "Open tickets", "value": 99}));
    svc.set(
        "alert",
        200,
        json!({"level": "warning", "title": "Disk almost full", "items": []}),
    );
    eventually(&b, &value, Duration::from_secs(20), |t| t == "99").await;
    eventually(&b, "#alerts", Duration::from_secs(30), |t| {
        t.contains("Disk almost full")
    })
    .await;
    b.script("window.scrollTo(0, 0)").await;
    b.page("alert-overlay").await;
    svc.set("stat", 500, json!({"error": "down"}));
    svc.set(
        "alert",
        200,
        json!({"level": "ok", "title": "Fine", "items": []}),
    );
    let text = eventually(&b, &card, Duration::from_secs(20), |t| {
        t.contains("Could not refresh")
    })
    .await;
    assert!(text.contains("Stale:") && text.contains("99"), "{text}");
    eventually(&b, "#alerts", Duration::from_secs(30), |t| {
        !t.contains("Disk")
    })
    .await;
    b.page("dashboard-error").await;

    // Removing through the button.
    b.goto("/ui/dashboard").await;
    b.click(&format!(
        "form[action='/ui/dashboard/widgets/{stat}/remove'] button"
    ))
    .await;
    assert!(!b.has(&card).await);
    assert!(widget_ids(&app, &key).await.iter().all(|id| *id != stat));
    b.page("dashboard-removed").await;
    b.close().await;
}
