//! Custom OpenAI-compatible LLM providers: id rules, the https rule, create / replace / keep
//! the key, delete, the test against the emulator, the workspaces' read view, admin-only
//! writes, and keys that never leave the vault.

use crate::{both_backends, TestApp, ADMIN_KEY};
use patchbay_connectors::{HttpClient, NetworkPolicy};
use patchbay_emulators::openai_compat::{self, OpenAiConfig, OpenAiEmulator};
use patchbay_store::testing::TestBackend;
use patchbay_vault::MasterKey;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

both_backends!(
    ids_follow_the_rules,
    base_urls_need_https_unless_private_networks_are_allowed,
    put_creates_replaces_and_keeps_the_key,
    extra_headers_are_checked_and_never_shown,
    test_lists_the_emulators_models,
    test_failures_are_clear_errors,
    workspaces_read_enabled_providers_without_keys,
    only_the_admin_keeps_providers,
    keys_never_leave_the_vault,
);

const KEY: &str = "sk-planted-llm-key-0123456789abcdef";

fn path(id: &str) -> String {
    format!("/v1/admin/llm-providers/{id}")
}

async fn put(app: &TestApp, id: &str, body: Value) -> (u16, Value) {
    app.call(Method::PUT, &path(id), ADMIN_KEY, Some(body))
        .await
}

async fn emulator() -> OpenAiEmulator {
    openai_compat::spawn(OpenAiConfig {
        api_key: KEY.into(),
        ..Default::default()
    })
    .await
    .unwrap()
}

/// A provider at the emulator with the planted key.
async fn registered(app: &TestApp, id: &str, emu: &OpenAiEmulator) -> Value {
    let (s, p) = put(
        app,
        id,
        json!({"name": "Local echo", "base_url": emu.api_url(), "api_key": KEY}),
    )
    .await;
    assert_eq!(s, 201, "{p}");
    p
}

fn field_codes(body: &Value) -> Vec<(String, String)> {
    body["error"]["details"]["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("no field errors in {body}"))
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap().into(),
                f["code"].as_str().unwrap().into(),
            )
        })
        .collect()
}

/// Activity about provider `id`, oldest first, as (action, details).
async fn activity(app: &TestApp, id: &str) -> Vec<(String, Value)> {
    let (s, acts) = app.get("/v1/admin/activity?limit=200", ADMIN_KEY).await;
    assert_eq!(s, 200, "{acts}");
    let mut out: Vec<(String, Value)> = acts["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["details"]["provider_id"] == id)
        .map(|a| (a["action"].as_str().unwrap().into(), a["details"].clone()))
        .collect();
    out.reverse();
    out
}

async fn ids_follow_the_rules(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let body = json!({"name": "Mine", "base_url": "https://llm.example.com/v1"});
    let long = "a".repeat(64);
    let max = "a".repeat(63);
    for ok in ["x", "in-house-llm", "vllm-2", max.as_str()] {
        let (s, p) = put(&app, ok, body.clone()).await;
        assert_eq!(s, 201, "{ok}: {p}");
        assert_eq!(p["id"], ok);
    }
    for (bad, code) in [
        (long.as_str(), "format"),
        ("In-House", "format"),
        ("in_house", "format"),
        ("-lead", "format"),
        ("trail-", "format"),
        ("a.b", "format"),
        ("anthropic", "reserved"),
        ("openai", "reserved"),
        ("google", "reserved"),
        ("parallel", "reserved"),
    ] {
        let (s, err) = put(&app, bad, body.clone()).await;
        assert_eq!(s, 422, "{bad}: {err}");
        assert_eq!(field_codes(&err), [("id".into(), code.into())], "{bad}");
        // Reading an id that cannot exist is a plain 404.
        assert_eq!(app.get(&path(bad), ADMIN_KEY).await.0, 404, "{bad}");
    }
    // Every problem in one answer.
    let (s, err) = put(
        &app,
        "Bad_Id",
        json!({"name": " ", "base_url": "ftp://x", "models": ["a", "a"]}),
    )
    .await;
    assert_eq!(s, 422);
    let fields: Vec<String> = field_codes(&err).into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, ["id", "name", "base_url", "models[1]"], "{err}");
    let (s, _) = put(
        &app,
        "fine",
        json!({"name": "x", "base_url": "https://a.example", "bogus": 1}),
    )
    .await;
    assert_eq!(s, 422, "unknown fields are refused");
}

