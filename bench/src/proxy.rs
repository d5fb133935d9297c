//! Proxy overhead: a release `patchbay serve` (SQLite) proxies GETs of a Todoist emulator
//! resource, next to the same GETs sent straight to the emulator in the same run. Latency is
//! measured one request at a time; throughput with concurrent clients.

use crate::{run, start, Args, Phase, ADMIN};
use serde_json::{json, Value};

#[derive(clap::Args, Debug)]
pub struct ProxyArgs {
    #[arg(long, default_value_t = 5_000)]
    requests: usize,
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// The patchbay binary to run (build it with `cargo build --release -p patchbay`).
    #[arg(long, default_value = "target/release/patchbay")]
    binary: String,
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
    let ws: Value = client
        .post(format!("{base}/v1/admin/workspaces"))
        .bearer_auth(ADMIN)
        .json(&json!({"name": "bench"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = ws["secret_key"]
        .as_str()
        .expect("workspace key")
        .to_string();
    let conn: Value = client
        .post(format!("{base}/v1/connections"))
        .bearer_auth(&key)
        .json(
            &json!({"connector": "todoist", "owner": {"id": "bench"}, "enable": true,
                      "config": {"base_url": em.base_url.replace("127.0.0.1", "localhost")},
                      "secrets": {"access_token": token}}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = conn["id"].as_str().expect("connection").to_string();
    let direct_url = format!("{}/api/v1/user", em.base_url);
    let proxy_url = format!("{base}/v1/connections/{id}/proxy/api/v1/user");
    println!(
        "patchbay proxy benchmark: GET /api/v1/user of the Todoist emulator, {} requests; server on SQLite",
        args.requests
    );
    let make_direct =
        |c: reqwest::Client, url: String, token: String| move |_| c.get(&url).bearer_auth(&token);
    // Warm both paths (connections, caches) before measuring.
    run(
        "warm",
        200,
        4,
        make_direct(client.clone(), direct_url.clone(), token.clone()),
    )
    .await;
    run(
        "warm",
        200,
        4,
        make_direct(client.clone(), proxy_url.clone(), key.clone()),
    )
    .await;
    let d1 = run(
        "direct",
        args.requests / 5,
        1,
        make_direct(client.clone(), direct_url.clone(), token.clone()),
    )
    .await;
    let p1 = run(
        "proxy",
        args.requests / 5,
        1,
        make_direct(client.clone(), proxy_url.clone(), key.clone()),
    )
    .await;
    let dn = run(
        "direct",
        args.requests,
        args.concurrency,
        make_direct(client.clone(), direct_url.clone(), token.clone()),
    )
    .await;
    let pn = run(
        "proxy",
        args.requests,
        args.concurrency,
        make_direct(client.clone(), proxy_url.clone(), key.clone()),
    )
    .await;
    line("direct, 1 client", &d1);
    line("proxy, 1 client", &p1);
    line(&format!("direct, {} clients", args.concurrency), &dn);
    line(&format!("proxy, {} clients", args.concurrency), &pn);
    println!(
        "added latency: p50 {:.3} ms, p99 {:.3} ms (1 client); throughput ratio {:.2} ({} clients)",
        p1.p50_ms - d1.p50_ms,
        p1.p99_ms - d1.p99_ms,
        pn.rate() / dn.rate(),
        args.concurrency
    );
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
