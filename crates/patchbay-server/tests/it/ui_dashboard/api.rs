//! `/v1/widgets` and the dashboard's fences: field errors, defaults and order, and another
//! workspace's connections and widgets refused.

use super::*;
use crate::ADMIN_KEY;

both_backends!(
    another_workspaces_widgets_and_connections_are_refused,
    the_api_validates_widgets_field_by_field,
);

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
    assert_eq!(s, 404, "another workspace's connection is not found: {b}");
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
    ] {
        let (s, b) = app.post("/v1/widgets", &key, body.clone()).await;
        assert_eq!(s, 422, "{body}: {b}");
        assert_eq!(fields(&b), expected, "{body}: {b}");
    }
    let (s, b) = app
        .post(
            "/v1/widgets",
            &key,
            json!({"connection_id": "conn_nope", "endpoint": "orders_shipped"}),
        )
        .await;
    assert_eq!(s, 404, "{b}");
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
