//! Outbound deliveries: N events spread over C connections are fanned out to one subscription
//! and delivered, signed, to a local receiver by the engine's dispatcher, on SQLite and
//! PostgreSQL. Reported next to a baseline from the same run: the same number of POSTs of the
//! same size sent straight to the receiver with the same parallelism, no database involved.

use crate::sync::{bench_engine, fresh_store};
use axum::routing::post;
use patchbay_core::{ids, now_ms};
use patchbay_engine::events::CreateSubscription;
use patchbay_engine::Caller;
use patchbay_store::EventRow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct DeliveryArgs {
    /// sqlite, postgres or both.
    #[arg(long, default_value = "both")]
    backend: String,
    #[arg(long, default_value_t = 50_000)]
    events: usize,
    /// Connections the events belong to; each connection's events are delivered in order.
    #[arg(long, default_value_t = 500)]
    connections: usize,
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    postgres: String,
}

/// A receiver that counts what it gets and answers 204.
async fn receiver() -> (String, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |_body: axum::body::Bytes| {
            let seen = seen.clone();
            async move {
                seen.fetch_add(1, Ordering::Relaxed);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, count)
}

fn payload(i: usize) -> String {
    serde_json::json!({"entity": "records", "added": i % 7, "updated": i % 5, "deleted": 0,
                       "run_id": format!("sync_{i:08}")})
    .to_string()
}

/// Straight POSTs, `parallel` at a time.
async fn baseline(url: &str, n: usize, parallel: usize) -> f64 {
    let client = reqwest::Client::new();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..parallel {
        let (client, next, url) = (client.clone(), next.clone(), url.to_string());
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let body = format!(
                    r#"{{"type":"records.changed","timestamp":"2026-11-22T00:00:00Z","data":{}}}"#,
                    payload(i)
                );
                let r = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("receiver");
                assert!(r.status().is_success());
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    n as f64 / started.elapsed().as_secs_f64()
}

pub async fn run(args: DeliveryArgs) {
    let backends: Vec<&str> = match args.backend.as_str() {
        "both" => vec!["sqlite", "postgres"],
        one => vec![one],
    };
    println!(
        "patchbay delivery benchmark: {} events over {} connections to one subscriber on loopback",
        args.events, args.connections
    );
    for backend in backends {
        let dir = std::env::temp_dir().join(format!(
            "patchbay-bench-deliveries-{backend}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = fresh_store(&args.postgres, backend, &dir, "patchbay_bench_deliveries").await;
        let engine = bench_engine(&store).await;
        let (url, received) = receiver().await;
        let direct = baseline(&url, args.events, args.connections.min(512)).await;
        received.store(0, Ordering::Relaxed);

        let ws = engine
            .workspaces()
            .create_workspace("bench", "bench")
            .await
            .unwrap();
        let caller = Caller::Workspace {
            workspace_id: ws.workspace.id.clone(),
            key_id: "bench".into(),
        };
        engine
            .events()
            .create_subscription(
                &caller,
                CreateSubscription {
                    url,
                    event_types: vec![],
                    description: None,
                    enabled: true,
                },
            )
            .await
            .unwrap();
        // The events (not timed): as syncs would leave them in the outbox.
        let conns: Vec<String> = (0..args.connections)
            .map(|_| ids::new_id(ids::IdKind::Connection))
            .collect();
        for i in 0..args.events {
            store
                .record_event(&EventRow {
                    id: ids::new_id(ids::IdKind::Event),
                    workspace_id: ws.workspace.id.clone(),
                    event_type: "records.changed".into(),
                    connection_id: Some(conns[i % conns.len()].clone()),
                    payload: payload(i),
                    created_at: now_ms(),
                })
                .await
                .unwrap();
        }
        let started = Instant::now();
        let rounds = Arc::new(AtomicUsize::new(0));
        // As `serve` runs them: several dispatch loops, so one round's sends overlap the
        // next round's claim and bookkeeping.
        let mut loops = tokio::task::JoinSet::new();
        for _ in 0..patchbay_engine::events::DISPATCH_LOOPS {
            let (engine, received, rounds, n) = (
                engine.clone(),
                received.clone(),
                rounds.clone(),
                args.events,
            );
            loops.spawn(async move {
                while received.load(Ordering::Relaxed) < n {
                    if engine.events().dispatch_once().await.expect("dispatch") == 0 {
                        // Every group is held by the other loop.
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        continue;
                    }
                    rounds.fetch_add(1, Ordering::Relaxed);
                    assert!(
                        started.elapsed() < Duration::from_secs(600),
                        "deliveries stalled at {}",
                        received.load(Ordering::Relaxed)
                    );
                }
            });
        }
        while loops.join_next().await.is_some() {}
        let rounds = rounds.load(Ordering::Relaxed);
        let secs = started.elapsed().as_secs_f64();
        let rate = args.events as f64 / secs;
        println!(
            "{backend:>8}: {rate:>8.0} deliveries/s ({:.2} s, {rounds} rounds) | direct POSTs {direct:>8.0}/s | ratio {:.2}",
            secs,
            rate / direct
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
