//! The alert overlay on every page: filled by its fragment, drawn with the dashboard, and
//! cleared when the endpoint is quiet again.

use super::shapes::answer_every_shape;
use super::*;
use crate::ADMIN_KEY;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE};
use std::time::Duration;

both_backends!(the_alert_overlay_appears_and_clears);

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
            r#"<div id="alerts" class="alerts" data-src="/ui/alerts" data-refresh="20"></div>"#
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
        page.contains(r#"data-refresh="20"><section class="alert-overlay" role="alert""#),
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
