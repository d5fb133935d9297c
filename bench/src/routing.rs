//! Message routing throughput: `POST /v1/prompt` to a release `patchbay serve` over 1,000 scope
//! keys, in followup mode (one event per message, numbered under the scope's lock) and collect
//! mode (held in windows, delivered by the flusher), next to plain event emission (one outbox
//! insert through the store, the floor any routed message pays) in the same run.

use crate::{database_url, peak_rss_kb, run, start_with, Args, Phase};
use patchbay_core::{ids, now_ms};
use patchbay_store::{EventRow, Store};
use serde_json::json;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct RoutingArgs {
    #[command(flatten)]
    pub common: Args,
    /// Messages per mode.
    #[arg(long, default_value_t = 20_000)]
    pub requests: usize,
    /// Distinct scope keys the messages spread over.
    #[arg(long, default_value_t = 1_000)]
    pub scopes: usize,
}

/// `ops` event inserts through the store from `concurrency` tasks.
async fn plain_events(store: &Store, ws: &str, ops: usize, concurrency: usize) -> Phase {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (store, next, ws) = (store.clone(), next.clone(), ws.to_string());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < ops {
                let t = Instant::now();
                let event = EventRow {
                    id: ids::new_id(ids::IdKind::Event),
                    workspace_id: ws.clone(),
                    event_type: "bench.plain".into(),
                    connection_id: None,
                    payload: json!({"text": "hello"}).to_string(),
                    created_at: now_ms(),
                };
                store.record_event(&event).await.expect("event");
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all: Vec<Duration> = Vec::with_capacity(ops);
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    Phase::from_latencies("plain event emission (store insert)", started, all)
}

/// Messages still held in collect windows.
async fn pending(db: &str) -> i64 {
    let sql = "SELECT COUNT(*) FROM routing_pending";
    if db.starts_with("sqlite:") {
        let opts: sqlx::sqlite::SqliteConnectOptions = db.parse().unwrap();
        let mut conn = sqlx::ConnectOptions::connect(&opts.read_only(true))
            .await
            .unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
    } else {
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(db)
            .await
            .unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
    }
}

pub async fn bench(args: RoutingArgs) {
    let backends: Vec<&str> = match args.common.backend.as_str() {
        "both" => vec!["sqlite", "postgres"],
        one => vec![one],
    };
    let (n, c, scopes) = (args.requests, args.common.concurrency, args.scopes);
    println!("routing benchmark: {n} messages per mode over {scopes} scope keys, {c} clients");
    for backend in backends {
        let dir = std::env::temp_dir().join(format!(
            "patchbay-bench-routing-{backend}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = database_url(&args.common, backend, &dir, "patchbay_bench_routing");
        let (mut child, base) = start_with(&args.common, &db, &dir, &[], &[]);
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(c)
            .build()
            .unwrap();
        let key = crate::workspace_key(&client, &base, "routing").await;
        let mut rows = Vec::new();
        for (mode, name) in [
            ("followup", "POST /v1/prompt, followup"),
            ("collect", "POST /v1/prompt, collect (50 ms debounce)"),
        ] {
            let put = client
                .put(format!("{base}/v1/routing/default"))
                .bearer_auth(&key)
                .json(&json!({"target": "main", "queue_mode": mode,
                    "collect_debounce_ms": 50, "collect_max_wait_ms": 200}))
                .send()
                .await
                .unwrap();
            assert!(put.status().is_success());
            let (cl, url, k) = (client.clone(), format!("{base}/v1/prompt"), key.clone());
            let started = Instant::now();
            let phase = run(name, n, c, move |i| {
                cl.post(&url).bearer_auth(&k).json(&json!({
                    "channel_type": "api", "channel_id": format!("{mode}-{}", i % scopes),
                    "text": format!("message {i}")}))
            })
            .await;
            // End to end for collect: until the flusher has delivered every batch.
            let deadline = Instant::now() + Duration::from_secs(120);
            while pending(&db).await > 0 {
                assert!(
                    Instant::now() < deadline,
                    "batches still pending after 2 minutes"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let delivered = n as f64 / started.elapsed().as_secs_f64();
            rows.push((phase, Some(delivered)));
        }
        let (hwm, _) = peak_rss_kb(child.id());
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let _ = child.wait();
        // The floor, on the same database once the server has stopped (so nothing contends).
        let store = Store::open(&db).await.unwrap();
        let ws = store.list_workspaces(None, 10).await.unwrap()[0].id.clone();
        rows.insert(0, (plain_events(&store, &ws, n, c).await, None));
        store.close().await;
        println!("\n### {backend}\n");
        println!(
            "| path | messages | per second | p50 ms | p99 ms | delivered/s | ratio to plain |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|");
        let floor = rows[0].0.rate();
        for (p, delivered) in &rows {
            println!(
                "| {} | {} | {:.0} | {:.2} | {:.2} | {} | {:.2} |",
                p.name,
                p.ops,
                p.rate(),
                p.p50_ms,
                p.p99_ms,
                delivered.map_or("".into(), |d| format!("{d:.0}")),
                p.rate() / floor
            );
        }
        println!("\nserver peak RSS {:.1} MB", hwm as f64 / 1024.0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
