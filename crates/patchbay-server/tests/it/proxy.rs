//! The proxy's dealings with a provider that struggles: retries of idempotent calls after a
//! 5xx or a rate limit (a 429, or a 403 with the catalog's rate-limit headers), waiting out
//! `Retry-After` on that connection only, none for other methods, the shared rate budget,
//! and streams that outlast the client's timeout while a stalled one is still dropped. Also
//! the data cache's time to live, against the same stand-in provider.

use crate::{both_backends, TestApp};
use axum::body::Body;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use futures_util::StreamExt;
use patchbay_store::testing::TestBackend;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

both_backends!(
    proxy_retries_only_what_may_be_repeated,
    proxy_keeps_the_rate_budget,
    proxy_streams_outlast_the_timeout_but_stalls_do_not,
    data_is_fetched_again_after_its_ttl
);

/// A provider that fails on demand and notes when each call arrived.
#[derive(Default)]
struct Provider {
    /// How many of the next `/flaky` calls answer 503.
    failures: AtomicUsize,
    /// How many of the next `/limited` calls answer 429 with `Retry-After: 1`.
    limits: AtomicUsize,
    /// How many of the next `/quota` calls answer 403 with an exhausted quota, as GitHub does.
    quota: AtomicUsize,
    quota_calls: AtomicUsize,
    flaky_calls: AtomicUsize,
    limited_calls: Mutex<Vec<Instant>>,
    stamps: Mutex<Vec<Instant>>,
}

fn take_one(n: &AtomicUsize) -> bool {
    n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1))
        .is_ok()
}

