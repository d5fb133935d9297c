//! Proxy overhead: a release `patchbay serve` (SQLite) proxies GETs of a Todoist emulator
//! resource, next to the same GETs sent straight to the emulator in the same run. Latency is
//! measured one request at a time; throughput with concurrent clients.

use crate::{run, Args, Phase};
use serde_json::json;

#[derive(clap::Args, Debug)]
pub struct ProxyArgs {
    #[arg(long, default_value_t = 5_000)]
    requests: usize,
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Rounds of direct, minimal proxy and patchbay proxy, measured one after another.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// The patchbay binary to run (build it with `cargo build --release -p patchbay`).
    #[arg(long, default_value = "target/release/patchbay")]
    binary: String,
    /// Serve the emulator from the load generator's own process instead of a process of its own.
    #[arg(long)]
    emulator_in_process: bool,
    /// patchbay's runtime threads (`PATCHBAY_RUNTIME_THREADS`); by default one per core.
    #[arg(long)]
    server_threads: Option<usize>,
}

#[derive(clap::Args, Debug)]
pub struct ForwardArgs {
    /// Where every request is forwarded to.
    #[arg(long)]
    upstream: String,
}

/// The least a proxy can do over HTTP/1.1 with the same client stack: forward method, path,
/// headers and body to one upstream and stream the answer back. No keys, no credentials, no
/// checks; it shows what the second hop costs on this machine by itself.
pub async fn forward_server(args: ForwardArgs) {
    use axum::body::Body;
    use axum::extract::Request;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    let upstream = args.upstream.trim_end_matches('/').to_string();
    let app = axum::Router::new().fallback(move |req: Request| {
        let (client, upstream) = (client.clone(), upstream.clone());
        async move {
            let (parts, body) = req.into_parts();
            let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            let mut headers = parts.headers;
            headers.remove(axum::http::header::HOST);
            let resp = client
                .request(parts.method, format!("{upstream}{path}"))
                .headers(headers)
                .body(reqwest::Body::wrap_stream(body.into_data_stream()))
                .send()
                .await
                .unwrap();
            let mut out = axum::http::Response::builder().status(resp.status());
            for (k, v) in resp.headers() {
                out = out.header(k, v);
            }
            out.body(Body::from_stream(resp.bytes_stream())).unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!(
        "patchbay listening on http://{}",
        listener.local_addr().unwrap()
    );
    axum::serve(listener, app).await.unwrap();
}

/// The Todoist emulator on its own, as a provider would be: its own process and runtime.
pub async fn emulator_server() {
    let em = patchbay_emulators::todoist::spawn(Default::default())
        .await
        .expect("todoist emulator");
    println!("patchbay listening on {}", em.base_url);
    std::future::pending::<()>().await;
}

/// One measured phase and the CPU each process spent in it.
struct Measured {
    phase: Phase,
    /// Nanoseconds of CPU per process, in the order of `Procs::names`.
    cpu: Vec<u64>,
}

/// The processes whose CPU time is counted.
struct Procs {
    names: Vec<&'static str>,
    pids: Vec<u32>,
}

impl Procs {
    fn sample(&self) -> Vec<u64> {
        self.pids.iter().map(|p| crate::cpu_ns(*p)).collect()
    }
}

fn line(label: &str, p: &Phase) {
    println!(
        "{label:<28} {:>8.0} req/s   p50 {:>6.3} ms   p99 {:>6.3} ms",
        p.rate(),
        p.p50_ms,
        p.p99_ms
    );
}

pub async fn bench(args: ProxyArgs) {
    let dir = std::env::temp_dir().join(format!("patchbay-bench-proxy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // The provider runs as a process of its own unless asked otherwise: a real one is never
    // inside its client, and sharing a runtime with the load generator spares the direct path
    // the cross-process wake-ups every proxied request pays.
    let token = patchbay_emulators::todoist::TodoistConfig::default().tokens[0].clone();
    let (_em, mut em_child, em_base) = if args.emulator_in_process {
        let em = patchbay_emulators::todoist::spawn(Default::default())
            .await
            .expect("todoist emulator");
        let base = em.base_url.clone();
        (Some(em), None, base)
    } else {
        let (child, base) = crate::spawn_self(&["emulator-server"]);
        (None, Some(child), base)
    };
    let server_args = Args {
        backend: "sqlite".into(),
        connections: 0,
        concurrency: args.concurrency,
        binary: args.binary.clone(),
        postgres: String::new(),
    };
    let db = format!("sqlite:{}?mode=rwc", dir.join("proxy.db").display());
    let threads = args.server_threads.map(|n| n.to_string());
    let envs: Vec<(&str, &str)> = threads
        .iter()
        .map(|n| ("PATCHBAY_RUNTIME_THREADS", n.as_str()))
        .collect();
    let (mut child, base) = crate::start_with(&server_args, &db, &dir, &[], &envs);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()
        .unwrap();
    let key = crate::workspace_key(&client, &base, "bench").await;
    let id = crate::connection_id(
        &client,
        &base,
        &key,
        json!({"connector": "todoist", "owner": {"id": "bench"}, "enable": true,
               "config": {"base_url": em_base.replace("127.0.0.1", "localhost")},
               "secrets": {"access_token": token}}),
    )
    .await;
    let direct_url = format!("{em_base}/api/v1/user");
    let (mut forwarder, fbase) = crate::spawn_self(&["forward-server", "--upstream", &em_base]);
    let mut procs = Procs {
        names: vec!["load generator", "patchbay", "minimal proxy"],
        pids: vec![std::process::id(), child.id(), forwarder.id()],
    };
    match &em_child {
        Some(c) => {
            procs.names.push("emulator");
            procs.pids.push(c.id());
        }
        None => procs.names[0] = "load generator + emulator",
    }
    let paths = [
        ("direct", direct_url.clone(), token.clone()),
        (
            "minimal proxy",
            format!("{fbase}/api/v1/user"),
            token.clone(),
        ),
        (
            "patchbay proxy",
            format!("{base}/v1/connections/{id}/proxy/api/v1/user"),
            key.clone(),
        ),
    ];
    let np = paths.len();
    println!(
        "patchbay proxy benchmark: GET /api/v1/user of the Todoist emulator ({}), {} requests; server on SQLite, {} runtime thread(s)",
        if args.emulator_in_process {
            "inside the load generator"
        } else {
            "its own process"
        },
        args.requests,
        threads.as_deref().unwrap_or("one per core: default")
    );
    let get = |url: &str, auth: &str| {
        let (c, url, auth) = (client.clone(), url.to_string(), auth.to_string());
        move |_| c.get(&url).bearer_auth(&auth)
    };
    // Warm every path (connections, caches) before measuring.
    for (_, url, auth) in &paths {
        run("warm", 200, 4, get(url, auth)).await;
    }
    // Rounds alternate the paths so a change in the machine's speed touches all alike; the
    // round with the median throughput ratio (patchbay to direct) is reported.
    let mut rounds: Vec<Vec<Measured>> = Vec::new();
    for round in 0..args.rounds {
        let mut phases = Vec::new();
        for (clients, ops) in [(1, args.requests / 5), (args.concurrency, args.requests)] {
            for (name, url, auth) in &paths {
                let before = procs.sample();
                let phase = run(name, ops, clients, get(url, auth)).await;
                let after = procs.sample();
                let cpu = after.iter().zip(&before).map(|(a, b)| a - b).collect();
                phases.push(Measured { phase, cpu });
            }
        }
        let rates: Vec<String> = phases[np..]
            .iter()
            .map(|m| format!("{} {:.0}/s", m.phase.name, m.phase.rate()))
            .collect();
        println!(
            "round {}: {} clients: {}, ratio {:.2}",
            round + 1,
            args.concurrency,
            rates.join(", "),
            phases[2 * np - 1].phase.rate() / phases[np].phase.rate()
        );
        rounds.push(phases);
    }
    let ratio = |r: &Vec<Measured>| r[2 * np - 1].phase.rate() / r[np].phase.rate();
    let mut ratios: Vec<f64> = rounds.iter().map(ratio).collect();
    ratios.sort_by(f64::total_cmp);
    rounds.sort_by(|a, b| ratio(a).total_cmp(&ratio(b)));
    let m = &rounds[rounds.len() / 2];
    println!("\nmedian round of {}:", args.rounds);
    for (i, p) in m.iter().enumerate() {
        let clients = if i < np { 1 } else { args.concurrency };
        line(&format!("{}, {clients} client(s)", p.phase.name), &p.phase);
    }
    println!(
        "added latency: p50 {:.3} ms, p99 {:.3} ms (1 client)",
        m[np - 1].phase.p50_ms - m[0].phase.p50_ms,
        m[np - 1].phase.p99_ms - m[0].phase.p99_ms,
    );
    for p in &m[np + 1..] {
        println!(
            "throughput ratio to direct ({} clients): {} {:.2}",
            args.concurrency,
            p.phase.name,
            p.phase.rate() / m[np].phase.rate()
        );
    }
    println!(
        "per-round ratios, patchbay to direct: {}",
        ratios
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "\nCPU per request in the median round, {} clients (µs):",
        args.concurrency
    );
    for p in &m[np..] {
        let per: Vec<String> = procs
            .names
            .iter()
            .zip(&p.cpu)
            .filter(|(_, ns)| **ns as f64 / p.phase.ops as f64 >= 50.0)
            .map(|(n, ns)| format!("{n} {:.1}", *ns as f64 / p.phase.ops as f64 / 1000.0))
            .collect();
        let total: u64 = p.cpu.iter().sum();
        println!(
            "  {:<16} total {:>5.1}  ({})",
            p.phase.name,
            total as f64 / p.phase.ops as f64 / 1000.0,
            per.join(", ")
        );
    }
    let _ = forwarder.kill();
    let _ = forwarder.wait();
    if let Some(c) = em_child.as_mut() {
        let _ = c.kill();
        let _ = c.wait();
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
