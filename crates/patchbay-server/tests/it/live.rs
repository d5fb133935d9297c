//! Execution surfaces through the API: idempotent actions, the proxy (credential injection,
//! streaming both ways, path escapes, a refresh while proxying), signals with a failing and a
//! slow source, cached data endpoints and the alerts roll-up.

use crate::{both_backends, TestApp};
use axum::body::Body;
use axum::extract::Request;
use axum::routing::{get, post};
use futures_util::StreamExt;
use patchbay_emulators::oauth2::{self, OAuthConfig};
use patchbay_emulators::todoist::{self, TodoistConfig};
use patchbay_emulators::{TaskSeed, TodoistEmulator};
use patchbay_store::testing::TestBackend;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

both_backends!(
    idempotent_actions_call_the_provider_once,
    proxy_streams_both_ways_and_keeps_inside,
    proxy_refreshes_a_refused_token_once,
    signals_survive_a_failing_and_a_slow_source,
    data_endpoints_coalesce_misses_and_roll_up_alerts
);

const MIB: usize = 1024 * 1024;

fn localhost(base: &str) -> String {
    base.replace("127.0.0.1", "localhost")
}

/// A Todoist emulator whose user is `user` (each user is its own provider account).
async fn todoist_emulator_for(user: &str) -> TodoistEmulator {
    todoist::spawn(TodoistConfig {
        user_id: user.into(),
        ..Default::default()
    })
    .await
    .unwrap()
}

async fn todoist_emulator() -> TodoistEmulator {
    todoist_emulator_for("2671355").await
}

/// Sends a request line exactly as written (clients normalise dot segments away) and returns
/// the status code.
async fn raw_status(base: &str, path: &str, key: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// An enabled Todoist connection using the emulator's default token.
async fn todoist_connection(app: &TestApp, key: &str, em: &TodoistEmulator, owner: &str) -> String {
    let token = em.config().tokens[0].clone();
    let c = app
        .connection(
            key,
            json!({"connector": "todoist", "owner": {"id": owner}, "enable": true,
                   "config": {"base_url": localhost(&em.base_url)},
                   "secrets": {"access_token": token}}),
        )
        .await;
    assert_eq!(c["lifecycle"], "enabled", "{c}");
    c["id"].as_str().unwrap().to_string()
}

async fn idempotent_actions_call_the_provider_once(backend: TestBackend) {
    let em = todoist_emulator().await;
    let task = em.add_task(TaskSeed::new("Pay rent").due_on(em.today()));
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let id = todoist_connection(&app, &key, &em, "u1").await;
    let path = format!("/v1/connections/{id}/actions/close_task");
    let close_path = format!("/api/v1/tasks/{task}/close");
    let run = |body: Value, idem: Option<&'static str>| {
        let mut rb = app.req(reqwest::Method::POST, &path, &key).json(&body);
        if let Some(k) = idem {
            rb = rb.header("Idempotency-Key", k);
        }
        async move { crate::read(rb.send().await.unwrap()).await }
    };
    let (s, first) = run(json!({"task_id": task}), Some("close-rent-1")).await;
    assert_eq!(
        (s, first["replayed"].as_bool()),
        (200, Some(false)),
        "{first}"
    );
    assert_eq!(em.calls(&close_path), 1);
    assert!(em.task(&task).unwrap()["checked"].as_bool().unwrap());
    // The same key and input: the stored result, no second upstream call.
    let (s, again) = run(json!({"task_id": task}), Some("close-rent-1")).await;
    assert_eq!(
        (s, again["replayed"].as_bool()),
        (200, Some(true)),
        "{again}"
    );
    assert_eq!(again["result"], first["result"]);
    assert_eq!(em.calls(&close_path), 1);
    // The same key with another input is a conflict.
    let (s, e) = run(json!({"task_id": "other"}), Some("close-rent-1")).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{e}"
    );
    // Invalid input is a 422 and does not use up the key.
    let (s, e) = run(json!({"task": 1}), Some("close-rent-2")).await;
    assert_eq!(s, 422, "{e}");
    assert!(e.to_string().contains("input"), "{e}");
    let (s, _) = run(json!({"task_id": task}), Some("close-rent-2")).await;
    assert_eq!(s, 200);
    assert_eq!(em.calls(&close_path), 2);
    // A bad key is refused; without a key every request runs.
    let (s, _) = run(json!({"task_id": task}), Some("has space")).await;
    assert_eq!(s, 400);
    let (s, _) = run(json!({"task_id": task}), None).await;
    assert_eq!(s, 200);
    assert_eq!(em.calls(&close_path), 3);
    // A caller that hangs up mid-run does not abandon it: the run finishes, and the retry
    // with the same key gets its result without a second call.
    let late = em.add_task(TaskSeed::new("Call the bank").due_on(em.today()));
    let late_close = format!("/api/v1/tasks/{late}/close");
    em.set_latency(Duration::from_millis(600));
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let gave_up = impatient
        .post(format!("{}{path}", app.base))
        .bearer_auth(&key)
        .header("Idempotency-Key", "close-bank-1")
        .json(&json!({"task_id": late}))
        .send()
        .await;
    assert!(gave_up.is_err(), "the client gave up before the answer");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    em.set_latency(Duration::ZERO);
    let (s, retried) = run(json!({"task_id": late}), Some("close-bank-1")).await;
    assert_eq!(
        (s, retried["replayed"].as_bool()),
        (200, Some(true)),
        "{retried}"
    );
    assert_eq!(em.calls(&late_close), 1);
    assert!(em.task(&late).unwrap()["checked"].as_bool().unwrap());
    // Both outcomes are in the activity log.
    let (_, acts) = app
        .get(&format!("/v1/activity?connection_id={id}"), &key)
        .await;
    assert!(acts.to_string().contains("action.completed"), "{acts}");
}

