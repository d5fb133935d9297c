//! Sync throughput: the engine syncs N records of about 1 KB from the emulated record source on
//! loopback, through the generic `http_json` connector, into SQLite and PostgreSQL. Reported
//! next to a plain batched insert of the same records into the same database, measured in the
//! same run.

use patchbay_connectors::providers::Catalog;
use patchbay_connectors::{HttpClient, NetworkPolicy};
use patchbay_core::{now_ms, Secret, SyncMode};
use patchbay_emulators::records::{self, RecordsConfig};
use patchbay_engine::connections::{CreateConnection, OwnerInput};
use patchbay_engine::{Caller, Engine, EngineOptions, Vault};
use patchbay_store::{PageRecord, Store};
use serde_json::json;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct SyncArgs {
    /// sqlite, postgres or both.
    #[arg(long, default_value = "both")]
    backend: String,
    #[arg(long, default_value_t = 1_000_000)]
    records: usize,
    #[arg(long, default_value_t = 1024)]
    record_bytes: usize,
    #[arg(long, default_value_t = 2000)]
    page_size: usize,
    /// PostgreSQL server; a database `patchbay_bench_sync` is recreated on it.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    postgres: String,
}

/// A fresh database for a benchmark: a SQLite file in `dir`, or database `name` recreated on
/// the PostgreSQL server `postgres`.
pub async fn fresh_store(
    postgres: &str,
    backend: &str,
    dir: &std::path::Path,
    name: &str,
) -> Store {
    let url = match backend {
        "sqlite" => format!(
            "sqlite:{}?mode=rwc",
            dir.join(format!("{name}.db")).display()
        ),
        _ => {
            for sql in [
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                format!("CREATE DATABASE {name}"),
            ] {
                let ok = std::process::Command::new("psql")
                    .arg(format!("{postgres}/postgres"))
                    .args(["-qc", &sql])
                    .status();
                assert!(
                    matches!(ok.map(|s| s.success()), Ok(true)),
                    "psql failed: {sql}"
                );
            }
            format!("{postgres}/{name}")
        }
    };
    Store::connect(&url).await.expect("database")
}