async fn base_urls_need_https_unless_private_networks_are_allowed(backend: TestBackend) {
    // The tests' usual server allows private networks: plain http to loopback is fine.
    let open = TestApp::spawn(backend).await;
    let (s, p) = put(
        &open,
        "local",
        json!({"name": "Local", "base_url": "http://127.0.0.1:8187/v1/"}),
    )
    .await;
    assert_eq!(s, 201, "{p}");
    assert_eq!(p["base_url"], "http://127.0.0.1:8187/v1", "normalised");

    let strict = TestApp::spawn_inner(
        crate::new_database_for(backend),
        MasterKey::generate_base64(),
        crate::registry(),
        crate::catalog(None),
        patchbay_engine::DEFAULT_CONNECT_TTL,
        HttpClient::new(NetworkPolicy::DenyPrivate, Duration::from_secs(5)),
    )
    .await;
    for (url, code) in [
        ("http://llm.example.com/v1", "https_required"),
        ("https://127.0.0.1:8187/v1", "private_address"),
        ("https://10.1.2.3/v1", "private_address"),
        ("https://[::1]/v1", "private_address"),
        ("https://localhost:8443/v1", "private_address"),
        ("https://user:pw@llm.example.com/v1", "credentials"),
        ("https://llm.example.com/v1?key=x", "format"),
        ("file:///etc/passwd", "scheme"),
        ("llm.example.com", "format"),
    ] {
        let (s, err) = put(&strict, "remote", json!({"name": "R", "base_url": url})).await;
        assert_eq!(s, 422, "{url}: {err}");
        assert_eq!(
            field_codes(&err),
            [("base_url".into(), code.into())],
            "{url}"
        );
        let message = err["error"]["details"]["fields"][0]["message"]
            .as_str()
            .unwrap();
        if code == "https_required" || code == "private_address" {
            assert!(
                message.contains("PATCHBAY_ALLOW_PRIVATE_NETWORKS"),
                "{message}"
            );
        }
    }
    let (s, p) = put(
        &strict,
        "remote",
        json!({"name": "R", "base_url": "https://llm.example.com/v1"}),
    )
    .await;
    assert_eq!(s, 201, "{p}");
}

async fn put_creates_replaces_and_keeps_the_key(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let emu = emulator().await;
    let created = registered(&app, "echo", &emu).await;
    assert_eq!(
        (
            &created["has_api_key"],
            &created["api_key_hint"],
            &created["enabled"]
        ),
        (&json!(true), &json!("••••cdef"), &json!(true))
    );
    assert_eq!(created["models"], json!([]));
    assert_eq!(
        app.get(&path("echo"), ADMIN_KEY).await,
        (200, created.clone())
    );

    // A PUT without api_key replaces the rest and keeps the key.
    let (s, replaced) = put(
        &app,
        "echo",
        json!({"name": "Echo", "base_url": emu.api_url(), "models": ["echo-1"], "enabled": false}),
    )
    .await;
    assert_eq!(s, 200, "{replaced}");
    assert_eq!(
        (&replaced["name"], &replaced["models"], &replaced["enabled"]),
        (&json!("Echo"), &json!(["echo-1"]), &json!(false))
    );
    assert_eq!(replaced["has_api_key"], true, "the stored key stays");
    assert_eq!(replaced["created_at"], created["created_at"]);
    let (s, tested) = app
        .post(&format!("{}/test", path("echo")), ADMIN_KEY, json!({}))
        .await;
    assert_eq!(s, 200, "the kept key still works: {tested}");

    // A new key replaces it; null removes it.
    let (_, rekeyed) = put(
        &app,
        "echo",
        json!({"name": "Echo", "base_url": emu.api_url(), "api_key": "sk-another-key-00000000009999"}),
    )
    .await;
    assert_eq!(rekeyed["api_key_hint"], "••••9999");
    let (_, keyless) = put(
        &app,
        "echo",
        json!({"name": "Echo", "base_url": emu.api_url(), "api_key": null}),
    )
    .await;
    assert_eq!(
        (&keyless["has_api_key"], &keyless["api_key_hint"]),
        (&json!(false), &Value::Null)
    );
    let (s, err) = put(
        &app,
        "echo",
        json!({"name": "Echo", "base_url": emu.api_url(), "api_key": "has space"}),
    )
    .await;
    assert_eq!(
        (s, field_codes(&err)),
        (422, vec![("api_key".into(), "format".into())])
    );

    let (s, page) = app.get("/v1/admin/llm-providers", ADMIN_KEY).await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["data"].as_array().unwrap().len(), 1);

    assert_eq!(
        app.call(Method::DELETE, &path("echo"), ADMIN_KEY, None)
            .await
            .0,
        204
    );
    assert_eq!(app.get(&path("echo"), ADMIN_KEY).await.0, 404);
    assert_eq!(
        app.call(Method::DELETE, &path("echo"), ADMIN_KEY, None)
            .await
            .0,
        404
    );
    assert_eq!(
        app.post(&format!("{}/test", path("echo")), ADMIN_KEY, json!({}))
            .await
            .0,
        404
    );
    let actions: Vec<String> = activity(&app, "echo")
        .await
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    assert_eq!(
        actions,
        [
            "llm_provider.created",
            "llm_provider.updated",
            "llm_provider.tested",
            "llm_provider.updated",
            "llm_provider.updated",
            "llm_provider.deleted"
        ]
    );
    // Created again after a delete: a new provider, without the old key.
    let (s, again) = put(
        &app,
        "echo",
        json!({"name": "E", "base_url": emu.api_url()}),
    )
    .await;
    assert_eq!((s, &again["has_api_key"]), (201, &json!(false)));
}

