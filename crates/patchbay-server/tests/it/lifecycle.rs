//! Connection lifecycle, validation, redaction, uniqueness, tenancy, listing, tests, deletion.

use crate::{assert_hidden, both_backends, printing_body, TestApp, ADMIN_KEY, EMULATOR_KEY};
use patchbay_emulators::printing_partner;
use patchbay_store::testing::TestBackend;
use reqwest::Method;
use serde_json::{json, Value};

both_backends!(
    lifecycle_and_validation,
    uniqueness_and_tenancy,
    listing,
    test_and_secret_rotation,
    deletion_keeps_audit
);

const API_KEY: &str = "pp_live_abcdef0123456789wxyz";

fn fields(body: &Value) -> Vec<String> {
    body["error"]["details"]["fields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["field"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

async fn lifecycle_and_validation(backend: TestBackend) {
    let emulator = printing_partner::spawn(Default::default()).await.unwrap();
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    // An invalid connection may exist as a draft.
    let mut body = printing_body("u1", "Bad Shop!", "http://print.example", API_KEY);
    body["secrets"]["api_key"] = json!("short-secret-xyz");
    let draft = app.connection(&key, body.clone()).await;
    assert_eq!(draft["lifecycle"], "draft");
    assert_hidden(&draft, "short-secret-xyz");
    let errs: Vec<&str> = draft["validation_errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        errs.contains(&"config.shop_id")
            && errs.contains(&"config.api_base_url")
            && errs.contains(&"secrets.api_key"),
        "{errs:?}"
    );
    let id = draft["id"].as_str().unwrap();
    let path = format!("/v1/connections/{id}");

    // Enabling is refused with the field errors while validation fails; nothing changes.
    let (s, b) = app
        .patch(&path, &key, json!({"lifecycle": "enabled"}))
        .await;
    assert_eq!(s, 422, "{b}");
    assert!(fields(&b).contains(&"config.shop_id".to_string()));
    assert_hidden(&b, "short-secret-xyz");
    assert_eq!(app.get(&path, &key).await.1["lifecycle"], "draft");
    // draft → disabled is not in the table.
    let (s, b) = app
        .patch(&path, &key, json!({"lifecycle": "disabled"}))
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("invalid_transition")),
        "{b}"
    );
    assert_eq!(
        b["error"]["details"]["allowed"],
        json!(["enabled", "revoked"])
    );

    // Fix config and secret, enable in the same request.
    let (s, b) = app
        .patch(&path, &key, json!({"config": {"shop_id": "demo-shop", "api_base_url": emulator.base_url}, "secrets": {"api_key": EMULATOR_KEY}, "lifecycle": "enabled"}))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["lifecycle"], "enabled");
    assert_eq!(b["account_id"], "demo-shop");
    assert_eq!(b["redacted_secrets"]["api_key"], "••••0001");
    assert_eq!(b["validation_errors"], json!([]));
    assert_hidden(&b, API_KEY);
    // An enabled connection cannot be broken by an update.
    let (s, _) = app
        .patch(&path, &key, json!({"config": {"shop_id": "NOPE NOPE"}}))
        .await;
    assert_eq!(s, 422);
    // enabled → disabled → enabled → revoked, then revoked is terminal.
    for (to, status) in [
        ("disabled", 200),
        ("enabled", 200),
        ("revoked", 200),
        ("enabled", 409),
        ("disabled", 409),
    ] {
        let (s, b) = app.patch(&path, &key, json!({"lifecycle": to})).await;
        assert_eq!(s, status, "to {to}: {b}");
    }
    let revoked = app.get(&path, &key).await.1;
    assert_eq!(revoked["lifecycle"], "revoked");
    assert_eq!(
        revoked["redacted_secrets"],
        json!({}),
        "revocation drops the secrets"
    );
    assert_eq!(revoked["allowed_transitions"], json!([]));

    // Creating enabled at once: refused while invalid, fine when valid.
    let bad = json!({"connector": "printing_partner", "owner": {"id": "u2"}, "config": {}, "secrets": {}, "enable": true});
    let (s, b) = app.post("/v1/connections", &key, bad).await;
    assert_eq!(s, 422);
    assert!(fields(&b).contains(&"secrets.api_key".to_string()), "{b}");
    // Credentials are verified with the partner before a connection is enabled.
    let mut unreachable = printing_body("u2", "shop-2", "https://print.invalid", API_KEY);
    unreachable["enable"] = json!(true);
    let (s, b) = app.post("/v1/connections", &key, unreachable).await;
    assert_eq!(
        (s, b["error"]["details"]["fields"][0]["code"].as_str()),
        (422, Some("verification_failed")),
        "{b}"
    );
    let mut wrong_key = printing_body("u2", "demo-shop", &emulator.base_url, API_KEY);
    wrong_key["enable"] = json!(true);
    let (s, b) = app.post("/v1/connections", &key, wrong_key).await;
    assert_eq!(s, 422, "{b}");
    assert!(
        b["error"]["details"]["fields"][0]["message"]
            .as_str()
            .unwrap()
            .contains("rejected the credentials"),
        "{b}"
    );
    assert_hidden(&b, API_KEY);
    let mut ok = printing_body("u2", "demo-shop", &emulator.base_url, EMULATOR_KEY);
    ok["enable"] = json!(true);
    let created = app.connection(&key, ok).await;
    assert_eq!(created["lifecycle"], "enabled");
    // Undeclared secrets and a scope without a type are refused even for drafts.
    let mut extra = printing_body("u3", "shop-3", "https://print.example", API_KEY);
    extra["secrets"]["password"] = json!("hunter2hunter2");
    extra["owner"]["scope"] = json!({});
    let (s, b) = app.post("/v1/connections", &key, extra).await;
    assert_eq!(s, 422);
    assert_eq!(fields(&b), ["owner.scope.type", "secrets.password"]);
    assert_hidden(&b, "hunter2hunter2");

    // The activity log holds each lifecycle step with its actor.
    let (_, acts) = app
        .get(&format!("/v1/activity?connection_id={id}"), &key)
        .await;
    let actions: Vec<&str> = acts["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    for a in [
        "connection.created",
        "connection.updated",
        "connection.secrets_rotated",
        "connection.enabled",
        "connection.disabled",
        "connection.revoked",
    ] {
        assert!(actions.contains(&a), "missing {a} in {actions:?}");
    }
    assert!(acts["data"][0]["actor"]
        .as_str()
        .unwrap()
        .starts_with("api_key:key_"));
    // And the outbox has the matching events.
    let (_, events) = app.get("/v1/events?limit=100", &key).await;
    let types: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for t in [
        "connection.created",
        "connection.enabled",
        "connection.disabled",
        "connection.revoked",
    ] {
        assert!(types.contains(&t), "missing {t} in {types:?}");
    }
    assert_hidden(&events, API_KEY);
}

