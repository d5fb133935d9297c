//! Sync engine over the API: runs, counts, change and deletion detection, faults, cancellation,
//! the records API, scheduling and health.

use crate::{both_backends, printing_body, TestApp, EMULATOR_KEY};
use patchbay_emulators::printing_partner::{self, PrintingEmulator};
use patchbay_emulators::PrintingConfig;
use patchbay_engine::sync::jobs::RunOutcome;
use patchbay_store::testing::TestBackend;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

both_backends!(
    full_unchanged_incremental_and_deletions,
    faults_retry_wait_and_fail_cleanly,
    cancel_and_conflicts,
    records_api_pages_completely,
    schedulers_never_double_book,
    repeated_failures_mark_failing,
    full_runs_detect_deletions_only_when_they_succeed,
);

async fn setup(backend: TestBackend, orders: usize) -> (PrintingEmulator, TestApp, String, String) {
    let em = printing_partner::spawn(PrintingConfig {
        orders,
        ..Default::default()
    })
    .await
    .unwrap();
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let mut body = printing_body("u1", "demo-shop", &em.base_url, EMULATOR_KEY);
    body["enable"] = json!(true);
    let c = app.connection(&key, body).await;
    let id = c["id"].as_str().unwrap().to_string();
    (em, app, key, id)
}

async fn start(app: &TestApp, key: &str, id: &str, mode: &str) -> String {
    let (s, run) = app
        .post(
            &format!("/v1/connections/{id}/syncs"),
            key,
            json!({"mode": mode}),
        )
        .await;
    assert_eq!(s, 202, "{run}");
    assert_eq!(run["status"], "pending");
    run["id"].as_str().unwrap().to_string()
}

/// Drains the queue with this test as the worker.
async fn work(app: &TestApp) -> usize {
    let mut n = 0;
    while let RunOutcome::Ran { .. } = app.engine.syncs().try_run_one("test-worker").await.unwrap()
    {
        n += 1;
    }
    n
}

async fn run_of(app: &TestApp, key: &str, id: &str, run: &str) -> Value {
    app.get(&format!("/v1/connections/{id}/syncs/{run}"), key)
        .await
        .1
}

async fn all_records(app: &TestApp, key: &str, id: &str, entity: &str, extra: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let (s, page) = app
            .get(
                &format!("/v1/connections/{id}/records/{entity}?limit=7{extra}{cursor}"),
                key,
            )
            .await;
        assert_eq!(s, 200, "{page}");
        out.extend(page["data"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return out,
        }
    }
}

fn counts(run: &Value) -> (i64, i64, i64, i64) {
    (
        run["added"].as_i64().unwrap(),
        run["updated"].as_i64().unwrap(),
        run["deleted"].as_i64().unwrap(),
        run["unchanged"].as_i64().unwrap(),
    )
}

