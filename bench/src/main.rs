//! Benchmarks. `connections`: runs a release `patchbay serve` on SQLite and/or PostgreSQL,
//! then creates, enables and reads N connections with C concurrent clients, and reports ops/s,
//! latency percentiles, the ratio to a `/healthz` baseline measured in the same run, and the
//! server's peak RSS. `sync`: syncs a large record source through the engine (see sync.rs).
//! `ui`: the web UI's connections list next to the JSON list (see ui.rs).

mod deliveries;
mod gcal;
mod gmail;
mod messaging;
mod proxy;
mod routing;
mod sync;
mod ui;
mod webhooks;

use clap::{Parser, Subcommand};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
struct Cli {
    #[command(subcommand)]
    command: Bench,
}

#[derive(Subcommand, Debug)]
enum Bench {
    /// Create, enable and read connections through a running server.
    Connections(Args),
    /// Sync records from the emulated source: first full, unchanged full, 1% incremental.
    Sync(sync::SyncArgs),
    /// Sync generated Gmail messages with the mail context on and off, then 1% by history.
    Gmail(gmail::GmailArgs),
    /// Available slots over two calendars (p50/p99) and a first sync of generated events.
    Gcal(gcal::GcalArgs),
    /// Inbound webhooks per second, next to a bare route and a group-commit ceiling.
    Webhooks(webhooks::WebhookArgs),
    /// Inbound Telegram updates and Slack events per second, next to plain webhooks.
    Messaging(messaging::MessagingArgs),
    /// Messages routed per second through /v1/prompt (followup, collect), next to plain events.
    Routing(routing::RoutingArgs),
    /// Proxy throughput and added latency, next to calling the emulator directly.
    Proxy(proxy::ProxyArgs),
    /// Outbound deliveries per second to a local receiver, next to direct POSTs.
    Deliveries(deliveries::DeliveryArgs),
    /// Render time of the web UI's connections list over 1,000 connections, next to the JSON.
    Ui(ui::UiArgs),
    /// The ceiling server the webhook benchmark starts as a child process.
    #[command(hide = true)]
    CeilingServer(webhooks::CeilingArgs),
    /// The minimal forwarding proxy the proxy benchmark starts as a child process.
    #[command(hide = true)]
    ForwardServer(proxy::ForwardArgs),
    /// The Todoist emulator as a process of its own, for the proxy benchmark.
    #[command(hide = true)]
    EmulatorServer,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// sqlite, postgres or both.
    #[arg(long, default_value = "both")]
    pub backend: String,
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// The patchbay binary to run (build it with `cargo build --release -p patchbay`).
    #[arg(long, default_value = "target/release/patchbay")]
    binary: String,
    /// Server used for the PostgreSQL run; a database `patchbay_bench` is recreated on it.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    pub postgres: String,
}

pub const ADMIN: &str = "pbadmin_bench_0123456789abcdef";

