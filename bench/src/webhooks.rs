//! Inbound webhook throughput: signed, verified, deduplicated, durable deliveries per second on
//! a release `patchbay serve`, next to two baselines measured in the same run: a bare 200 route
//! (`/healthz`) and a server that only group-commits each raw body into one table (the durable
//! ceiling), run as a separate process like patchbay.

use crate::{peak_rss_kb, run, start_with, Args};
use axum::routing::post;
use serde_json::json;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::process::Command;
use std::str::FromStr;
use tokio::sync::{mpsc, oneshot};

#[derive(clap::Args, Debug)]
pub struct WebhookArgs {
    #[command(flatten)]
    pub common: Args,
    /// Deliveries per round and route.
    #[arg(long, default_value_t = 50_000)]
    pub requests: usize,
    /// Rounds of bare route, ceiling and webhooks, measured one after another.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
}

#[derive(clap::Args, Debug)]
pub struct CeilingArgs {
    #[arg(long)]
    pub db: String,
}

type Pending = (Vec<u8>, oneshot::Sender<()>);

/// The durable ceiling: bodies go to one table, many rows per statement, one commit per batch.
pub async fn ceiling_server(args: CeilingArgs) {
    let (tx, rx) = mpsc::channel::<Pending>(4096);
    // Drains waiting bodies into one multi-row insert and one commit, then answers them all.
    macro_rules! batcher {
        ($pool:expr) => {{
            let pool = $pool;
            let mut rx = rx;
            tokio::spawn(async move {
                while let Some(first) = rx.recv().await {
                    let mut batch = vec![first];
                    while batch.len() < 256 {
                        match rx.try_recv() {
                            Ok(p) => batch.push(p),
                            Err(_) => break,
                        }
                    }
                    let sql = format!(
                        "INSERT INTO ceiling (body) VALUES {}",
                        (1..=batch.len())
                            .map(|n| format!("(${n})"))
                            .collect::<Vec<_>>()
                            .join(",")
                    );
                    let mut q = sqlx::query(&sql);
                    for (b, _) in &batch {
                        q = q.bind(b.clone());
                    }
                    q.execute(&pool).await.unwrap();
                    for (_, reply) in batch {
                        let _ = reply.send(());
                    }
                }
            });
        }};
    }
    if args.db.starts_with("sqlite:") {
        let opts = SqliteConnectOptions::from_str(&args.db)
            .unwrap()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await
            .unwrap();
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS ceiling (id INTEGER PRIMARY KEY, body BLOB NOT NULL)",
        )
        .execute(&pool)
        .await
        .unwrap();
        batcher!(pool);
    } else {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect(&args.db)
            .await
            .unwrap();
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS ceiling (id BIGSERIAL PRIMARY KEY, body BYTEA NOT NULL)",
        )
        .execute(&pool)
        .await
        .unwrap();
        batcher!(pool);
    }
    let app = axum::Router::new().route(
        "/ingest",
        post(move |body: axum::body::Bytes| {
            let tx = tx.clone();
            async move {
                let (reply, done) = oneshot::channel();
                let _ = tx.send((body.to_vec(), reply)).await;
                let _ = done.await;
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!(
        "patchbay listening on http://{}",
        listener.local_addr().unwrap()
    );
    axum::serve(listener, app).await.unwrap();
}

pub async fn bench(args: WebhookArgs) {
    let backends: Vec<&str> = match args.common.backend.as_str() {
        "both" => vec!["sqlite", "postgres"],
        one => vec![one],
    };
    let secret = "bench-callback-secret-0123456789ab";
    let partner = patchbay_emulators::printing_partner::spawn(patchbay_emulators::PrintingConfig {
        callback_secret: secret.into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let payload = partner
        .order_event("order.updated", &partner.order_ids()[0])
        .unwrap()
        .body;
    let n = args.requests;
    let c = args.common.concurrency;
    println!(
        "inbound webhook benchmark: {n} deliveries of {} B, {c} concurrent clients in this process",
        payload.len()
    );
    for backend in backends {
        let dir = std::env::temp_dir().join(format!(
            "patchbay-bench-wh-{backend}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let fresh = |name: &str| -> String {
            match backend {
                "sqlite" => format!(
                    "sqlite:{}?mode=rwc",
                    dir.join(format!("{name}.db")).display()
                ),
                _ => {
                    for sql in [
                        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                        format!("CREATE DATABASE {name}"),
                    ] {
                        let ok = Command::new("psql")
                            .arg(format!("{}/postgres", args.common.postgres))
                            .args(["-qc", &sql])
                            .status()
                            .unwrap();
                        assert!(ok.success());
                    }
                    format!("{}/{name}", args.common.postgres)
                }
            }
        };
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(c)
            .build()
            .unwrap();
        // Both servers run for the whole benchmark and are measured in alternating rounds,
        // so a change in the machine's speed during the run touches both sides alike; each
        // round's ratio compares neighbouring measurements.
        let (mut ceiling, cbase) =
            crate::spawn_self(&["ceiling-server", "--db", &fresh("patchbay_bench_ceiling")]);
        let (mut child, base) = start_with(
            &args.common,
            &fresh("patchbay_bench_wh"),
            &dir,
            &["--no-worker"],
            &[],
        );
        let key = crate::workspace_key(&client, &base, "wh").await;
        let id = crate::connection_id(
            &client,
            &base,
            &key,
            json!({"connector": "printing_partner", "owner": {"id": "u1"}, "enable": true,
                   "config": {"shop_id": "demo-shop", "api_base_url": partner.base_url},
                   "secrets": {"api_key": partner.config().api_key, "callback_secret": secret}}),
        )
        .await;
        let hook_url = format!("{base}/v1/webhooks/printing_partner/{id}");
        let mut rounds = Vec::new();
        for round in 0..args.rounds {
            let (cl, b) = (client.clone(), base.clone());
            let bare = run("GET /healthz (bare 200)", n, c, move |_| {
                cl.get(format!("{b}/healthz"))
            })
            .await;
            // The ceiling gets the very requests patchbay gets (same headers and body); it
            // just ignores what it does not need.
            let delivery = |url: String| {
                let (cl, body) = (client.clone(), payload.clone());
                move |i| {
                    cl.post(&url)
                        .header("content-type", "application/json")
                        .header("X-Patchbay-Integration-Secret", secret)
                        .header("X-Patchbay-Delivery-Id", format!("d-{round}-{i}"))
                        .body(body.clone())
                }
            };
            let ceil = run(
                "durable ceiling (group-commit raw body)",
                n,
                c,
                delivery(format!("{cbase}/ingest")),
            )
            .await;
            let hooks = run(
                "webhook: verify + dedup + durable",
                n,
                c,
                delivery(hook_url.clone()),
            )
            .await;
            println!(
                "{backend} round {}: bare {:.0}/s, ceiling {:.0}/s, webhooks {:.0}/s, ratio {:.2}",
                round + 1,
                bare.rate(),
                ceil.rate(),
                hooks.rate(),
                hooks.rate() / ceil.rate()
            );
            rounds.push([bare, ceil, hooks]);
        }
        let (hwm, _) = peak_rss_kb(child.id());
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let _ = child.wait();
        let _ = ceiling.kill();
        let _ = ceiling.wait();
        // The round with the median ratio is reported whole.
        rounds.sort_by(|a, b| (a[2].rate() / a[1].rate()).total_cmp(&(b[2].rate() / b[1].rate())));
        let median = &rounds[rounds.len() / 2];
        println!(
            "\n### {backend} (median of {} rounds by ratio)\n",
            args.rounds
        );
        println!("| route | requests | ops/s | p50 ms | p99 ms | ratio to ceiling |");
        println!("|---|---:|---:|---:|---:|---:|");
        for p in median {
            println!(
                "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} |",
                p.name,
                p.ops,
                p.rate(),
                p.p50_ms,
                p.p99_ms,
                p.rate() / median[1].rate()
            );
        }
        println!("\nserver peak RSS {:.1} MB", hwm as f64 / 1024.0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