async fn full_unchanged_incremental_and_deletions(backend: TestBackend) {
    let (em, app, key, id) = setup(backend, 25).await;
    let run = start(&app, &key, &id, "full").await;
    assert_eq!(work(&app).await, 1);
    let r = run_of(&app, &key, &id, &run).await;
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(counts(&r), (30, 0, 0, 0), "25 orders and 5 products");
    assert_eq!(r["pages"], 2, "orders and products, one page each");
    // The activity feed shows the run start and end, with its counts.
    let (_, activity) = app
        .get(&format!("/v1/activity?connection_id={id}"), &key)
        .await;
    let syncs: Vec<&Value> = activity["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"].as_str().unwrap().starts_with("sync."))
        .collect();
    assert_eq!(syncs.len(), 2, "{activity}");
    assert_eq!(syncs[0]["action"], "sync.completed");
    assert_eq!(syncs[0]["actor"], "system:sync");
    assert_eq!(syncs[0]["details"]["sync_run_id"], run.as_str());
    assert_eq!(syncs[0]["details"]["added"], 30);
    assert_eq!(syncs[0]["details"]["pages"], 2);
    assert_eq!(syncs[1]["action"], "sync.started");
    let orders = all_records(&app, &key, &id, "orders", "").await;
    let mut ids: Vec<String> = orders
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        em.order_ids(),
        "exactly the partner's orders, once each"
    );
    for o in &orders {
        assert_eq!(
            o["data"],
            em.order(o["id"].as_str().unwrap()).unwrap(),
            "stored as the partner has it"
        );
    }
    let conn = app.get(&format!("/v1/connections/{id}"), &key).await.1;
    assert!(conn["last_sync_at"].is_string());

    // Nothing changed: nothing is written.
    let before: Vec<String> = orders
        .iter()
        .map(|o| o["updated_at"].as_str().unwrap().to_string())
        .collect();
    let run2 = start(&app, &key, &id, "full").await;
    work(&app).await;
    let r2 = run_of(&app, &key, &id, &run2).await;
    assert_eq!(counts(&r2), (0, 0, 0, 30), "{r2}");
    let after: Vec<String> = all_records(&app, &key, &id, "orders", "")
        .await
        .iter()
        .map(|o| o["updated_at"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(before, after, "no record row was rewritten");

    // One change, one deletion: an incremental run sees exactly those.
    let changed = em.order_ids()[3].clone();
    let gone = em.order_ids()[7].clone();
    em.update_order(&changed, "shipped");
    em.delete_order(&gone);
    let run3 = start(&app, &key, &id, "incremental").await;
    work(&app).await;
    let r3 = run_of(&app, &key, &id, &run3).await;
    assert_eq!(r3["status"], "completed", "{r3}");
    assert_eq!(
        (
            r3["added"].as_i64(),
            r3["updated"].as_i64(),
            r3["deleted"].as_i64()
        ),
        (Some(0), Some(1), Some(1)),
        "{r3}"
    );
    let live = all_records(&app, &key, &id, "orders", "").await;
    assert_eq!(live.len(), 24);
    assert!(live.iter().all(|o| o["id"] != gone.as_str()));
    assert_eq!(
        live.iter().find(|o| o["id"] == changed.as_str()).unwrap()["data"]["status"],
        "shipped"
    );
    let with_deleted = all_records(&app, &key, &id, "orders", "&include_deleted=true").await;
    assert_eq!(
        with_deleted
            .iter()
            .find(|o| o["id"] == gone.as_str())
            .unwrap()["deleted"],
        true
    );

    // The outbox tells the application what changed.
    let (_, events) = app.get("/v1/events?limit=500", &key).await;
    let evs = events["data"].as_array().unwrap();
    let types: Vec<&str> = evs.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types.iter().filter(|t| **t == "sync.completed").count(), 3);
    assert_eq!(types.iter().filter(|t| **t == "sync.started").count(), 3);
    let last_change = evs
        .iter()
        .rev()
        .find(|e| e["type"] == "records.changed")
        .unwrap();
    let changed_ids: Vec<&str> = last_change["data"]["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        changed_ids.contains(&changed.as_str()) && changed_ids.contains(&gone.as_str()),
        "{last_change}"
    );
    let done = evs
        .iter()
        .rev()
        .find(|e| e["type"] == "sync.completed")
        .unwrap();
    assert_eq!(
        (
            done["data"]["updated"].as_i64(),
            done["data"]["deleted"].as_i64()
        ),
        (Some(1), Some(1))
    );
    // Listing runs, newest first.
    let (_, runs) = app.get(&format!("/v1/connections/{id}/syncs"), &key).await;
    let listed: Vec<&str> = runs["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [run3.as_str(), run2.as_str(), run.as_str()]);
}

async fn faults_retry_wait_and_fail_cleanly(backend: TestBackend) {
    let (em, app, key, id) = setup(backend, 25).await;
    // One 500 is retried within the page.
    em.fail_next(1);
    let run = start(&app, &key, &id, "full").await;
    work(&app).await;
    assert_eq!(run_of(&app, &key, &id, &run).await["status"], "completed");
    // A 429 is waited out as the partner says (Retry-After: 1).
    em.rate_limit_next(1);
    let run = start(&app, &key, &id, "full").await;
    let t = Instant::now();
    work(&app).await;
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "waited {:?}",
        t.elapsed()
    );
    let r = run_of(&app, &key, &id, &run).await;
    assert_eq!(
        (r["status"].as_str(), r["unchanged"].as_i64()),
        (Some("completed"), Some(30)),
        "{r}"
    );

    // Malformed JSON: the run fails with a clear error and writes nothing for that page.
    let (em2, app2, key2, id2) = setup(backend, 25).await;
    em2.truncate_next(1);
    let run = start(&app2, &key2, &id2, "full").await;
    work(&app2).await;
    let r = run_of(&app2, &key2, &id2, &run).await;
    assert_eq!(r["status"], "failed", "{r}");
    assert!(
        r["error"].as_str().unwrap().contains("could not be read"),
        "{r}"
    );
    assert!(all_records(&app2, &key2, &id2, "orders", "")
        .await
        .is_empty());

    // A partner that keeps failing mid-run: earlier pages stay, nothing is deleted.
    let (em3, app3, key3, id3) = setup(backend, 250).await;
    em3.set_latency(Duration::from_millis(150));
    let run = start(&app3, &key3, &id3, "full").await;
    let engine = app3.engine.clone();
    let worker = tokio::spawn(async move { engine.syncs().try_run_one("w").await });
    let deadline = Instant::now() + Duration::from_secs(20);
    while run_of(&app3, &key3, &id3, &run).await["pages"]
        .as_i64()
        .unwrap()
        < 1
    {
        assert!(Instant::now() < deadline, "first page never committed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    em3.fail_next(100);
    worker.await.unwrap().unwrap();
    let r = run_of(&app3, &key3, &id3, &run).await;
    assert_eq!(r["status"], "failed", "{r}");
    assert!(r["error"].as_str().unwrap().contains("500"), "{r}");
    let kept = all_records(&app3, &key3, &id3, "orders", "").await.len() as i64;
    assert!(
        (100..250).contains(&kept),
        "earlier pages are kept ({kept})"
    );
    assert_eq!(kept, r["added"].as_i64().unwrap());
    assert_eq!(r["deleted"], 0);
    let (_, events) = app3.get("/v1/events?limit=500", &key3).await;
    assert!(events["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "sync.failed"));
}

async fn cancel_and_conflicts(backend: TestBackend) {
    let (_em, app, key, id) = setup(backend, 5).await;
    let run = start(&app, &key, &id, "full").await;
    let (s, b) = app
        .post(
            &format!("/v1/connections/{id}/syncs"),
            &key,
            json!({"mode": "full"}),
        )
        .await;
    assert_eq!(s, 409, "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains(&run));
    let (s, c) = app
        .post(
            &format!("/v1/connections/{id}/syncs/{run}/cancel"),
            &key,
            json!({}),
        )
        .await;
    assert_eq!((s, c["status"].as_str()), (200, Some("cancelled")), "{c}");
    assert_eq!(work(&app).await, 0, "a cancelled run's job never runs");
    assert_eq!(
        app.post(
            &format!("/v1/connections/{id}/syncs/{run}/cancel"),
            &key,
            json!({})
        )
        .await
        .0,
        409
    );
    // Bad requests.
    let (s, _) = app
        .post(
            &format!("/v1/connections/{id}/syncs"),
            &key,
            json!({"mode": "sideways"}),
        )
        .await;
    assert_eq!(s, 422);
    let (s, b) = app
        .post(
            &format!("/v1/connections/{id}/syncs"),
            &key,
            json!({"entities": ["invoices"]}),
        )
        .await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(
        app.get(&format!("/v1/connections/{id}/syncs/sync_nope"), &key)
            .await
            .0,
        404
    );
    let (s, _) = app
        .get(
            &format!("/v1/connections/{id}/records/orders?cursor=garbage"),
            &key,
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = app
        .get(
            &format!("/v1/connections/{id}/records/orders?modified_after=yesterday"),
            &key,
        )
        .await;
    assert_eq!(s, 400);
    // Another workspace sees none of it.
    let (_, other) = app.workspace("other").await;
    assert_eq!(
        app.get(&format!("/v1/connections/{id}/syncs/{run}"), &other)
            .await
            .0,
        404
    );
    assert_eq!(
        app.get(&format!("/v1/connections/{id}/records/orders"), &other)
            .await
            .0,
        404
    );
    // A disabled connection does not sync.
    app.patch(
        &format!("/v1/connections/{id}"),
        &key,
        json!({"lifecycle": "disabled"}),
    )
    .await;
    assert_eq!(
        app.post(&format!("/v1/connections/{id}/syncs"), &key, json!({}))
            .await
            .0,
        409
    );
}

async fn records_api_pages_completely(backend: TestBackend) {
    let (em, app, key, id) = setup(backend, 40).await;
    start(&app, &key, &id, "full").await;
    work(&app).await;
    let first = all_records(&app, &key, &id, "orders", "").await;
    assert_eq!(first.len(), 40);
    let t0 = first
        .iter()
        .map(|o| o["updated_at"].as_str().unwrap().to_string())
        .max()
        .unwrap();
    // Only what changed since a moment.
    em.update_order(&em.order_ids()[0], "printing");
    start(&app, &key, &id, "incremental").await;
    work(&app).await;
    let since = all_records(
        &app,
        &key,
        &id,
        "orders",
        &format!("&modified_after={}", t0.replace('+', "%2B")),
    )
    .await;
    assert_eq!(since.len(), 1, "{since:?}");
    // A changed record moves to the end of the order, so a client paging by cursor sees it again.
    let again = all_records(&app, &key, &id, "orders", "").await;
    assert_eq!(again.last().unwrap()["id"], em.order_ids()[0].as_str());
}

async fn schedulers_never_double_book(backend: TestBackend) {
    let (_em, app, key, id) = setup(backend, 5).await;
    let (s, c) = app
        .patch(
            &format!("/v1/connections/{id}"),
            &key,
            json!({"sync_frequency": "15m"}),
        )
        .await;
    assert_eq!(s, 200, "{c}");
    let (s, _) = app
        .patch(
            &format!("/v1/connections/{id}"),
            &key,
            json!({"sync_frequency": "whenever"}),
        )
        .await;
    assert_eq!(s, 422);
    // A second process on the same database.
    let other = TestApp::spawn_on(app.db.clone(), app.master.clone(), crate::registry()).await;
    let (a, b) = tokio::join!(
        app.engine.syncs().schedule_due(),
        other.engine.syncs().schedule_due()
    );
    assert_eq!(a.unwrap() + b.unwrap(), 1, "exactly one run scheduled");
    assert_eq!(
        app.engine.syncs().schedule_due().await.unwrap(),
        0,
        "not due again until 15 minutes pass"
    );
    let (_, runs) = app.get(&format!("/v1/connections/{id}/syncs"), &key).await;
    assert_eq!(runs["data"].as_array().unwrap().len(), 1);
    assert_eq!(work(&app).await, 1);
    assert_eq!(runs["data"][0]["mode"], "incremental");
}

async fn repeated_failures_mark_failing(backend: TestBackend) {
    let (em, app, key, id) = setup(backend, 5).await;
    for n in 0..3 {
        em.fail_next(100);
        let run = start(&app, &key, &id, "full").await;
        work(&app).await;
        assert_eq!(run_of(&app, &key, &id, &run).await["status"], "failed");
        let health = app.get(&format!("/v1/connections/{id}"), &key).await.1["health"].clone();
        assert_eq!(
            health,
            if n < 2 { "healthy" } else { "failing" },
            "after {} failures",
            n + 1
        );
    }
    em.clear_faults();
    start(&app, &key, &id, "full").await;
    work(&app).await;
    assert_eq!(
        app.get(&format!("/v1/connections/{id}"), &key).await.1["health"],
        "healthy"
    );
}

async fn full_runs_detect_deletions_only_when_they_succeed(backend: TestBackend) {
    use patchbay_emulators::records::{self, RecordsConfig};
    let em = records::spawn(RecordsConfig {
        count: 50,
        record_bytes: 300,
        ..Default::default()
    })
    .await
    .unwrap();
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let body = json!({
        "connector": "http_json", "owner": {"id": "u1"}, "enable": true,
        "config": {"base_url": em.base_url, "list_path": "/v1/records", "page_size": 20,
                   "updated_since_param": "updated_since", "updated_at_field": "updated_at", "deleted_field": "deleted"},
        "secrets": {"api_key": em.config().api_key}
    });
    let c = app.connection(&key, body).await;
    let id = c["id"].as_str().unwrap().to_string();
    let run = start(&app, &key, &id, "full").await;
    work(&app).await;
    let r = run_of(&app, &key, &id, &run).await;
    assert_eq!(
        (
            r["status"].as_str(),
            r["added"].as_i64(),
            r["pages"].as_i64()
        ),
        (Some("completed"), Some(50), Some(3)),
        "{r}"
    );
    // Records that vanish from the source are deleted by the next successful full run.
    em.delete(&[3, 7]);
    let run = start(&app, &key, &id, "full").await;
    work(&app).await;
    let r = run_of(&app, &key, &id, &run).await;
    assert_eq!(counts(&r), (0, 0, 2, 48), "{r}");
    assert_eq!(all_records(&app, &key, &id, "records", "").await.len(), 48);
    // A full run that fails deletes nothing.
    em.delete(&[10]);
    em.fail_next(100);
    let run = start(&app, &key, &id, "full").await;
    work(&app).await;
    assert_eq!(run_of(&app, &key, &id, &run).await["status"], "failed");
    assert_eq!(
        all_records(&app, &key, &id, "records", "").await.len(),
        48,
        "nothing deleted by a failed run"
    );
    em.clear_faults();
    // Incremental runs see changes and reported deletions since the last checkpoint.
    let changed = em.change_fraction(0.1);
    let run = start(&app, &key, &id, "incremental").await;
    work(&app).await;
    let r = run_of(&app, &key, &id, &run).await;
    assert_eq!(
        (r["updated"].as_i64(), r["deleted"].as_i64()),
        (Some(changed as i64), Some(1)),
        "{r}"
    );
    let live = all_records(&app, &key, &id, "records", "").await;
    let mut ids: Vec<String> = live
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, em.live_ids());
    for rec in &live {
        let index: usize = rec["id"].as_str().unwrap()[4..].parse().unwrap();
        assert_eq!(
            rec["data"],
            em.record_json(index),
            "stored exactly as the source has it"
        );
    }
}