async fn extra_headers_are_checked_and_never_shown(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let base = json!({"name": "H", "base_url": "https://llm.example.com/v1"});
    let with = |headers: Value| {
        let mut b = base.clone();
        b["extra_headers"] = headers;
        b
    };
    for (headers, field, code) in [
        (
            json!({"Authorization": "Bearer x"}),
            "extra_headers.Authorization",
            "reserved",
        ),
        (
            json!({"host": "evil.example"}),
            "extra_headers.host",
            "reserved",
        ),
        (
            json!({"bad name": "x"}),
            "extra_headers.bad name",
            "invalid_name",
        ),
        (
            json!({"X-Org": "a\r\nInjected: 1"}),
            "extra_headers.X-Org",
            "invalid_value",
        ),
        (json!({"X-Org": ""}), "extra_headers.X-Org", "invalid_value"),
    ] {
        let (s, err) = put(&app, "hdr", with(headers.clone())).await;
        assert_eq!(s, 422, "{headers}: {err}");
        assert_eq!(
            field_codes(&err),
            [(field.into(), code.into())],
            "{headers}"
        );
    }
    let secret = "org-secret-value-4242";
    let (s, p) = put(
        &app,
        "hdr",
        with(json!({"OpenAI-Organization": secret, "X-Team": "blue"})),
    )
    .await;
    assert_eq!(s, 201, "{p}");
    assert_eq!(
        p["extra_header_names"],
        json!(["openai-organization", "x-team"])
    );
    crate::assert_hidden(&p, secret);
    // Left out: kept. `{}`: removed.
    let (_, kept) = put(&app, "hdr", base.clone()).await;
    assert_eq!(
        kept["extra_header_names"],
        json!(["openai-organization", "x-team"])
    );
    let (_, cleared) = put(&app, "hdr", with(json!({}))).await;
    assert_eq!(cleared["extra_header_names"], json!([]));
    for (_, details) in activity(&app, "hdr").await {
        crate::assert_hidden(&details, secret);
    }
}

async fn test_lists_the_emulators_models(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let emu = emulator().await;
    registered(&app, "echo", &emu).await;
    let (s, tested) = app
        .post(&format!("{}/test", path("echo")), ADMIN_KEY, json!({}))
        .await;
    assert_eq!(s, 200, "{tested}");
    assert_eq!(
        (&tested["ok"], &tested["models"]),
        (&json!(true), &json!(["echo-1", "echo-1-mini"]))
    );
    let (_, p) = app.get(&path("echo"), ADMIN_KEY).await;
    assert_eq!(p["discovered_models"], json!(["echo-1", "echo-1-mini"]));
    assert_eq!(p["tested_at"], tested["tested_at"]);
    // A new base URL forgets what the old one listed.
    let (_, moved) = put(
        &app,
        "echo",
        json!({"name": "E", "base_url": format!("{}/", emu.api_url())}),
    )
    .await;
    assert_eq!(
        moved["discovered_models"],
        json!(["echo-1", "echo-1-mini"]),
        "same URL, normalised"
    );
    let (_, moved) = put(
        &app,
        "echo",
        json!({"name": "E", "base_url": "https://llm.example.com/v1"}),
    )
    .await;
    assert_eq!(
        (&moved["discovered_models"], &moved["tested_at"]),
        (&json!([]), &Value::Null)
    );
}

