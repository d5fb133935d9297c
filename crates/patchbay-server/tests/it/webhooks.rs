//! Inbound webhooks: verification, deduplication, durability before the 2xx, processing into
//! records, replay, and bad input.

use crate::{both_backends, printing_body, TestApp, EMULATOR_KEY};
use patchbay_emulators::printing_partner::{self, PrintingEmulator};
use patchbay_emulators::SignedCallback;
use patchbay_store::testing::TestBackend;
use serde_json::json;

both_backends!(
    verified_deduplicated_durable_and_processed,
    bad_deliveries_are_refused,
    a_replaced_webhook_secret_holds_at_once,
    event_stream_resumes
);

const SECRET: &str = "callback-secret-0123456789abcdef";

async fn setup(backend: TestBackend) -> (PrintingEmulator, TestApp, String, String) {
    let em = printing_partner::spawn(patchbay_emulators::PrintingConfig {
        callback_secret: SECRET.into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let mut body = printing_body("u1", "demo-shop", &em.base_url, EMULATOR_KEY);
    body["enable"] = json!(true);
    let c = app.connection(&key, body).await;
    (em, app, key, c["id"].as_str().unwrap().to_string())
}

async fn post(app: &TestApp, path: &str, cb: &SignedCallback) -> (u16, serde_json::Value) {
    let mut rb = app
        .client
        .post(format!("{}{path}", app.base))
        .body(cb.body.clone());
    for (k, v) in &cb.headers {
        rb = rb.header(k, v);
    }
    crate::read(rb.send().await.unwrap()).await
}

async fn verified_deduplicated_durable_and_processed(backend: TestBackend) {
    let (em, app, key, id) = setup(backend).await;
    let order = em.order_ids()[2].clone();
    em.update_order(&order, "shipped");
    let cb = em.order_event("order.updated", &order).unwrap();
    let path = format!("/v1/webhooks/printing_partner/{id}");
    let (s, first) = post(&app, &path, &cb).await;
    assert_eq!(
        (s, first["duplicate"].as_bool()),
        (202, Some(false)),
        "{first}"
    );
    // Durable before the answer: the event is in the store already.
    let (_, events) = app
        .get(&format!("/v1/connections/{id}/webhook-events"), &key)
        .await;
    assert_eq!(events["data"][0]["id"], first["id"]);
    assert_eq!(events["data"][0]["status"], "received");
    // A redelivery is recognised by its delivery id and not processed again.
    let (s, again) = post(&app, &path, &cb).await;
    assert_eq!(
        (s, again["duplicate"].as_bool(), &again["id"]),
        (200, Some(true), &first["id"]),
        "{again}"
    );
    // The seed's callback route is the same endpoint.
    let cb2 = em.order_event("order.updated", &em.order_ids()[3]).unwrap();
    let (s, _) = post(
        &app,
        &format!("/v1/integrations/callbacks/printing_partner/{id}"),
        &cb2,
    )
    .await;
    assert_eq!(s, 202);
    // Workers map them to records through the sync path.
    assert_eq!(
        app.engine
            .webhooks()
            .process_webhooks_once(100)
            .await
            .unwrap(),
        2
    );
    let (_, recs) = app
        .get(&format!("/v1/connections/{id}/records/orders"), &key)
        .await;
    let stored = recs["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == order.as_str())
        .expect("the order from the webhook")
        .clone();
    assert_eq!(stored["data"]["status"], "shipped");
    let (_, events) = app
        .get(&format!("/v1/connections/{id}/webhook-events"), &key)
        .await;
    assert!(
        events["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["status"] == "processed"),
        "{events}"
    );
    let (_, activity) = app
        .get(&format!("/v1/activity?connection_id={id}"), &key)
        .await;
    let callbacks: Vec<&serde_json::Value> = activity["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "callback.received")
        .collect();
    assert_eq!(
        callbacks.len(),
        2,
        "one entry per processed callback: {activity}"
    );
    assert_eq!(callbacks[0]["actor"], "provider:printing_partner");
    assert!(callbacks[0]["details"]["webhook_event_id"].is_string());
    let (_, outbox) = app.get("/v1/events?limit=200", &key).await;
    let types: Vec<&str> = outbox["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types.iter().filter(|t| **t == "webhook.received").count(),
        2
    );
    assert_eq!(types.iter().filter(|t| **t == "records.changed").count(), 2);
    // Replay processes it again; the record is unchanged, so nothing new is announced.
    let (s, replayed) = app
        .post(
            &format!(
                "/v1/webhook-events/{}/replay",
                first["id"].as_str().unwrap()
            ),
            &key,
            json!({}),
        )
        .await;
    assert_eq!(
        (s, replayed["status"].as_str()),
        (200, Some("received")),
        "{replayed}"
    );
    assert_eq!(
        app.engine
            .webhooks()
            .process_webhooks_once(100)
            .await
            .unwrap(),
        1
    );
    let (_, outbox) = app.get("/v1/events?limit=200", &key).await;
    assert_eq!(
        outbox["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "records.changed")
            .count(),
        2
    );
    // A deletion callback deletes the record.
    em.delete_order(&order);
    let (s, _) = post(
        &app,
        &path,
        &em.order_event("order.deleted", &order).unwrap(),
    )
    .await;
    assert_eq!(s, 202);
    app.engine
        .webhooks()
        .process_webhooks_once(100)
        .await
        .unwrap();
    let (_, recs) = app
        .get(&format!("/v1/connections/{id}/records/orders"), &key)
        .await;
    assert!(recs["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["id"] != order.as_str()));
    // Another workspace cannot see or replay the events.
    let (_, other) = app.workspace("other").await;
    assert_eq!(
        app.get(&format!("/v1/connections/{id}/webhook-events"), &other)
            .await
            .0,
        404
    );
    assert_eq!(
        app.post(
            &format!(
                "/v1/webhook-events/{}/replay",
                first["id"].as_str().unwrap()
            ),
            &other,
            json!({})
        )
        .await
        .0,
        404
    );
}

async fn bad_deliveries_are_refused(backend: TestBackend) {
    let (em, app, key, id) = setup(backend).await;
    let path = format!("/v1/webhooks/printing_partner/{id}");
    let good = em.order_event("order.updated", &em.order_ids()[0]).unwrap();
    // Wrong secret, missing header.
    let mut wrong = good.clone();
    wrong.headers.insert(
        patchbay_emulators::SHARED_SECRET_HEADER.into(),
        "not-the-secret-at-all-000000".into(),
    );
    let (s, b) = post(&app, &path, &wrong).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (401, Some("unauthorized")),
        "{b}"
    );
    let mut missing = good.clone();
    missing
        .headers
        .remove(patchbay_emulators::SHARED_SECRET_HEADER);
    assert_eq!(post(&app, &path, &missing).await.0, 401);
    // Wrong content type, oversize body.
    let mut text = good.clone();
    text.headers
        .insert("Content-Type".into(), "text/plain".into());
    assert_eq!(post(&app, &path, &text).await.0, 415);
    let mut big = good.clone();
    big.body = vec![b' '; 70 * 1024];
    assert_eq!(post(&app, &path, &big).await.0, 413);
    // Unknown connection, unknown connector, another connector's connection: 404 alike.
    assert_eq!(
        post(
            &app,
            "/v1/webhooks/printing_partner/conn_00000000000000000000000000000000",
            &good
        )
        .await
        .0,
        404
    );
    assert_eq!(
        post(&app, &format!("/v1/webhooks/fax_machine/{id}"), &good)
            .await
            .0,
        404
    );
    assert_eq!(
        post(&app, &format!("/v1/webhooks/venue_ops/{id}"), &good)
            .await
            .0,
        404
    );
    assert_eq!(
        post(&app, "/v1/webhooks/printing_partner/garbage", &good)
            .await
            .0,
        404
    );
    // No secret configured: never accept unverified.
    let mut body = printing_body(
        "u2",
        "shop-2",
        "https://print.example",
        "pp_live_0123456789abcdef",
    );
    body["secrets"] = json!({"api_key": "pp_live_0123456789abcdef"});
    let draft = app.connection(&key, body).await;
    let (s, b) = post(
        &app,
        &format!(
            "/v1/webhooks/printing_partner/{}",
            draft["id"].as_str().unwrap()
        ),
        &good,
    )
    .await;
    assert_eq!(s, 401, "{b}");
    assert!(b["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no webhook secret"));
    // A verified but malformed payload is stored, then fails processing with a clear error.
    let mut garbage = good.clone();
    garbage.body = b"{not json".to_vec();
    garbage
        .headers
        .insert("X-Patchbay-Delivery-Id".into(), "bad-1".into());
    assert_eq!(post(&app, &path, &garbage).await.0, 202);
    app.engine
        .webhooks()
        .process_webhooks_once(100)
        .await
        .unwrap();
    let (_, events) = app
        .get(&format!("/v1/connections/{id}/webhook-events"), &key)
        .await;
    let failed = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["status"] == "failed")
        .expect("a failed event")
        .clone();
    assert!(
        failed["error"].as_str().unwrap().contains("payload"),
        "{failed}"
    );
    // Nothing refused above was stored.
    assert_eq!(events["data"].as_array().unwrap().len(), 1);
}

/// Replacing a connection's webhook secret takes effect on the next delivery: the cached
/// secret is dropped when the connection changes, not when its cache entry lapses.
async fn a_replaced_webhook_secret_holds_at_once(backend: TestBackend) {
    let (em, app, key, id) = setup(backend).await;
    let path = format!("/v1/webhooks/printing_partner/{id}");
    let old = em.order_event("order.updated", &em.order_ids()[0]).unwrap();
    // The first delivery puts the secret in the cache.
    assert_eq!(post(&app, &path, &old).await.0, 202);
    let new_secret = "callback-secret-fedcba9876543210";
    let (s, b) = app
        .patch(
            &format!("/v1/connections/{id}"),
            &key,
            json!({"secrets": {"callback_secret": new_secret}}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let mut next = em.order_event("order.updated", &em.order_ids()[1]).unwrap();
    next.headers
        .insert("X-Patchbay-Delivery-Id".into(), "after-rotation-1".into());
    // Signed with the old secret: refused now.
    let (s, b) = post(&app, &path, &next).await;
    assert_eq!(s, 401, "{b}");
    next.headers.insert(
        patchbay_emulators::SHARED_SECRET_HEADER.into(),
        new_secret.into(),
    );
    let (s, b) = post(&app, &path, &next).await;
    assert_eq!((s, b["duplicate"].as_bool()), (202, Some(false)), "{b}");
}

/// Reads a Server-Sent Events stream until `n` event ids arrived.
async fn read_ids(app: &TestApp, key: &str, last: Option<&str>, n: usize) -> Vec<String> {
    let mut rb = app
        .client
        .get(format!("{}/v1/events/stream", app.base))
        .bearer_auth(key);
    if let Some(l) = last {
        rb = rb.header("Last-Event-ID", l);
    }
    let mut resp = rb.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let ids: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("id:"))
            .map(|s| s.trim().to_string())
            .collect();
        if ids.len() >= n {
            return ids;
        }
        let chunk = tokio::time::timeout_at(deadline, resp.chunk())
            .await
            .expect("events in time")
            .unwrap()
            .expect("stream open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
}

async fn event_stream_resumes(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    for i in 0..3 {
        app.connection(
            &key,
            printing_body(
                &format!("u{i}"),
                &format!("shop-{i}"),
                "https://print.example",
                "pp_live_0123456789abcdef",
            ),
        )
        .await;
    }
    let (_, listed) = app.get("/v1/events", &key).await;
    let expected: Vec<String> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(expected.len(), 3);
    assert_eq!(
        read_ids(&app, &key, None, 3).await,
        expected,
        "in order, with their ids"
    );
    // Resuming after the first delivers the rest, then new events as they happen.
    let (key2, first) = (key.clone(), expected[0].clone());
    let reader = {
        let app_ref = &app;
        async move { read_ids(app_ref, &key2, Some(&first), 3).await }
    };
    let writer = async {
        app.connection(
            &key,
            printing_body(
                "u9",
                "shop-9",
                "https://print.example",
                "pp_live_0123456789abcdef",
            ),
        )
        .await;
    };
    let (ids, _) = tokio::join!(reader, writer);
    assert_eq!(&ids[..2], &expected[1..]);
    assert!(ids[2] > expected[2], "the new event follows");
    // Events are read with a workspace key.
    assert_eq!(app.get("/v1/events/stream", crate::ADMIN_KEY).await.0, 403);
}