async fn provider() -> (String, Arc<Provider>) {
    let state = Arc::new(Provider::default());
    let (f, l, s, q) = (state.clone(), state.clone(), state.clone(), state.clone());
    let flaky = move || {
        let state = f.clone();
        async move {
            state.flaky_calls.fetch_add(1, Ordering::SeqCst);
            if take_one(&state.failures) {
                (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response()
            } else {
                axum::Json(json!({"ok": true})).into_response()
            }
        }
    };
    let app = axum::Router::new()
        .route(
            "/records",
            get(|| async { axum::Json(json!({"data": []})) }),
        )
        .route("/flaky", get(flaky.clone()).post(flaky))
        .route(
            "/limited",
            get(move || {
                let state = l.clone();
                async move {
                    state.limited_calls.lock().unwrap().push(Instant::now());
                    if take_one(&state.limits) {
                        (
                            StatusCode::TOO_MANY_REQUESTS,
                            [("retry-after", "1")],
                            "slow down",
                        )
                            .into_response()
                    } else {
                        axum::Json(json!({"ok": true})).into_response()
                    }
                }
            }),
        )
        .route(
            "/quota",
            get(move || {
                let state = q.clone();
                async move {
                    state.quota_calls.fetch_add(1, Ordering::SeqCst);
                    if take_one(&state.quota) {
                        let headers = [("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1")];
                        (StatusCode::FORBIDDEN, headers, "API rate limit exceeded").into_response()
                    } else {
                        axum::Json(json!({"ok": true})).into_response()
                    }
                }
            }),
        )
        .route(
            "/forbidden",
            get(|| async { (StatusCode::FORBIDDEN, "no") }),
        )
        .route(
            "/upload",
            axum::routing::post(|body: axum::body::Bytes| async move {
                axum::Json(json!({"bytes": body.len()}))
            }),
        )
        .route(
            "/stamp",
            get(move || {
                let state = s.clone();
                async move {
                    state.stamps.lock().unwrap().push(Instant::now());
                    axum::Json(json!({"ok": true}))
                }
            }),
        )
        .route(
            "/trickle",
            get(|| async {
                // Ten parts 300 ms apart: 3 s in all, never 1 s without a byte.
                let parts = futures_util::stream::iter(0..10).then(|i| async move {
                    if i > 0 {
                        tokio::time::sleep(Duration::from_millis(300)).await;
                    }
                    Ok::<_, std::io::Error>(vec![b'a' + i as u8; 1000])
                });
                Body::from_stream(parts)
            }),
        )
        .route(
            "/stall",
            get(|| async {
                let first =
                    futures_util::stream::once(async { Ok::<_, std::io::Error>(vec![b'x'; 1000]) });
                let never = futures_util::stream::once(async {
                    std::future::pending::<()>().await;
                    Ok(Vec::new())
                });
                Body::from_stream(first.chain(never))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, state)
}

/// A workspace key and an enabled `http_json` connection to `base`.
async fn connection(app: &TestApp, base: &str) -> (String, String) {
    let (_, key) = app.workspace("acme").await;
    let c = app
        .connection(
            &key,
            json!({"connector": "http_json", "owner": {"id": "u1"}, "enable": true,
                   "config": {"base_url": base, "list_path": "/records"},
                   "secrets": {"api_key": "provider-key-0123"}}),
        )
        .await;
    assert_eq!(c["lifecycle"], "enabled", "{c}");
    (key, c["id"].as_str().unwrap().to_string())
}

async fn proxy_retries_only_what_may_be_repeated(backend: TestBackend) {
    let (base, provider) = provider().await;
    let app =
        TestApp::spawn_with_providers(backend, "http_json: {auth_mode: api_key, retries: 3}").await;
    let (key, id) = connection(&app, &base).await;
    let flaky = format!("/v1/connections/{id}/proxy/flaky");
    let calls = || provider.flaky_calls.load(Ordering::SeqCst);

    // Three 503s, then an answer: the catalog's three retries cover them.
    provider.failures.store(3, Ordering::SeqCst);
    let (s, body) = app.get(&flaky, &key).await;
    assert_eq!((s, body["ok"].as_bool()), (200, Some(true)), "{body}");
    assert_eq!(calls(), 4);

    // Four 503s: the retries run out and the caller gets the provider's own answer.
    provider.failures.store(4, Ordering::SeqCst);
    let (s, body) = app.get(&flaky, &key).await;
    assert_eq!((s, body.as_str()), (503, Some("busy")));
    assert_eq!(calls(), 8);
    assert_eq!(provider.failures.load(Ordering::SeqCst), 0);

    // A POST may not be repeated: one call, and its 503 goes back as it came.
    provider.failures.store(1, Ordering::SeqCst);
    let (s, _) = app.post(&flaky, &key, json!({"n": 1})).await;
    assert_eq!(s, 503);
    assert_eq!(calls(), 9);

    // A 429 is waited out for as long as `Retry-After` says, then tried again.
    provider.limits.store(1, Ordering::SeqCst);
    let limited = format!("/v1/connections/{id}/proxy/limited");
    let (s, body) = app.get(&limited, &key).await;
    assert_eq!((s, body["ok"].as_bool()), (200, Some(true)), "{body}");
    let arrivals = provider.limited_calls.lock().unwrap().clone();
    assert_eq!(arrivals.len(), 2);
    assert!(
        arrivals[1] - arrivals[0] >= Duration::from_millis(950),
        "retried after {:?}",
        arrivals[1] - arrivals[0]
    );

    // A 403 that reports an exhausted quota is a rate limit too: waited out, then retried.
    provider.quota.store(1, Ordering::SeqCst);
    let started = Instant::now();
    let (s, body) = app
        .get(&format!("/v1/connections/{id}/proxy/quota"), &key)
        .await;
    assert_eq!((s, body["ok"].as_bool()), (200, Some(true)), "{body}");
    assert_eq!(provider.quota_calls.load(Ordering::SeqCst), 2);
    assert!(started.elapsed() >= Duration::from_millis(950));
    // A plain 403 is a refusal: passed on at once, not retried.
    let started = Instant::now();
    let (s, _) = app
        .get(&format!("/v1/connections/{id}/proxy/forbidden"), &key)
        .await;
    assert_eq!(s, 403);
    assert!(started.elapsed() < Duration::from_millis(900));

    // The pause holds for every call on that connection, not only the one told; another
    // connection to the same provider (another account's quota) goes on meanwhile.
    let other = app
        .connection(
            &key,
            json!({"connector": "http_json", "owner": {"id": "u2"}, "enable": true,
                   "config": {"base_url": base, "list_path": "/records"},
                   "secrets": {"api_key": "provider-key-4567"}}),
        )
        .await;
    let other = other["id"].as_str().unwrap().to_string();
    provider.limits.store(1, Ordering::SeqCst);
    let (first, second, third) = tokio::join!(
        app.get(&limited, &key),
        async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            app.get(&format!("/v1/connections/{id}/proxy/stamp"), &key)
                .await
        },
        async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let at = Instant::now();
            let answer = app
                .get(&format!("/v1/connections/{other}/proxy/stamp"), &key)
                .await;
            (answer, at)
        }
    );
    assert_eq!((first.0, second.0, third.0 .0), (200, 200, 200));
    let limited_at = provider.limited_calls.lock().unwrap()[2];
    let mut stamps = provider.stamps.lock().unwrap().clone();
    stamps.sort();
    assert_eq!(stamps.len(), 2);
    assert!(
        stamps[0] - third.1 < Duration::from_millis(500),
        "another connection waited {:?}",
        stamps[0] - third.1
    );
    assert!(
        stamps[1] - limited_at >= Duration::from_millis(950),
        "a call on the paused connection went out after {:?}",
        stamps[1] - limited_at
    );
}

async fn proxy_keeps_the_rate_budget(backend: TestBackend) {
    let (base, provider) = provider().await;
    let app = TestApp::spawn_with_providers(
        backend,
        "http_json: {auth_mode: api_key, requests_per_second: 20, burst: 2}",
    )
    .await;
    let (key, id) = connection(&app, &base).await;
    let stamp = format!("/v1/connections/{id}/proxy/stamp");
    // Twelve callers at once: two go at once (the burst), the other ten at 20 a second.
    let calls = (0..12).map(|_| app.get(&stamp, &key));
    for (s, body) in futures_util::future::join_all(calls).await {
        assert_eq!(s, 200, "{body}");
    }
    let mut stamps = provider.stamps.lock().unwrap().clone();
    stamps.sort();
    assert_eq!(stamps.len(), 12);
    let spread = stamps[11] - stamps[0];
    assert!(
        spread >= Duration::from_millis(450),
        "12 calls spread over {spread:?}, faster than 20/s after a burst of 2"
    );
}

async fn proxy_streams_outlast_the_timeout_but_stalls_do_not(backend: TestBackend) {
    let (base, _) = provider().await;
    let app = TestApp::spawn_with_timeout(backend, "", Duration::from_secs(1)).await;
    let (key, id) = connection(&app, &base).await;
    let proxy = format!("{}/v1/connections/{id}/proxy", app.base);

    // 3 s of answer through a client that gives other calls 1 s: it arrives whole.
    let resp = app
        .client
        .get(format!("{proxy}/trickle"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let started = Instant::now();
    let body = resp.bytes().await.expect("the whole trickle");
    assert_eq!(body.len(), 10_000);
    assert!(body.ends_with(&[b'j'; 1000]));
    assert!(started.elapsed() >= Duration::from_millis(2000));

    // 3 s of upload (chunked, so streamed through) with no second of silence: it arrives
    // whole, though the answer's head comes only after the last part.
    let parts = futures_util::stream::iter(0..10).then(|i| async move {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        Ok::<_, std::io::Error>(vec![b'u'; 100_000])
    });
    let resp = app
        .client
        .post(format!("{proxy}/upload"))
        .bearer_auth(&key)
        .body(reqwest::Body::wrap_stream(parts))
        .send()
        .await
        .unwrap();
    let (s, counted) = crate::read(resp).await;
    assert_eq!(
        (s, counted["bytes"].as_u64()),
        (200, Some(1_000_000)),
        "{counted}"
    );

    // A provider that stops sending is dropped after 1 s of silence; the caller's body ends
    // in an error instead of hanging.
    let mut resp = app
        .client
        .get(format!("{proxy}/stall"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut got = 0;
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match resp.chunk().await {
                Ok(Some(c)) => got += c.len(),
                Ok(None) => return false,
                Err(_) => return true,
            }
        }
    })
    .await
    .expect("a stalled provider is given up on");
    assert!(
        ended,
        "the stalled answer ends in an error, not a clean end"
    );
    assert_eq!(got, 1000);
}

async fn data_is_fetched_again_after_its_ttl(backend: TestBackend) {
    let (base, provider) = provider().await;
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let c = app
        .connection(
            &key,
            json!({"connector": "http_json", "owner": {"id": "u1"}, "enable": true,
                   "config": {"base_url": base, "list_path": "/records", "data_endpoints": [
                       {"key": "up", "path": "/stamp", "pointer": "/ok", "shape": "stat", "ttl_seconds": 1}
                   ]},
                   "secrets": {"api_key": "provider-key-0123"}}),
        )
        .await;
    let path = format!("/v1/connections/{}/data/up", c["id"].as_str().unwrap());
    let fetches = || provider.stamps.lock().unwrap().len();
    let (s, first) = app.get(&path, &key).await;
    assert_eq!(
        (s, first["cached"].as_bool()),
        (200, Some(false)),
        "{first}"
    );
    assert_eq!(first["data"], true);
    let (_, second) = app.get(&path, &key).await;
    assert_eq!(second["cached"], true, "{second}");
    assert_eq!(second["fetched_at"], first["fetched_at"]);
    assert_eq!(fetches(), 1);
    // Past the endpoint's one-second TTL the next read goes to the provider again.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (_, third) = app.get(&path, &key).await;
    assert_eq!(third["cached"], false, "{third}");
    assert_ne!(third["fetched_at"], first["fetched_at"]);
    assert_eq!(fetches(), 2);
}