async fn test_failures_are_clear_errors(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let emu = emulator().await;
    registered(&app, "echo", &emu).await;
    let test = || app.post("/v1/admin/llm-providers/echo/test", ADMIN_KEY, json!({}));
    let expect = |answer: (u16, Value), status: u16, code: &str| {
        assert_eq!(answer.0, status, "{}", answer.1);
        assert_eq!(answer.1["error"]["code"], code, "{}", answer.1);
        crate::assert_hidden(&answer.1, KEY);
        answer.1["error"]["message"].as_str().unwrap().to_string()
    };
    emu.rate_limit_next(1);
    expect(test().await, 429, "provider_rate_limited");
    emu.fail_next(1);
    expect(test().await, 502, "provider_error");
    emu.garbage_next(1);
    let m = expect(test().await, 502, "provider_error");
    assert!(m.contains("invalid JSON"), "{m}");
    emu.truncate_next(1);
    expect(test().await, 502, "provider_error");

    // A wrong key is the provider refusing it, not a fault of patchbay.
    let (s, _) = put(
        &app,
        "echo",
        json!({"name": "E", "base_url": emu.api_url(), "api_key": "sk-wrong-key-0000000000000"}),
    )
    .await;
    assert_eq!(s, 200);
    let m = expect(test().await, 502, "provider_unauthorized");
    assert!(!m.contains("sk-wrong-key"), "{m}");
    // Not an OpenAI API at that path, and nothing listening at all.
    put(
        &app,
        "echo",
        json!({"name": "E", "base_url": emu.base_url, "api_key": KEY}),
    )
    .await;
    let m = expect(test().await, 502, "provider_error");
    assert!(m.contains("404"), "{m}");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    put(
        &app,
        "echo",
        json!({"name": "E", "base_url": format!("http://127.0.0.1:{port}/v1")}),
    )
    .await;
    expect(test().await, 502, "provider_error");

    let tests: Vec<Value> = activity(&app, "echo")
        .await
        .into_iter()
        .filter(|(a, _)| a == "llm_provider.tested")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(tests.len(), 7);
    assert!(
        tests
            .iter()
            .all(|d| d["ok"] == false && d["error"].is_string()),
        "{tests:?}"
    );
    let (_, p) = app.get(&path("echo"), ADMIN_KEY).await;
    assert_eq!(
        p["discovered_models"],
        json!([]),
        "failed tests store nothing"
    );
}