async fn uniqueness_and_tenancy(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (_, key_a) = app.workspace("a").await;
    let (_, key_b) = app.workspace("b").await;
    let body = printing_body("u1", "shop-1", "https://print.example", API_KEY);
    let created = app.connection(&key_a, body.clone()).await;
    let (s, b) = app.post("/v1/connections", &key_a, body.clone()).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{b}"
    );
    // Same owner/account in another workspace is a different connection.
    app.connection(&key_b, body).await;

    let id = created["id"].as_str().unwrap();
    let path = format!("/v1/connections/{id}");
    for (method, p, body) in [
        (Method::GET, path.clone(), None),
        (
            Method::PATCH,
            path.clone(),
            Some(json!({"name": "mine now"})),
        ),
        (Method::DELETE, path.clone(), None),
        (Method::POST, format!("{path}/test"), None),
        (Method::GET, format!("{path}/principal"), None),
        (Method::POST, format!("{path}/principal/rotate"), None),
        (
            Method::POST,
            format!("{path}/actions/cancel_order"),
            Some(json!({"order_id": "x"})),
        ),
        (
            Method::GET,
            format!("/v1/activity?connection_id={id}"),
            None,
        ),
    ] {
        let (s, b) = app.call(method.clone(), &p, &key_b, body).await;
        assert_eq!(s, 404, "{method} {p} from another workspace: {b}");
        assert_eq!(b["error"]["code"], "not_found");
    }
    let (_, list_b) = app.get("/v1/connections", &key_b).await;
    assert!(list_b["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["id"] != id));
    assert_eq!(
        app.get(&path, &key_a).await.1["name"],
        "Printing partner",
        "nothing changed"
    );
}

async fn listing(backend: TestBackend) {
    let emulator = printing_partner::spawn(Default::default()).await.unwrap();
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let owner = if i % 2 == 0 { "even" } else { "odd" };
        let c = app
            .connection(
                &key,
                if i == 1 {
                    printing_body(owner, "demo-shop", &emulator.base_url, EMULATOR_KEY)
                } else {
                    printing_body(
                        owner,
                        &format!("shop-{i}"),
                        "https://print.example",
                        API_KEY,
                    )
                },
            )
            .await;
        ids.push(c["id"].as_str().unwrap().to_string());
    }
    let (s, b) = app
        .patch(
            &format!("/v1/connections/{}", ids[1]),
            &key,
            json!({"lifecycle": "enabled"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (s, page) = app
            .get(&format!("/v1/connections?limit=2{cursor}"), &key)
            .await;
        assert_eq!(s, 200);
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ids, "pages are complete and ordered");
    let count = |q: &'static str| {
        let app = &app;
        let key = key.clone();
        async move {
            app.get(&format!("/v1/connections?{q}"), &key).await.1["data"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert_eq!(count("owner_id=even").await, 3);
    assert_eq!(count("lifecycle=enabled").await, 1);
    assert_eq!(count("lifecycle=draft&owner_id=odd").await, 1);
    assert_eq!(count("connector=venue_ops").await, 0);
    assert_eq!(count("health=healthy").await, 5);
    let (_, stats) = app.get("/v1/stats", &key).await;
    assert_eq!(stats["connections"], 5);
    assert_eq!(stats["by_lifecycle"]["draft"], 4);
    // Across workspaces only with the admin key.
    let (_, other) = app.workspace("globex").await;
    let body = printing_body(
        "o1",
        "other-shop",
        "https://api.printer.example",
        EMULATOR_KEY,
    );
    app.connection(&other, body).await;
    assert_eq!(app.get("/v1/admin/stats", &key).await.0, 403);
    assert_eq!(app.get("/v1/stats", &other).await.1["connections"], 1);
    assert_eq!(
        app.get("/v1/admin/stats", ADMIN_KEY).await.1["connections"],
        6
    );
}

async fn test_and_secret_rotation(backend: TestBackend) {
    let emulator = printing_partner::spawn(Default::default()).await.unwrap();
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let mut body = printing_body("u1", "demo-shop", &emulator.base_url, EMULATOR_KEY);
    body["enable"] = json!(true);
    let c = app.connection(&key, body).await;
    let id = c["id"].as_str().unwrap();
    let (s, r) = app
        .post(&format!("/v1/connections/{id}/test"), &key, json!({}))
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (r["ok"].as_bool(), r["account"].as_str()),
        (Some(true), Some("demo-shop")),
        "{r}"
    );
    let after = app.get(&format!("/v1/connections/{id}"), &key).await.1;
    assert_eq!(after["health"], "healthy");
    assert!(after["last_tested_at"].is_string());

    // Rotate to a key the partner does not accept: the next test says so, health follows.
    let wrong = "pp_test_not_the_right_key_99";
    let (s, b) = app
        .patch(
            &format!("/v1/connections/{id}"),
            &key,
            json!({"secrets": {"api_key": wrong}}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["redacted_secrets"]["api_key"], "••••y_99");
    let (_, r) = app
        .post(&format!("/v1/connections/{id}/test"), &key, json!({}))
        .await;
    assert_eq!(r["ok"], false);
    assert_hidden(&r, wrong);
    let after = app.get(&format!("/v1/connections/{id}"), &key).await.1;
    assert_eq!(after["health"], "needs_reconnect");
    // A partner outage marks it failing, not needing reconnect.
    app.patch(
        &format!("/v1/connections/{id}"),
        &key,
        json!({"secrets": {"api_key": EMULATOR_KEY}}),
    )
    .await;
    emulator.fail_next(1);
    let (_, r) = app
        .post(&format!("/v1/connections/{id}/test"), &key, json!({}))
        .await;
    assert_eq!(r["ok"], false);
    assert_eq!(
        app.get(&format!("/v1/connections/{id}"), &key).await.1["health"],
        "failing"
    );
    let (_, r) = app
        .post(&format!("/v1/connections/{id}/test"), &key, json!({}))
        .await;
    assert_eq!(r["ok"], true);
    let (_, events) = app.get("/v1/events?limit=100", &key).await;
    let health_changes = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "connection.health_changed")
        .count();
    assert_eq!(
        health_changes, 3,
        "healthy→needs_reconnect→…→failing→healthy"
    );
    let (_, acts) = app
        .get(&format!("/v1/activity?connection_id={id}&limit=100"), &key)
        .await;
    let tested = acts["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "connection.tested")
        .count();
    assert_eq!(tested, 4);
    assert_hidden(&acts, wrong);
    assert_hidden(&acts, EMULATOR_KEY);
}

async fn deletion_keeps_audit(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let c = app
        .connection(
            &key,
            printing_body("u1", "shop-1", "https://print.example", API_KEY),
        )
        .await;
    let id = c["id"].as_str().unwrap();
    let path = format!("/v1/connections/{id}");
    assert_eq!(app.call(Method::DELETE, &path, &key, None).await.0, 204);
    assert_eq!(app.get(&path, &key).await.0, 404);
    assert_eq!(app.call(Method::DELETE, &path, &key, None).await.0, 404);
    let (_, acts) = app.get("/v1/activity", &key).await;
    assert!(acts["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["action"] == "connection.deleted" && a["connection_id"] == id));
    // The same account can be connected again.
    app.connection(
        &key,
        printing_body("u1", "shop-1", "https://print.example", API_KEY),
    )
    .await;
}
