//! Outbound events: signed deliveries, retries, order per connection, circuit, manual retry.

use crate::{both_backends, printing_body, TestApp};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use patchbay_connectors::webhooks::verify;
use patchbay_core::{WebhookRequest, WebhookScheme};
use patchbay_store::testing::TestBackend;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

both_backends!(
    deliveries_are_signed_ordered_and_retried,
    a_failed_delivery_is_retried_after_the_first_delay,
    an_event_committed_late_is_still_delivered,
    a_hanging_subscriber_holds_up_only_itself,
    a_new_subscription_receives_only_later_events,
);

/// Headers and body of one delivery as received.
type Received = (BTreeMap<String, String>, Vec<u8>);

#[derive(Default)]
struct Receiver {
    got: Mutex<Vec<Received>>,
    fail: AtomicU32,
}

async fn receive(
    State(r): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    if r.fail.load(Ordering::SeqCst) > 0 {
        r.fail.fetch_sub(1, Ordering::SeqCst);
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let h = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    r.got.lock().unwrap().push((h, body.to_vec()));
    StatusCode::NO_CONTENT
}

async fn receiver() -> (Arc<Receiver>, String) {
    let state = Arc::new(Receiver::default());
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (state, url)
}

/// Creates a subscription of `types` to `url`; returns it as answered (with its secret).
async fn subscribe(app: &TestApp, key: &str, url: &str, types: &[&str]) -> Value {
    let (s, sub) = app
        .post(
            "/v1/subscriptions",
            key,
            json!({"url": url, "event_types": types}),
        )
        .await;
    assert_eq!(s, 201, "{sub}");
    sub
}

/// A printing-partner connection body for owner `u{i}`.
fn partner(i: usize) -> Value {
    printing_body(
        &format!("u{i}"),
        &format!("shop-{i}"),
        "https://print.example",
        "pp_live_0123456789abcdef",
    )
}

fn ids_of(r: &Receiver) -> Vec<String> {
    r.got
        .lock()
        .unwrap()
        .iter()
        .map(|(h, _)| h["webhook-id"].clone())
        .collect()
}

async fn deliveries_are_signed_ordered_and_retried(backend: TestBackend) {
    let (rx, url) = receiver().await;
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let (s, b) = app
        .post("/v1/subscriptions", &key, json!({"url": "not a url"}))
        .await;
    assert_eq!(s, 422, "{b}");
    let sub = subscribe(&app, &key, &url, &["connection.*"]).await;
    let secret = sub["signing_secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let sub_id = sub["id"].as_str().unwrap().to_string();
    assert!(
        app.get(&format!("/v1/subscriptions/{sub_id}"), &key)
            .await
            .1["signing_secret"]
            .is_null(),
        "shown once"
    );

    let mut conns = Vec::new();
    for i in 0..3 {
        let c = app.connection(&key, partner(i)).await;
        conns.push(c["id"].as_str().unwrap().to_string());
    }
    app.engine.events().dispatch_once().await.unwrap();
    let (_, events) = app.get("/v1/events", &key).await;
    let event_ids: Vec<String> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    // Each event once, with its id (different connections are delivered in parallel).
    let mut got = ids_of(&rx);
    got.sort();
    assert_eq!(got, event_ids);
    // Any Standard Webhooks verifier accepts them.
    for (headers, body) in rx.got.lock().unwrap().iter() {
        let req = WebhookRequest {
            headers: headers.clone(),
            body: body.clone(),
        };
        verify(
            WebhookScheme::StandardWebhooks,
            &req,
            &secret,
            patchbay_core::now_ms() / 1000,
        )
        .expect("valid signature");
        let v: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(v["type"], "connection.created");
    }

    // The subscriber goes down: two events of one connection wait, in order.
    rx.fail.store(1000, Ordering::SeqCst);
    app.patch(
        &format!("/v1/connections/{}", conns[0]),
        &key,
        json!({"name": "renamed"}),
    )
    .await;
    app.patch(
        &format!("/v1/connections/{}", conns[0]),
        &key,
        json!({"name": "renamed again"}),
    )
    .await;
    app.engine.events().dispatch_once().await.unwrap();
    let (_, dl) = app
        .get(&format!("/v1/subscriptions/{sub_id}/deliveries"), &key)
        .await;
    let pending: Vec<Value> = dl["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["status"] == "pending")
        .cloned()
        .collect();
    assert_eq!(pending.len(), 2, "{dl}");
    // Only the older one was attempted; the newer waits behind it.
    let attempted: Vec<&Value> = pending.iter().filter(|d| d["attempts"] == 1).collect();
    assert_eq!(attempted.len(), 1);
    assert_eq!(attempted[0]["last_status_code"], 503);
    // Retrying the newer one alone does not overtake the older one.
    let newer = pending
        .iter()
        .max_by_key(|d| d["event_id"].as_str().unwrap().to_string())
        .unwrap()
        .clone();
    let older = pending
        .iter()
        .min_by_key(|d| d["event_id"].as_str().unwrap().to_string())
        .unwrap()
        .clone();
    rx.fail.store(0, Ordering::SeqCst);
    app.post(
        &format!("/v1/deliveries/{}/retry", newer["id"].as_str().unwrap()),
        &key,
        json!({}),
    )
    .await;
    app.engine.events().dispatch_once().await.unwrap();
    assert_eq!(ids_of(&rx).len(), 3, "the newer event waits for the older");
    // Back up: the retried older one goes, then the newer, with their original ids.
    let (s, _) = app
        .post(
            &format!("/v1/deliveries/{}/retry", older["id"].as_str().unwrap()),
            &key,
            json!({}),
        )
        .await;
    assert_eq!(s, 200);
    app.engine.events().dispatch_once().await.unwrap();
    app.engine.events().dispatch_once().await.unwrap();
    let got = ids_of(&rx);
    assert_eq!(
        &got[3..],
        &[
            older["event_id"].as_str().unwrap().to_string(),
            newer["event_id"].as_str().unwrap().to_string()
        ]
    );

    // Five failures in a row open the circuit.
    rx.fail.store(1000, Ordering::SeqCst);
    for i in 0..5 {
        app.patch(
            &format!("/v1/connections/{}", conns[1]),
            &key,
            json!({"name": format!("n{i}")}),
        )
        .await;
    }
    for _ in 0..5 {
        app.engine.events().dispatch_once().await.unwrap();
        let (_, dl) = app
            .get(
                &format!("/v1/subscriptions/{sub_id}/deliveries?limit=100"),
                &key,
            )
            .await;
        for d in dl["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["status"] == "pending")
        {
            app.store_retry(d["id"].as_str().unwrap()).await;
        }
    }
    let (_, s) = app.get(&format!("/v1/subscriptions/{sub_id}"), &key).await;
    assert!(s["consecutive_failures"].as_i64().unwrap() >= 5, "{s}");
    assert!(s["circuit_open_until"].is_string(), "{s}");
    // Rotating the secret: later deliveries verify with the new one.
    rx.fail.store(0, Ordering::SeqCst);
    let (_, rotated) = app
        .patch(
            &format!("/v1/subscriptions/{sub_id}"),
            &key,
            json!({"rotate_secret": true, "enabled": true}),
        )
        .await;
    let new_secret = rotated["signing_secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, secret);
    // Another workspace sees none of it.
    let (_, other) = app.workspace("other").await;
    assert_eq!(
        app.get(&format!("/v1/subscriptions/{sub_id}"), &other)
            .await
            .0,
        404
    );
    assert_eq!(
        app.get(&format!("/v1/subscriptions/{sub_id}/deliveries"), &other)
            .await
            .0,
        404
    );
    crate::assert_hidden(&app.get("/v1/subscriptions", &key).await.1, &new_secret);
}

/// No manual retry: after a failure the dispatcher itself tries again once the schedule's
/// first delay (5 s) has passed, and not before; the event keeps its id.
async fn a_failed_delivery_is_retried_after_the_first_delay(backend: TestBackend) {
    let (rx, url) = receiver().await;
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let sub = subscribe(&app, &key, &url, &["connection.created"]).await;
    let sub_id = sub["id"].as_str().unwrap().to_string();
    rx.fail.store(1, Ordering::SeqCst);
    app.connection(&key, partner(1)).await;
    app.engine.events().dispatch_once().await.unwrap();
    let failed_at = std::time::Instant::now();
    assert!(ids_of(&rx).is_empty(), "the first attempt failed");
    let deadline = failed_at + std::time::Duration::from_secs(12);
    while ids_of(&rx).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "never retried on its own"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        app.engine.events().dispatch_once().await.unwrap();
    }
    let waited = failed_at.elapsed();
    assert!(
        waited >= std::time::Duration::from_millis(4_900),
        "retried after {waited:?}, before the first delay"
    );
    let (_, events) = app.get("/v1/events", &key).await;
    let created: Vec<String> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "connection.created")
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids_of(&rx), created, "delivered once, with the event's id");
    let (_, dl) = app
        .get(&format!("/v1/subscriptions/{sub_id}/deliveries"), &key)
        .await;
    let d = &dl["data"][0];
    assert_eq!(d["status"], "succeeded", "{dl}");
    assert_eq!(d["attempts"], 2, "{dl}");
}

/// An event id is made before its transaction commits, so an event can become visible after
/// fan-out has read past it; it must still be delivered, once.
async fn an_event_committed_late_is_still_delivered(backend: TestBackend) {
    use patchbay_core::ids::{new_id, IdKind};
    use patchbay_store::EventRow;
    let (rx, url) = receiver().await;
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    subscribe(&app, &key, &url, &["connection.*"]).await;
    let first = app.connection(&key, partner(0)).await;
    let workspace_id = first["workspace_id"].as_str().unwrap().to_string();
    // Made now, committed only after later events have been fanned out and sent.
    let late = EventRow {
        id: new_id(IdKind::Event),
        workspace_id,
        event_type: "connection.updated".into(),
        connection_id: None,
        payload: json!({"late": true}).to_string(),
        created_at: patchbay_core::now_ms(),
    };
    let skipped = EventRow {
        id: new_id(IdKind::Event),
        event_type: "sync.started".into(),
        ..late.clone()
    };
    app.connection(&key, partner(1)).await;
    app.engine.events().dispatch_once().await.unwrap();
    let before = ids_of(&rx);
    assert!(!before.is_empty() && !before.contains(&late.id));
    // The second connection's events sort after the late one: fan-out has read past it.
    assert!(before.iter().any(|id| id > &late.id), "{before:?}");

    app.engine.store().record_event(&late).await.unwrap();
    app.engine.store().record_event(&skipped).await.unwrap();
    for _ in 0..3 {
        app.engine.events().dispatch_once().await.unwrap();
    }
    let after = ids_of(&rx);
    assert_eq!(
        after.iter().filter(|id| **id == late.id).count(),
        1,
        "the late event is delivered exactly once: {after:?}"
    );
    assert!(!after.contains(&skipped.id), "the filter still applies");
    assert_eq!(after.len(), before.len() + 1);
}

/// A subscriber that accepts connections and never answers (until the client's 5 s timeout)
/// must not hold back another subscriber's deliveries.
async fn a_hanging_subscriber_holds_up_only_itself(backend: TestBackend) {
    let (rx, url) = receiver().await;
    let hang = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hang_url = format!("http://{}/hook", hang.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = hang.accept().await {
            held.push(socket);
        }
    });
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let mut subs = Vec::new();
    for u in [&url, &hang_url] {
        let sub = subscribe(&app, &key, u, &["connection.*"]).await;
        subs.push(sub["id"].as_str().unwrap().to_string());
    }
    app.connection(&key, partner(0)).await;
    let started = std::time::Instant::now();
    let engine = app.engine.clone();
    let first = tokio::spawn(async move { engine.events().dispatch_once().await });
    // The healthy subscriber's deliveries are sent and recorded while the other still waits.
    let statuses = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["status"].as_str().unwrap().to_string())
            .collect()
    };
    loop {
        let (_, list) = app
            .get(&format!("/v1/subscriptions/{}/deliveries", subs[0]), &key)
            .await;
        let st = statuses(&list);
        if !st.is_empty() && st.iter().all(|s| s == "succeeded") {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_millis(4_500),
            "healthy deliveries not recorded while the other subscriber hangs: {st:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        !first.is_finished(),
        "the hanging subscriber is still being waited for"
    );
    let (_, hanging) = app
        .get(&format!("/v1/subscriptions/{}/deliveries", subs[1]), &key)
        .await;
    assert!(statuses(&hanging).iter().all(|s| s == "pending"));

    // The healthy subscriber's next events go out at once, in a round of their own.
    let delivered = ids_of(&rx).len();
    app.connection(&key, partner(1)).await;
    let t = std::time::Instant::now();
    let engine = app.engine.clone();
    let second = tokio::spawn(async move { engine.events().dispatch_once().await });
    while ids_of(&rx).len() == delivered {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(3),
            "the next events waited for the hanging subscriber"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    second.await.unwrap().unwrap();

    // The hanging one times out and is recorded as a failed attempt, to be retried.
    first.await.unwrap().unwrap();
    let (_, hanging) = app
        .get(&format!("/v1/subscriptions/{}/deliveries", subs[1]), &key)
        .await;
    let failed: Vec<&Value> = hanging["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["attempts"] == 1)
        .collect();
    assert!(!failed.is_empty(), "{hanging}");
    assert!(failed
        .iter()
        .all(|d| d["status"] == "pending" && d["last_error"].is_string()));
}

async fn a_new_subscription_receives_only_later_events(backend: TestBackend) {
    let (rx, url) = receiver().await;
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    app.connection(&key, partner(0)).await;
    app.connection(&key, partner(1)).await;
    // The events above are well inside the window the late-commit recheck reads again.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    subscribe(&app, &key, &url, &[]).await;
    for _ in 0..2 {
        app.engine.events().dispatch_once().await.unwrap();
        // Past the recheck interval, so the second round reads behind the cursor too.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    app.engine.events().dispatch_once().await.unwrap();
    assert!(ids_of(&rx).is_empty(), "older events were delivered");
    let c = app.connection(&key, partner(2)).await;
    app.engine.events().dispatch_once().await.unwrap();
    let got = rx.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "one new event");
    let event: Value = serde_json::from_slice(&got[0].1).unwrap();
    assert_eq!(event["type"], "connection.created");
    assert_eq!(event["data"]["connection_id"], c["id"], "{event}");
}
