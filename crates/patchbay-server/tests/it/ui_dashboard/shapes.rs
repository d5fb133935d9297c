//! Every shape drawn with data, with an error and stale, and data that is not its shape; the
//! printing partner's own widgets.

use super::*;
use std::time::Duration;

both_backends!(
    every_shape_renders_with_data_with_an_error_and_stale,
    printing_partner_widgets_show_orders_shipping_and_notices,
);

/// Sets every shape's answer of `svc` to the good data below.
pub(crate) fn answer_every_shape(svc: &Service) {
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
    // Alert data has no label of its own: the endpoint's description names the widget.
    assert!(
        card.contains("service notices (delays, outages)</h2>"),
        "{card}"
    );
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