/// An engine on `store` for in-process benchmarks, with loopback calls allowed.
pub async fn bench_engine(store: &Store) -> Engine {
    let vault = Vault::load(
        store.clone(),
        patchbay_vault::MasterKey::from_base64(&patchbay_vault::MasterKey::generate_base64())
            .unwrap(),
    )
    .await
    .unwrap();
    let http = HttpClient::new(NetworkPolicy::AllowAll, Duration::from_secs(60));
    let catalog = Catalog::load(None).unwrap();
    let registry = patchbay_connectors::builtin(http.clone(), &catalog);
    Engine::new(
        store.clone(),
        vault,
        registry,
        EngineOptions {
            admin_key: Some(Secret::new("pbadmin_bench_sync_0123456789")),
            catalog,
            http,
            public_url: "http://127.0.0.1:8080".into(),
            connect_ttl: patchbay_engine::DEFAULT_CONNECT_TTL,
            job_lease: Duration::from_secs(60),
            provider_concurrency: 4,
        },
    )
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

pub async fn run(args: SyncArgs) {
    let backends: Vec<&str> = match args.backend.as_str() {
        "both" => vec!["sqlite", "postgres"],
        one => vec![one],
    };
    println!("patchbay sync benchmark: {} records of ~{} B, pages of {}; source emulator in this process", args.records, args.record_bytes, args.page_size);
    let em = records::spawn(RecordsConfig {
        count: args.records,
        record_bytes: args.record_bytes,
        max_page_size: args.page_size.max(5000),
        ..Default::default()
    })
    .await
    .expect("emulator");
    for backend in backends {
        let dir = std::env::temp_dir().join(format!(
            "patchbay-bench-sync-{backend}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = fresh_store(&args.postgres, backend, &dir, "patchbay_bench_sync").await;

        // Baseline: the same records, inserted as plain batches (generation not timed).
        let mut insert_time = Duration::ZERO;
        let mut batch = Vec::with_capacity(args.page_size);
        for i in 0..args.records {
            let data = em.record_json(i);
            batch.push(PageRecord {
                id: format!("rec_{i:07}"),
                hash: String::new(),
                data,
            });
            if batch.len() == args.page_size || i + 1 == args.records {
                let t = Instant::now();
                store
                    .insert_records_plain("ws_baseline", "conn_baseline", "records", &batch)
                    .await
                    .expect("plain insert");
                insert_time += t.elapsed();
                batch.clear();
            }
        }
        let baseline = rate(args.records, insert_time);

        let engine = bench_engine(&store).await;
        let ws = engine
            .workspaces()
            .create_workspace("bench", "bench")
            .await
            .unwrap();
        let caller = Caller::Workspace {
            workspace_id: ws.workspace.id.clone(),
            key_id: "bench".into(),
        };
        let created = engine.connections()
            .create_connection(
                &caller,
                CreateConnection {
                    connector: "http_json".into(),
                    owner: OwnerInput { id: "bench".into(), scope: json!({"type": "platform"}) },
                    name: None,
                    config: json!({"base_url": em.base_url, "list_path": "/v1/records", "page_size": args.page_size,
                                   "updated_since_param": "updated_since", "updated_at_field": "updated_at", "deleted_field": "deleted"}),
                    secrets: [("api_key".to_string(), Secret::new(em.config().api_key.clone()))].into(),
                    enable: true,
                    allowed_actions: None,
                    sync_frequency: None,
                },
            )
            .await
            .unwrap();
        let id = created.connection.id.clone();

        let t = Instant::now();
        let first = engine
            .syncs()
            .run_sync_in_foreground(&id, SyncMode::Full, |_| {})
            .await
            .unwrap();
        let first_time = t.elapsed();
        assert_eq!(
            (first.status.as_str(), first.added as usize),
            ("completed", args.records),
            "{first:?}"
        );

        let before = now_ms();
        let t = Instant::now();
        let second = engine
            .syncs()
            .run_sync_in_foreground(&id, SyncMode::Full, |_| {})
            .await
            .unwrap();
        let second_time = t.elapsed();
        let rewritten = store.records_written_since(&id, before).await.unwrap();
        assert_eq!(
            (second.unchanged as usize, second.added + second.updated),
            (args.records, 0),
            "{second:?}"
        );

        let changed = em.change_fraction(0.01);
        let t = Instant::now();
        let third = engine
            .syncs()
            .run_sync_in_foreground(&id, SyncMode::Incremental, |_| {})
            .await
            .unwrap();
        let third_time = t.elapsed();
        assert_eq!(third.updated as usize, changed, "{third:?}");

        println!("\n### {backend}\n");
        println!("| what | records | seconds | records/s | ratio to plain insert |");
        println!("|---|---:|---:|---:|---:|");
        println!(
            "| plain batched insert (baseline) | {} | {:.2} | {:.0} | 1.00 |",
            args.records,
            insert_time.as_secs_f64(),
            baseline
        );
        let line = |name: &str, n: usize, d: Duration| {
            println!(
                "| {name} | {n} | {:.2} | {:.0} | {:.2} |",
                d.as_secs_f64(),
                rate(n, d),
                rate(n, d) / baseline
            );
        };
        line("first full sync", args.records, first_time);
        line(
            "second full sync, nothing changed",
            args.records,
            second_time,
        );
        line(
            "incremental sync, 1% changed (changed records)",
            changed,
            third_time,
        );
        println!(
            "\nrecord rows written by the unchanged resync: {rewritten}; unchanged resync is {:.1}x faster than the first sync; incremental run took {:.2} s for {} changes",
            first_time.as_secs_f64() / second_time.as_secs_f64(),
            third_time.as_secs_f64(),
            changed
        );
        store.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Every live record of `entity` as stored for `connection_id`, ready to insert again (the
/// plain-insert baselines).
pub async fn stored_rows(
    store: &patchbay_store::Store,
    connection_id: &str,
    entity: &str,
) -> Vec<patchbay_store::PageRecord> {
    let mut rows = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_records(&patchbay_store::RecordQuery {
                connection_id: connection_id.to_string(),
                entity: entity.into(),
                after: after.clone(),
                modified_after: None,
                include_deleted: false,
                limit: 1000,
            })
            .await
            .unwrap();
        let Some(last) = page.last() else {
            return rows;
        };
        after = Some((last.updated_at, last.id.clone()));
        for r in page {
            rows.push(patchbay_store::PageRecord {
                id: r.id,
                hash: r.hash,
                data: serde_json::from_str(&r.data).unwrap(),
            });
        }
    }
}