pub struct Phase {
    pub name: &'static str,
    pub ops: usize,
    secs: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Phase {
    pub fn rate(&self) -> f64 {
        self.ops as f64 / self.secs
    }

    /// A phase that began at `started` and ended now, from each operation's latency.
    pub fn from_latencies(name: &'static str, started: Instant, mut all: Vec<Duration>) -> Phase {
        let secs = started.elapsed().as_secs_f64();
        all.sort();
        let pct = |p: f64| all[((all.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1000.0;
        Phase {
            name,
            ops: all.len(),
            secs,
            p50_ms: pct(0.5),
            p99_ms: pct(0.99),
        }
    }
}

pub fn start(args: &Args, db_url: &str, dir: &std::path::Path) -> (Child, String) {
    start_with(args, db_url, dir, &[], &[])
}

/// Starts `patchbay serve` with extra arguments (e.g. `--no-worker`).
/// Creates a workspace on a running server; returns its secret key.
pub async fn workspace_key(client: &reqwest::Client, base: &str, name: &str) -> String {
    let ws: Value = client
        .post(format!("{base}/v1/admin/workspaces"))
        .bearer_auth(ADMIN)
        .json(&json!({ "name": name }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    ws["secret_key"]
        .as_str()
        .expect("workspace key")
        .to_string()
}

/// Creates a connection with `body`; returns its id.
pub async fn connection_id(client: &reqwest::Client, base: &str, key: &str, body: Value) -> String {
    let conn: Value = client
        .post(format!("{base}/v1/connections"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    conn["id"].as_str().expect("connection").to_string()
}

/// Runs this binary again with `args` (a helper server) and waits for the address it prints.
pub fn spawn_self(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().expect("helper server exited").unwrap();
        if let Some(u) = line.strip_prefix("patchbay listening on ") {
            break u.to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, base)
}

pub fn start_with(
    args: &Args,
    db_url: &str,
    dir: &std::path::Path,
    extra: &[&str],
    envs: &[(&str, &str)],
) -> (Child, String) {
    // Enabling verifies the key with the partner, here the local printing partner emulator.
    let binary = std::fs::canonicalize(&args.binary).unwrap_or_else(|e| {
        panic!(
            "cannot find {}: {e} (build it with cargo build --release -p patchbay)",
            args.binary
        )
    });
    let mut child = Command::new(binary)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .args(extra)
        .current_dir(dir)
        .env("PATCHBAY_DATABASE_URL", db_url)
        .env(
            "PATCHBAY_MASTER_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        )
        .env("PATCHBAY_ADMIN_KEY", ADMIN)
        .env("PATCHBAY_LOG_LEVEL", "warn")
        .env("PATCHBAY_ALLOW_PRIVATE_NETWORKS", "127.0.0.0/8")
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {}: {e} (build it with cargo build --release -p patchbay)",
                args.binary
            )
        });
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines.next().expect("server exited").expect("read stdout");
        if let Some(url) = line.strip_prefix("patchbay listening on ") {
            break url.to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, base)
}

/// CPU time a process has run so far, over all its threads, in nanoseconds (scheduler
/// statistics, so finer than clock ticks).
pub fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

pub fn peak_rss_kb(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Runs `ops` requests built by `make(i)` over `concurrency` clients; returns timing.
pub async fn run<F>(name: &'static str, ops: usize, concurrency: usize, make: F) -> Phase
where
    F: Fn(usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (make, next) = (make.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= ops {
                    break lat;
                }
                let t = Instant::now();
                let resp = make(i).send().await.expect("request");
                let status = resp.status();
                let body = resp.bytes().await.expect("body");
                assert!(
                    status.is_success(),
                    "{name} #{i}: {status} {}",
                    String::from_utf8_lossy(&body)
                );
                lat.push(t.elapsed());
            }
        }));
    }
    let mut all: Vec<Duration> = Vec::with_capacity(ops);
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    Phase::from_latencies(name, started, all)
}

/// The database a server run uses: a file in `dir` for SQLite; for PostgreSQL the database
/// `name`, dropped and created again.
pub fn database_url(args: &Args, backend: &str, dir: &std::path::Path, name: &str) -> String {
    if backend == "sqlite" {
        return format!("sqlite:{}?mode=rwc", dir.join("bench.db").display());
    }
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        let ok = Command::new("psql")
            .arg(format!("{}/postgres", args.postgres))
            .args(["-qc", &sql])
            .status()
            .map(|s| s.success());
        assert!(matches!(ok, Ok(true)), "psql failed: {sql}");
    }
    format!("{}/{name}", args.postgres)
}

async fn bench_backend(args: &Args, backend: &str) {
    let dir = std::env::temp_dir().join(format!("patchbay-bench-{backend}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db_url = database_url(args, backend, &dir, "patchbay_bench");
    let partner = patchbay_emulators::printing_partner::spawn(Default::default())
        .await
        .expect("partner emulator");
    let partner_url = partner.base_url.clone();
    let partner_key = partner.config().api_key.clone();
    let (mut child, base) = start(args, &db_url, &dir);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()
        .unwrap();
    let n = args.connections;
    let c = args.concurrency;

    let (cl, b) = (client.clone(), base.clone());
    let baseline = run("GET /healthz (baseline)", n, c, move |_| {
        cl.get(format!("{b}/healthz"))
    })
    .await;

    let key = Arc::new(workspace_key(&client, &base, "bench").await);

    let ids: Arc<std::sync::Mutex<Vec<Option<String>>>> =
        Arc::new(std::sync::Mutex::new(vec![None; n]));
    // Creation ids are collected by a second pass over the list, so the timed loop stays simple.
    let (cl, b, k) = (client.clone(), base.clone(), key.clone());
    let create = run("create connection", n, c, move |i| {
        cl.post(format!("{b}/v1/connections")).bearer_auth(k.as_str()).json(&json!({
            "connector": "printing_partner",
            "owner": {"id": format!("user-{i}")},
            "config": {"shop_id": "demo-shop", "api_base_url": partner_url},
            "secrets": {"api_key": partner_key, "callback_secret": format!("bench-callback-secret-{i:08}")}
        }))
    })
    .await;
    let mut cursor: Option<String> = None;
    let mut all_ids = Vec::with_capacity(n);
    loop {
        let url = match &cursor {
            Some(c) => format!("{base}/v1/connections?limit=500&cursor={c}"),
            None => format!("{base}/v1/connections?limit=500"),
        };
        let page: Value = client
            .get(url)
            .bearer_auth(key.as_str())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        all_ids.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(all_ids.len(), n, "every connection was created");
    *ids.lock().unwrap() = all_ids.into_iter().map(Some).collect();
    let ids: Arc<Vec<String>> = Arc::new(ids.lock().unwrap().iter().flatten().cloned().collect());

    let (cl, b, k, ix) = (client.clone(), base.clone(), key.clone(), ids.clone());
    let enable = run(
        "enable connection (verified with the partner)",
        n,
        c,
        move |i| {
            cl.patch(format!("{b}/v1/connections/{}", ix[i]))
                .bearer_auth(k.as_str())
                .json(&json!({"lifecycle": "enabled"}))
        },
    )
    .await;
    let (cl, b, k, ix) = (client.clone(), base.clone(), key.clone(), ids.clone());
    let read = run("read connection", n, c, move |i| {
        cl.get(format!("{b}/v1/connections/{}", ix[i]))
            .bearer_auth(k.as_str())
    })
    .await;

    let (hwm, rss) = peak_rss_kb(child.id());
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);

    println!("\n### {backend}: {n} connections, {c} concurrent clients\n");
    println!("| phase | ops | seconds | ops/s | p50 ms | p99 ms | ratio to baseline |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let total_ops = create.ops + enable.ops + read.ops;
    let total_secs = create.secs + enable.secs + read.secs;
    for p in [&baseline, &create, &enable, &read] {
        println!(
            "| {} | {} | {:.2} | {:.0} | {:.2} | {:.2} | {:.3} |",
            p.name,
            p.ops,
            p.secs,
            p.rate(),
            p.p50_ms,
            p.p99_ms,
            p.rate() / baseline.rate()
        );
    }
    println!(
        "| create + enable + read | {total_ops} | {total_secs:.2} | {:.0} | | | {:.3} |",
        total_ops as f64 / total_secs,
        (total_ops as f64 / total_secs) / baseline.rate()
    );
    println!(
        "\nserver peak RSS (VmHWM): {:.1} MB; RSS at end: {:.1} MB",
        hwm as f64 / 1024.0,
        rss as f64 / 1024.0
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    match Cli::parse().command {
        Bench::Connections(args) => connections(args).await,
        Bench::Sync(args) => sync::run(args).await,
        Bench::Gmail(args) => gmail::run(args).await,
        Bench::Gcal(args) => gcal::run(args).await,
        Bench::Webhooks(args) => webhooks::bench(args).await,
        Bench::Messaging(args) => messaging::bench(args).await,
        Bench::Routing(args) => routing::bench(args).await,
        Bench::Deliveries(args) => deliveries::run(args).await,
        Bench::Proxy(args) => proxy::bench(args).await,
        Bench::Ui(args) => ui::run(args).await,
        Bench::CeilingServer(args) => webhooks::ceiling_server(args).await,
        Bench::ForwardServer(args) => proxy::forward_server(args).await,
        Bench::EmulatorServer => proxy::emulator_server().await,
    }
}

async fn connections(args: Args) {
    let backends: Vec<&str> = match args.backend.as_str() {
        "both" => vec!["sqlite", "postgres"],
        one => vec![one],
    };
    println!(
        "patchbay connection benchmark; load generator in the same process tree on this machine"
    );
    for b in backends {
        bench_backend(&args, b).await;
    }
}