async fn workspaces_read_enabled_providers_without_keys(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let emu = emulator().await;
    registered(&app, "echo", &emu).await;
    put(
        &app,
        "echo",
        json!({"name": "Echo", "base_url": emu.api_url(), "models": ["echo-1"],
        "extra_headers": {"X-Team": "blue-team-secret"}}),
    )
    .await;
    let (s, _) = put(
        &app,
        "off",
        json!({"name": "Off", "base_url": emu.api_url(), "enabled": false}),
    )
    .await;
    assert_eq!(s, 201);

    let (s, page) = app.get("/v1/llm-providers", &key).await;
    assert_eq!(s, 200, "{page}");
    let data = page["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "only enabled providers: {page}");
    let echo = &data[0];
    assert_eq!(
        (&echo["id"], &echo["models"]),
        (&json!("echo"), &json!(["echo-1"]))
    );
    for hidden in [
        "has_api_key",
        "api_key_hint",
        "extra_header_names",
        "api_key",
    ] {
        assert!(echo.get(hidden).is_none(), "{hidden} in {echo}");
    }
    crate::assert_hidden(&page, KEY);
    crate::assert_hidden(&page, "blue-team-secret");
    assert_eq!(app.get("/v1/llm-providers/echo", &key).await.1, *echo);
    assert_eq!(app.get("/v1/llm-providers/off", &key).await.0, 404);
    assert_eq!(app.get("/v1/llm-providers/nope", &key).await.0, 404);
    assert_eq!(app.get("/v1/llm-providers", ADMIN_KEY).await.0, 403);
}

async fn only_the_admin_keeps_providers(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let emu = emulator().await;
    registered(&app, "echo", &emu).await;
    let body = json!({"name": "X", "base_url": "https://llm.example.com/v1"});
    let calls = [
        (Method::GET, "/v1/admin/llm-providers".to_string(), None),
        (Method::GET, path("echo"), None),
        (Method::PUT, path("echo"), Some(body.clone())),
        (Method::PUT, path("new-one"), Some(body)),
        (Method::DELETE, path("echo"), None),
        (Method::POST, format!("{}/test", path("echo")), None),
    ];
    for (method, p, body) in calls {
        let (s, err) = app.call(method.clone(), &p, &key, body.clone()).await;
        assert_eq!(
            (s, err["error"]["code"].as_str()),
            (403, Some("forbidden")),
            "{method} {p}"
        );
        let mut rb = app
            .client
            .request(method.clone(), format!("{}{p}", app.base));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        assert_eq!(
            crate::read(rb.send().await.unwrap()).await.0,
            401,
            "{method} {p} without a key"
        );
    }
    assert_eq!(
        app.get(&path("echo"), ADMIN_KEY).await.1["name"],
        "Local echo",
        "nothing changed"
    );
    assert_eq!(app.get(&path("new-one"), ADMIN_KEY).await.0, 404);
    let (_, doc) = app.get("/openapi.json", "").await;
    for p in [
        "/v1/admin/llm-providers",
        "/v1/admin/llm-providers/{id}",
        "/v1/admin/llm-providers/{id}/test",
        "/v1/llm-providers",
        "/v1/llm-providers/{id}",
    ] {
        assert!(doc["paths"][p].is_object(), "openapi lacks {p}");
    }
}

async fn keys_never_leave_the_vault(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (_, ws_key) = app.workspace("acme").await;
    let emu = emulator().await;
    let header_secret = "header-secret-value-77";
    let (s, created) = put(
        &app,
        "echo",
        json!({"name": "E", "base_url": emu.api_url(), "api_key": KEY,
        "extra_headers": {"X-Org-Token": header_secret}}),
    )
    .await;
    assert_eq!(s, 201);
    let mut answers = vec![created];
    answers.push(
        app.post("/v1/admin/llm-providers/echo/test", ADMIN_KEY, json!({}))
            .await
            .1,
    );
    answers.push(app.get(&path("echo"), ADMIN_KEY).await.1);
    answers.push(app.get("/v1/admin/llm-providers", ADMIN_KEY).await.1);
    answers.push(app.get("/v1/llm-providers", &ws_key).await.1);
    answers.push(app.get("/v1/admin/activity?limit=200", ADMIN_KEY).await.1);
    put(
        &app,
        "echo",
        json!({"name": "E", "base_url": emu.api_url(), "api_key": "sk-wrong-key-0000000000000"}),
    )
    .await;
    answers.push(
        app.post("/v1/admin/llm-providers/echo/test", ADMIN_KEY, json!({}))
            .await
            .1,
    );
    answers.push(app.get("/v1/admin/activity?limit=200", ADMIN_KEY).await.1);
    for a in &answers {
        for secret in [KEY, header_secret, "sk-wrong-key-0000000000000"] {
            crate::assert_hidden(a, secret);
        }
    }
    // Stored as ciphertext only.
    let creds = app
        .engine
        .store()
        .list_credentials("llm_provider", "echo")
        .await
        .unwrap();
    assert_eq!(creds.len(), 2);
    for c in &creds {
        let text = String::from_utf8_lossy(&c.ciphertext);
        assert!(!text.contains("sk-wrong-key") && !text.contains(header_secret));
    }
    if let Some(db) = &app.db.sqlite_path {
        app.engine.store().close().await;
        let text = String::from_utf8_lossy(&std::fs::read(db).unwrap()).to_string();
        for secret in [KEY, header_secret, "sk-wrong-key-0000000000000"] {
            assert!(
                !text.contains(secret),
                "plaintext {secret} in the database file"
            );
        }
        assert!(
            text.contains("llm_providers"),
            "the scan read the real file"
        );
    }
}