/// A stand-in API: echoes headers, streams a large answer that waits for the test half-way,
/// and counts an upload, telling the test when the first part arrived.
struct Upstream {
    base: String,
    release: Arc<Notify>,
    first_part: Arc<Notify>,
}

async fn upstream() -> Upstream {
    let release = Arc::new(Notify::new());
    let first_part = Arc::new(Notify::new());
    let (r, f) = (release.clone(), first_part.clone());
    let app = axum::Router::new()
        .route(
            "/records",
            get(|| async { axum::Json(json!({"data": []})) }),
        )
        .route(
            "/echo",
            get(|req: Request| async move {
                let headers: serde_json::Map<String, Value> = req
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or(""))))
                    .collect();
                axum::Json(json!({"headers": headers, "query": req.uri().query()}))
            }),
        )
        .route(
            "/download",
            get(move || {
                let release = r.clone();
                async move {
                    let first = futures_util::stream::once(async {
                        Ok::<_, std::io::Error>(vec![b'a'; MIB])
                    });
                    let rest = futures_util::stream::once(async move {
                        release.notified().await;
                        Ok::<_, std::io::Error>(Vec::new())
                    })
                    .chain(futures_util::stream::iter(
                        (0..19).map(|_| Ok(vec![b'b'; MIB])),
                    ));
                    Body::from_stream(first.chain(rest))
                }
            }),
        )
        .route(
            "/upload",
            post(move |req: Request| {
                let first_part = f.clone();
                async move {
                    let mut stream = req.into_body().into_data_stream();
                    let mut n = 0usize;
                    let mut told = false;
                    while let Some(chunk) = stream.next().await {
                        n += chunk.unwrap().len();
                        if n >= MIB && !told {
                            first_part.notify_one();
                            told = true;
                        }
                    }
                    axum::Json(json!({"bytes": n}))
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Upstream {
        base,
        release,
        first_part,
    }
}

async fn proxy_streams_both_ways_and_keeps_inside(backend: TestBackend) {
    let up = upstream().await;
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let api_key = "upstream-api-key-123";
    let c = app
        .connection(
            &key,
            json!({"connector": "http_json", "owner": {"id": "u1"}, "enable": true,
                   "config": {"base_url": up.base, "list_path": "/records"},
                   "secrets": {"api_key": api_key}}),
        )
        .await;
    let id = c["id"].as_str().unwrap().to_string();
    let principal_key = c["principal_key"].as_str().map(str::to_string);
    let proxy = format!("{}/v1/connections/{id}/proxy", app.base);

    // The connection's credential goes upstream; the caller's key and hop headers do not.
    let resp = app
        .client
        .get(format!("{proxy}/echo?x=1&y=two"))
        .bearer_auth(&key)
        .header("x-custom", "kept")
        .header("connection", "x-hop")
        .header("x-hop", "dropped")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let echoed: Value = resp.json().await.unwrap();
    let h = &echoed["headers"];
    assert_eq!(h["authorization"], format!("Bearer {api_key}"));
    assert_eq!(h["x-custom"], "kept");
    assert!(h.get("x-hop").is_none(), "{h}");
    assert!(
        !echoed.to_string().contains(&key),
        "the caller's key never goes upstream"
    );
    assert_eq!(echoed["query"], "x=1&y=two");

    // 20 MiB down: the first MiB arrives while the upstream still holds the rest back, so the
    // proxy cannot be buffering the answer.
    let mut resp = app
        .client
        .get(format!("{proxy}/download"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut got = 0usize;
    while got < MIB {
        let chunk = tokio::time::timeout(Duration::from_secs(10), resp.chunk())
            .await
            .expect("the first part streams through before the rest exists")
            .unwrap()
            .unwrap();
        got += chunk.len();
    }
    up.release.notify_one();
    while let Some(chunk) = resp.chunk().await.unwrap() {
        got += chunk.len();
    }
    assert_eq!(got, 20 * MIB);

    // 20 MiB up: the upstream sees the first MiB before the client has produced the rest.
    let first_part = up.first_part.clone();
    let body = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(vec![b'u'; MIB])]).chain(
        futures_util::stream::once(async move {
            tokio::time::timeout(Duration::from_secs(10), first_part.notified())
                .await
                .expect("the first part of the upload reached the upstream");
            Ok(vec![b'v'; MIB])
        })
        .chain(futures_util::stream::iter(
            (0..18).map(|_| Ok(vec![b'w'; MIB])),
        )),
    );
    let resp = app
        .client
        .post(format!("{proxy}/upload"))
        .bearer_auth(&key)
        .header("content-type", "application/octet-stream")
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let counted: Value = resp.json().await.unwrap();
    assert_eq!(counted["bytes"], 20 * MIB);

    // Paths that would leave the base URL are refused before anything is sent.
    for bad in [
        "/../../../v1/admin/workspaces",
        "/a/../../x",
        "/%2e%2e/secret",
        "/a/%2E%2E/%2e%2e/x",
        "/a%2fb",
        "/x%5c..%5cy",
    ] {
        let path = format!("/v1/connections/{id}/proxy{bad}");
        assert_eq!(raw_status(&app.base, &path, &key).await, 400, "{bad}");
    }
    let fine = format!("/v1/connections/{id}/proxy/echo");
    assert_eq!(raw_status(&app.base, &fine, &key).await, 200);
    // Integration keys and other workspaces are kept out.
    if let Some(pk) = principal_key {
        let r = app
            .client
            .get(format!("{proxy}/echo"))
            .bearer_auth(pk)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
    }
    let (_, other) = app.workspace("other").await;
    let r = app
        .client
        .get(format!("{proxy}/echo"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = app
        .client
        .get(format!("{proxy}/echo"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

async fn proxy_refreshes_a_refused_token_once(backend: TestBackend) {
    let auth = oauth2::spawn(OAuthConfig {
        scopes_supported: vec![],
        access_token_ttl: Some(Duration::from_secs(3600)),
        issue_refresh_token: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let em = todoist_emulator().await;
    em.accept_oauth_tokens(&auth);
    em.add_task(TaskSeed::new("Water plants").due_on(em.today()));
    let overrides = format!(
        "todoist: {{authorization_url: '{}', token_url: '{}', revocation_url: '{}', userinfo_url: '{}', api_base_url: '{}', pkce: true, client_auth: basic}}",
        auth.authorize_url(),
        auth.token_url(),
        auth.revoke_url(),
        em.base_url.clone() + "/api/v1/user",
        em.base_url
    );
    let app = TestApp::spawn_with_providers(backend, &overrides).await;
    let (_, key) = app.workspace("acme").await;
    let (s, b) = app
        .call(
            reqwest::Method::PUT,
            "/v1/oauth-apps/todoist",
            &key,
            Some(json!({"client_id": auth.config().client_id, "client_secret": auth.config().client_secret})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let callback = crate::oauth::consent(&app, &key, &auth, "u1").await;
    let back = crate::oauth::finish(&callback).await;
    let id = back["connection_id"].clone();
    let tasks = format!("/v1/connections/{id}/proxy/api/v1/tasks");
    let (s, page) = app.get(&tasks, &key).await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["results"].as_array().unwrap().len(), 1);
    assert_eq!(auth.token_requests("refresh_token"), 0);
    // The provider stops honouring the token before patchbay expects it to: one refresh,
    // one retry, and the caller never sees the 401.
    auth.expire_access_tokens();
    let (s, page) = app.get(&tasks, &key).await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["results"].as_array().unwrap().len(), 1);
    assert_eq!(auth.token_requests("refresh_token"), 1);
    // Refreshing no longer helps: the 401 is passed on and the connection needs reconnecting.
    auth.revoke_all_refresh_tokens();
    auth.expire_access_tokens();
    let (s, _) = app.get(&tasks, &key).await;
    assert!(s == 401 || s == 409 || s == 502, "{s}");
    let (_, c) = app.get(&format!("/v1/connections/{id}"), &key).await;
    assert_eq!(c["health"], "needs_reconnect", "{c}");
    let (_, events) = app.get("/v1/events", &key).await;
    assert!(
        events.to_string().contains("connection.token_expired"),
        "{events}"
    );
}

async fn signals_survive_a_failing_and_a_slow_source(backend: TestBackend) {
    let ok = todoist_emulator().await;
    let today = ok.today();
    ok.add_task(TaskSeed::new("Today, urgent").due_on(today).priority(4));
    ok.add_task(TaskSeed::new("Overdue").due_on(today - chrono::Days::new(3)));
    ok.add_task(TaskSeed::new("Next week").due_on(today + chrono::Days::new(7)));
    let done = ok.add_task(TaskSeed::new("Done already").due_on(today));
    ok.complete_task(&done);
    let failing = todoist_emulator_for("failing-user").await;
    let slow = todoist_emulator_for("slow-user").await;
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let ok_id = todoist_connection(&app, &key, &ok, "u1").await;
    let failing_id = todoist_connection(&app, &key, &failing, "u1").await;
    let slow_id = todoist_connection(&app, &key, &slow, "u1").await;
    todoist_connection(&app, &key, &ok, "someone-else").await;
    failing.fail_next(1000);
    slow.set_latency(Duration::from_secs(3));
    let started = Instant::now();
    let (s, answer) = app
        .get("/v1/signals?owner_id=u1&timeout_ms=500", &key)
        .await;
    assert_eq!(s, 200, "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the slow source was not waited for"
    );
    let titles: Vec<&str> = answer["signals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Overdue", "Today, urgent"]);
    let first = &answer["signals"][1];
    assert_eq!(
        (
            first["kind"].as_str(),
            first["priority"].as_u64(),
            first["connection_id"].as_str(),
            first["source"].as_str()
        ),
        (Some("task"), Some(4), Some(ok_id.as_str()), Some("todoist"))
    );
    assert!(first["url"]
        .as_str()
        .unwrap()
        .starts_with("https://app.todoist.com/"));
    let status_of = |id: &str| {
        answer["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["connection_id"] == id)
            .map(|s| s["status"].as_str().unwrap().to_string())
    };
    assert_eq!(status_of(&ok_id).as_deref(), Some("ok"));
    assert_eq!(status_of(&failing_id).as_deref(), Some("failed"));
    assert_eq!(status_of(&slow_id).as_deref(), Some("timeout"));
    // Each failed source says why, without its credential.
    for bad in [&failing_id, &slow_id] {
        let source = answer["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["connection_id"] == bad.as_str())
            .unwrap();
        let error = source["error"].as_str().unwrap_or_default();
        assert!(!error.is_empty(), "{source}");
        assert!(!error.contains(&failing.config().tokens[0]), "{source}");
    }
    // The source's own record comes along, in the provider's fields.
    assert_eq!(first["record"]["content"], "Today, urgent", "{first}");
    assert_eq!(first["record"]["priority"], 4, "{first}");
    assert_eq!(
        answer["sources"].as_array().unwrap().len(),
        3,
        "only u1's sources"
    );
    assert_eq!(answer["truncated"], false);
    let (s, _) = app.get("/v1/signals?owner_id=u1&timeout_ms=0", &key).await;
    assert_eq!(s, 400);
    let (s, _) = app.get("/v1/signals", &key).await;
    assert_eq!(s, 400);
}

async fn data_endpoints_coalesce_misses_and_roll_up_alerts(backend: TestBackend) {
    let em = todoist_emulator().await;
    let today = em.today();
    em.add_task(TaskSeed::new("One").due_on(today));
    em.add_task(TaskSeed::new("Two").due_on(today));
    em.add_task(TaskSeed::new("Late").due_on(today - chrono::Days::new(1)));
    // Every miss takes a while upstream, so the concurrent requests really overlap.
    em.set_latency(Duration::from_millis(300));
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let id = todoist_connection(&app, &key, &em, "u1").await;
    let before = em.calls("/api/v1/tasks/filter");
    let path = format!("/v1/connections/{id}/data/due_today");
    let served = Arc::new(AtomicUsize::new(0));
    let mut all = tokio::task::JoinSet::new();
    for _ in 0..1000 {
        let rb = app.req(reqwest::Method::GET, &path, &key);
        let served = served.clone();
        all.spawn(async move {
            let (s, v) = crate::read(rb.send().await.unwrap()).await;
            assert_eq!(s, 200, "{v}");
            served.fetch_add(1, Ordering::Relaxed);
            v
        });
    }
    let mut fetched = 0;
    let mut values = Vec::new();
    while let Some(v) = all.join_next().await {
        let v = v.unwrap();
        if v["cached"] == false {
            fetched += 1;
        }
        values.push(v["data"].clone());
    }
    assert_eq!(served.load(Ordering::Relaxed), 1000);
    assert_eq!(
        em.calls("/api/v1/tasks/filter") - before,
        1,
        "1,000 misses, one upstream call"
    );
    assert_eq!(fetched, 1);
    assert!(values.iter().all(|v| v == &values[0]));
    let (_, view) = app.get(&path, &key).await;
    assert_eq!(
        (view["shape"].as_str(), view["cached"].as_bool()),
        (Some("stat"), Some(true)),
        "{view}"
    );
    let (s, _) = app
        .get(&format!("/v1/connections/{id}/data/nope"), &key)
        .await;
    assert_eq!(s, 404);
    // The overdue endpoint is alert-shaped: it shows up in the roll-up.
    let (s, alerts) = app.get("/v1/alerts", &key).await;
    assert_eq!(s, 200, "{alerts}");
    let list = alerts["alerts"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{alerts}");
    assert_eq!(alerts["truncated"], false);
    assert_eq!(
        (
            list[0]["connection_id"].as_str(),
            list[0]["endpoint"].as_str()
        ),
        (Some(id.as_str()), Some("overdue"))
    );
    assert!(list[0]["data"].to_string().contains("Late"), "{alerts}");
    // A connection's principal key may not read the workspace-wide roll-up.
    let (s, c) = app
        .call(
            reqwest::Method::POST,
            &format!("/v1/connections/{id}/principal/rotate"),
            &key,
            None,
        )
        .await;
    assert_eq!(s, 200, "{c}");
    let principal = c["principal_key"]
        .as_str()
        .expect("rotated key")
        .to_string();
    let (s, denied) = app.get("/v1/alerts", &principal).await;
    assert_eq!(s, 403, "{denied}");
    assert!(!denied.to_string().contains("Late"), "{denied}");
}
