//! A collect batch pending when the process is killed (SIGKILL) is delivered after the restart,
//! exactly once: windows and their messages live in the database, and closing one is a single
//! transaction with the event it becomes.

use crate::process::{self, Server};
use patchbay_store::testing::{new_database, TestBackend};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

async fn start(dir: &Path, db_url: &str, master: &str) -> Server {
    Server::start(
        dir,
        &["serve", "--bind", "127.0.0.1:0"],
        &[
            ("PATCHBAY_DATABASE_URL", db_url),
            ("PATCHBAY_MASTER_KEY", master),
            ("PATCHBAY_ADMIN_KEY", process::ADMIN),
            ("PATCHBAY_LOG_LEVEL", "warn"),
        ],
    )
    .await
}

async fn routed(server: &mut Server, key: &str) -> Vec<Value> {
    let (_, events) = server.call("GET", "/v1/events?limit=500", key, None).await;
    events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "message.routed")
        .cloned()
        .collect()
}

pub async fn collected_batch_survives_a_kill(backend: TestBackend) {
    let db = new_database(backend);
    db.open().await.unwrap().close().await;
    let master = patchbay_vault::MasterKey::generate_base64();
    let dir = process::temp_dir("routing-kill");
    let mut server = start(&dir, &db.url, &master).await;
    let (_, ws) = server
        .call(
            "POST",
            "/v1/admin/workspaces",
            process::ADMIN,
            Some(json!({"name": "kill"})),
        )
        .await;
    let key = ws["secret_key"].as_str().unwrap().to_string();
    let (s, d) = server
        .call(
            "PUT",
            "/v1/routing/default",
            &key,
            Some(json!({"target": "main",
            "queue_mode": "collect", "collect_debounce_ms": 2000, "collect_max_wait_ms": 2000})),
        )
        .await;
    assert_eq!(s, 200, "{d}");
    for text in ["first", "second", "third"] {
        let (s, d) = server
            .call(
                "POST",
                "/v1/prompt",
                &key,
                Some(json!({"channel_type": "api",
                "channel_id": "chat", "text": text})),
            )
            .await;
        assert_eq!(s, 200, "{d}");
        assert!(d["deliver_at"].is_string(), "{d}");
    }
    server.kill();
    assert!(
        routed_in_store(&db).await.is_empty(),
        "delivered before the window closed"
    );
    let mut server = start(&dir, &db.url, &master).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let events = loop {
        let events = routed(&mut server, &key).await;
        if !events.is_empty() || Instant::now() > deadline {
            break events;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(events.len(), 1, "{events:?}");
    let texts: Vec<&str> = events[0]["data"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["first", "second", "third"]);
    // Nothing is delivered twice later.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(routed(&mut server, &key).await.len(), 1);
    server.terminate().await;
}

async fn routed_in_store(db: &patchbay_store::testing::TestDatabase) -> Vec<String> {
    let store = db.open().await.unwrap();
    let ws = store.list_workspaces(None, 100).await.unwrap();
    let mut out = Vec::new();
    for w in ws {
        for e in store.list_events(&w.id, None, 500).await.unwrap() {
            if e.event_type == "message.routed" {
                out.push(e.id);
            }
        }
    }
    store.close().await;
    out
}
