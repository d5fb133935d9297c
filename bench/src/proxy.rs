//! Proxy overhead: a release `patchbay serve` (SQLite) proxies GETs of a Todoist emulator
//! resource, next to the same GETs sent straight to the emulator in the same run. Latency is
//! measured one request at a time; throughput with concurrent clients.

use crate::{run, start, Args, Phase};
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
    let em = patchbay_emulators::todoist::spawn(Default::default())
        .await
        .expect("todoist emulator");
    let token = em.config().tokens[0].clone();
    let server_args = Args {
        backend: "sqlite".into(),
        connections: 0,
        concurrency: args.concurrency,
        binary: args.binary.clone(),
        postgres: String::new(),
    };
    let db = format!("sqlite:{}?mode=rwc", dir.join("proxy.db").display());
    let (mut child, base) = start(&server_args, &db, &dir);
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
               "config": {"base_url": em.base_url.replace("127.0.0.1", "localhost")},
               "secrets": {"access_token": token}}),
    )
    .await;
    let direct_url = format!("{}/api/v1/user", em.base_url);
    let (mut forwarder, fbase) = crate::spawn_self(&["forward-server", "--upstream", &em.base_url]);
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
        "patchbay proxy benchmark: GET /api/v1/user of the Todoist emulator, {} requests; server on SQLite",
        args.requests
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
    let mut rounds = Vec::new();
    for round in 0..args.rounds {
        let mut phases = Vec::new();
        for (clients, ops) in [(1, args.requests / 5), (args.concurrency, args.requests)] {
            for (name, url, auth) in &paths {
                phases.push(run(name, ops, clients, get(url, auth)).await);
            }
        }
        let rates: Vec<String> = phases[np..]
            .iter()
            .map(|p| format!("{} {:.0}/s", p.name, p.rate()))
            .collect();
        println!(
            "round {}: {} clients: {}, ratio {:.2}",
            round + 1,
            args.concurrency,
            rates.join(", "),
            phases[2 * np - 1].rate() / phases[np].rate()
        );
        rounds.push(phases);
    }
    let ratio = |r: &Vec<Phase>| r[2 * np - 1].rate() / r[np].rate();
    rounds.sort_by(|a, b| ratio(a).total_cmp(&ratio(b)));
    let m = &rounds[rounds.len() / 2];
    println!("\nmedian round of {}:", args.rounds);
    for (i, p) in m.iter().enumerate() {
        let clients = if i < np { 1 } else { args.concurrency };
        line(&format!("{}, {clients} client(s)", p.name), p);
    }
    println!(
        "added latency: p50 {:.3} ms, p99 {:.3} ms (1 client)",
        m[np - 1].p50_ms - m[0].p50_ms,
        m[np - 1].p99_ms - m[0].p99_ms,
    );
    for p in &m[np + 1..] {
        println!(
            "throughput ratio to direct ({} clients): {} {:.2}",
            args.concurrency,
            p.name,
            p.rate() / m[np].rate()
        );
    }
    let _ = forwarder.kill();
    let _ = forwarder.wait();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
