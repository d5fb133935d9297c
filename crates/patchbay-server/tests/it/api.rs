//! Authentication, bad input, catalog and operator endpoints.

use crate::{both_backends, printing_body, TestApp, ADMIN_KEY};
use patchbay_store::testing::TestBackend;
use reqwest::Method;
use serde_json::json;

both_backends!(auth_and_bad_input, catalog, operations, workspaces_listing);

async fn auth_and_bad_input(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;

    // Missing, malformed and unknown keys.
    let resp = app
        .client
        .get(format!("{}/v1/connections", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    let (s, b) = crate::read(resp).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let resp = app
        .client
        .get(format!("{}/v1/connections", app.base))
        .header("authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        app.get("/v1/connections", "pbk_not_a_real_key").await.0,
        401
    );
    // A workspace key is not an admin key.
    assert_eq!(app.get("/v1/admin/workspaces", &key).await.0, 403);

    // Malformed JSON → 400, wrong shape → 422, no JSON content type → 415, oversize → 413.
    let send = |body: &'static str, ct: &'static str| {
        app.req(Method::POST, "/v1/connections", &key)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let (s, b) = crate::read(send("{\"connector\": ", "application/json").await.unwrap()).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("malformed_json")),
        "{b}"
    );
    let (s, b) = crate::read(
        send("{\"connector\": 5}", "application/json")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (422, Some("invalid_body")),
        "{b}"
    );
    let (s, _) = crate::read(send("{}", "text/plain").await.unwrap()).await;
    assert_eq!(s, 415);
    let big = json!({"connector": "printing_partner", "owner": {"id": "u"}, "config": {"pad": "x".repeat(70 * 1024)}});
    let (s, b) = app.post("/v1/connections", &key, big).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (413, Some("payload_too_large")),
        "{b}"
    );
    assert_eq!(
        app.get("/v1/connections", &key).await.1["data"]
            .as_array()
            .unwrap()
            .len(),
        0,
        "nothing was written"
    );

    // Unknown connector → 404 naming the known ones.
    let mut body = printing_body(
        "u1",
        "shop-1",
        "https://print.example",
        "pp_live_0123456789abcdef",
    );
    body["connector"] = json!("fax_machine");
    let (s, b) = app.post("/v1/connections", &key, body).await;
    assert_eq!(s, 404);
    let msg = b["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("fax_machine")
            && msg.contains("printing_partner")
            && msg.contains("venue_ops"),
        "{msg}"
    );

    // Unknown routes and garbage ids answer in the error shape.
    let (s, b) = app.get("/v1/nothing-here", &key).await;
    assert_eq!((s, b["error"]["code"].as_str()), (404, Some("not_found")));
    assert_eq!(app.get("/v1/connections/not-an-id", &key).await.0, 404);
    let (s, b) = app.get("/v1/connections?limit=abc", &key).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("invalid_query"))
    );
    let (s, _) = app.get("/v1/connections?lifecycle=sideways", &key).await;
    assert_eq!(s, 400);
}

async fn catalog(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let (s, b) = app.get("/v1/connectors", &key).await;
    assert_eq!(s, 200);
    let keys: Vec<&str> = b["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "github",
            "google-calendar",
            "google-mail",
            "http_json",
            "printing_partner",
            "slack",
            "telegram",
            "todoist",
            "venue_ops"
        ]
    );
    let (s, spec) = app.get("/v1/connectors/printing_partner", &key).await;
    assert_eq!(s, 200);
    for field in [
        "name",
        "description",
        "category",
        "direction",
        "mode",
        "auth",
        "capabilities",
        "entities",
        "actions",
        "config_schema",
        "secrets_schema",
    ] {
        assert!(!spec[field].is_null(), "spec lacks {field}: {spec}");
    }
    assert_eq!(spec["auth"], "api_key");
    assert!(spec["secrets_schema"]["properties"]["api_key"].is_object());
    assert!(spec["actions"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["input_schema"].is_object()));
    let (s, b) = app.get("/v1/connectors/nope", &key).await;
    assert_eq!(s, 404);
    assert_eq!(
        b["error"]["details"]["known"],
        json!([
            "github",
            "google-calendar",
            "google-mail",
            "http_json",
            "printing_partner",
            "slack",
            "telegram",
            "todoist",
            "venue_ops"
        ])
    );
}

async fn operations(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (s, b) = app.get("/healthz", "").await;
    assert_eq!((s, b["status"].as_str()), (200, Some("ok")));
    let (s, b) = app.get("/readyz", "").await;
    assert_eq!((s, b["database"].as_str()), (200, Some("ok")));
    app.get("/v1/connectors", "bad").await;
    let metrics = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("patchbay_http_requests_total{method=\"GET\",route=\"/v1/connectors\",status=\"401\"} 1"), "{metrics}");
    assert!(
        metrics.contains("patchbay_http_request_duration_seconds_bucket{route=\"/readyz\""),
        "{metrics}"
    );
    let (s, doc) = app.get("/openapi.json", "").await;
    assert_eq!(s, 200);
    for path in [
        "/v1/connections",
        "/v1/connections/{id}",
        "/v1/connections/{id}/principal/rotate",
        "/v1/connectors",
        "/v1/activity",
        "/v1/admin/workspaces",
    ] {
        assert!(doc["paths"][path].is_object(), "openapi lacks {path}");
    }
    assert!(doc["components"]["schemas"]["ConnectionView"].is_object());
    let html = app
        .client
        .get(format!("{}/docs", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("/openapi.json") && html.contains("<script>"));
    // The readiness probe notices a dead database.
    app.engine.store().close().await;
    assert_eq!(app.get("/readyz", "").await.0, 503);
}

async fn workspaces_listing(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    for n in ["a", "b", "c"] {
        app.workspace(n).await;
    }
    let (s, p1) = app.get("/v1/admin/workspaces?limit=2", ADMIN_KEY).await;
    assert_eq!(s, 200);
    assert_eq!(p1["data"].as_array().unwrap().len(), 2);
    let cursor = p1["next_cursor"].as_str().unwrap();
    let (_, p2) = app
        .get(
            &format!("/v1/admin/workspaces?limit=2&cursor={cursor}"),
            ADMIN_KEY,
        )
        .await;
    assert_eq!(p2["data"].as_array().unwrap().len(), 1);
    assert!(p2["next_cursor"].is_null());
    let (s, b) = app
        .post("/v1/admin/workspaces", ADMIN_KEY, json!({"name": "  "}))
        .await;
    assert_eq!(
        (s, b["error"]["details"]["fields"][0]["field"].as_str()),
        (422, Some("name"))
    );
    // Workspace keys are stored hashed: the one shown cannot be found in the store as text.
    let (_, key) = app.workspace("d").await;
    assert!(app
        .engine
        .store()
        .find_api_key(&key)
        .await
        .unwrap()
        .is_none());
}
