//! The web UI's connections list: a release `patchbay serve` holds N connections in one
//! workspace; a browser signs in with the workspace key (the sign-in form's CSRF cookie and
//! field, then the POST) and `GET /ui/connections` is timed next to `GET /v1/connections` with
//! the same page size, alternating, in the same run. A UI page holds at most 100 rows (so it
//! stays under 100 KB), so the whole list is also timed as a walk through every page by the
//! "Next page" link, next to the same walk of the JSON list by `next_cursor`.

use crate::{database_url, start, workspace_key, Args};
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{redirect::Policy, Client};
use serde_json::{json, Value};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct UiArgs {
    /// sqlite, postgres or both.
    #[arg(long, default_value = "sqlite")]
    backend: String,
    #[arg(long, default_value_t = 1_000)]
    connections: usize,
    /// Rows per page of both lists (a UI page holds 1 to 100).
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Timed requests of the first page, per list.
    #[arg(long, default_value_t = 500)]
    requests: usize,
    /// Timed walks through every page, per list.
    #[arg(long, default_value_t = 50)]
    walks: usize,
    /// The patchbay binary to run (build it with `cargo build --release -p patchbay`).
    #[arg(long, default_value = "target/release/patchbay")]
    binary: String,
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    postgres: String,
}

/// Timings of one measurement, with the bytes and rows one sample carried.
#[derive(Default)]
struct Samples {
    times: Vec<Duration>,
    bytes: usize,
    rows: usize,
    pages: usize,
}

impl Samples {
    fn pct(&self, p: f64) -> f64 {
        let mut t = self.times.clone();
        t.sort();
        t[((t.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1000.0
    }
}

/// The `Set-Cookie` pair (`name=value`) for `name` in `resp`.
fn cookie_pair(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .to_string()
}

/// Signs in as a browser does; returns the session cookie pair.
async fn sign_in(client: &Client, base: &str, key: &str) -> String {
    let form = client
        .get(format!("{base}/ui/sign-in"))
        .send()
        .await
        .unwrap();
    let csrf_cookie = cookie_pair(&form, "pb_ui_csrf");
    let html = form.text().await.unwrap();
    let marker = r#"name="csrf" value=""#;
    let start = html.find(marker).expect("a CSRF field") + marker.len();
    let token = html[start..].split('"').next().unwrap();
    let resp = client
        .post(format!("{base}/ui/sign-in"))
        .header(COOKIE, csrf_cookie)
        .form(&[("key", key), ("csrf", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "sign-in refused");
    cookie_pair(&resp, "pb_ui_session")
}

/// One HTML page and its connection rows.
async fn html_page(client: &Client, base: &str, session: &str, path: &str) -> (String, usize) {
    let resp = client
        .get(format!("{base}{path}"))
        .header(COOKIE, session)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "GET {path}");
    let html = resp.text().await.unwrap();
    let rows = html.matches("<tr><td>").count();
    (html, rows)
}

fn next_link(html: &str) -> Option<String> {
    let (before, _) = html.split_once(r#"" rel="next""#)?;
    Some(before.rsplit('"').next()?.replace("&#38;", "&"))
}

async fn json_page(client: &Client, base: &str, key: &str, path: &str) -> (Value, usize) {
    let resp = client
        .get(format!("{base}{path}"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "GET {path}");
    let body = resp.bytes().await.unwrap();
    (serde_json::from_slice(&body).unwrap(), body.len())
}

/// Walks every HTML page; returns (bytes, rows, pages).
async fn html_walk(
    client: &Client,
    base: &str,
    session: &str,
    limit: usize,
) -> (usize, usize, usize) {
    let mut path = Some(format!("/ui/connections?limit={limit}"));
    let (mut bytes, mut rows, mut pages) = (0, 0, 0);
    while let Some(p) = path {
        let (html, n) = html_page(client, base, session, &p).await;
        bytes += html.len();
        rows += n;
        pages += 1;
        path = next_link(&html);
    }
    (bytes, rows, pages)
}

async fn json_walk(client: &Client, base: &str, key: &str, limit: usize) -> (usize, usize, usize) {
    let mut cursor: Option<String> = None;
    let (mut bytes, mut rows, mut pages) = (0, 0, 0);
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/connections?limit={limit}&cursor={c}"),
            None => format!("/v1/connections?limit={limit}"),
        };
        let (page, n) = json_page(client, base, key, &path).await;
        bytes += n;
        rows += page["data"].as_array().unwrap().len();
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return (bytes, rows, pages),
        }
    }
}

pub async fn run(args: UiArgs) {
    let backends: Vec<&str> = match args.backend.as_str() {
        "both" => vec!["sqlite", "postgres"],
        one => vec![one],
    };
    println!("patchbay UI benchmark: the connections list as HTML and as JSON, one client");
    for b in backends {
        bench_backend(&args, b).await;
    }
}

async fn bench_backend(args: &UiArgs, backend: &str) {
    let server = Args {
        backend: backend.into(),
        connections: args.connections,
        concurrency: 16,
        binary: args.binary.clone(),
        postgres: args.postgres.clone(),
    };
    let dir = std::env::temp_dir().join(format!(
        "patchbay-bench-ui-{backend}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db_url = database_url(&server, backend, &dir, "patchbay_bench_ui");
    let (mut child, base) = start(&server, &db_url, &dir);
    let client = Client::builder().redirect(Policy::none()).build().unwrap();
    let key = Arc::new(workspace_key(&client, &base, "bench-ui").await);

    let (cl, b, k) = (client.clone(), base.clone(), key.clone());
    crate::run("create connection", args.connections, 16, move |i| {
        cl.post(format!("{b}/v1/connections"))
            .bearer_auth(k.as_str())
            .json(&json!({
                "connector": "printing_partner",
                "name": format!("Print shop {i:04}"),
                "owner": {"id": format!("user-{i:04}")},
                "config": {"shop_id": format!("shop-{i:04}"), "api_base_url": "https://print.example"},
                "secrets": {"api_key": "pp_live_0123456789abcdef", "callback_secret": format!("bench-callback-secret-{i:08}")}
            }))
    })
    .await;
    let session = sign_in(&client, &base, &key).await;

    let limit = args.limit;
    let html_path = format!("/ui/connections?limit={limit}");
    let json_path = format!("/v1/connections?limit={limit}");
    for _ in 0..20 {
        html_page(&client, &base, &session, &html_path).await;
        json_page(&client, &base, &key, &json_path).await;
    }

    // First page, alternating in blocks so drift of the machine hits both alike.
    let (mut html_one, mut json_one) = (Samples::default(), Samples::default());
    let block = 50.min(args.requests).max(1);
    while html_one.times.len() < args.requests {
        for _ in 0..block {
            let t = Instant::now();
            let (html, rows) = html_page(&client, &base, &session, &html_path).await;
            html_one.times.push(t.elapsed());
            (html_one.bytes, html_one.rows, html_one.pages) = (html.len(), rows, 1);
        }
        for _ in 0..block {
            let t = Instant::now();
            let (page, bytes) = json_page(&client, &base, &key, &json_path).await;
            json_one.times.push(t.elapsed());
            let rows = page["data"].as_array().unwrap().len();
            (json_one.bytes, json_one.rows, json_one.pages) = (bytes, rows, 1);
        }
    }

    // Every page, one walk of each in turn.
    let (mut html_all, mut json_all) = (Samples::default(), Samples::default());
    for _ in 0..args.walks {
        let t = Instant::now();
        (html_all.bytes, html_all.rows, html_all.pages) =
            html_walk(&client, &base, &session, limit).await;
        html_all.times.push(t.elapsed());
        let t = Instant::now();
        (json_all.bytes, json_all.rows, json_all.pages) =
            json_walk(&client, &base, &key, limit).await;
        json_all.times.push(t.elapsed());
    }
    assert_eq!(
        html_all.rows, args.connections,
        "the UI walk shows every connection"
    );
    assert_eq!(
        json_all.rows, args.connections,
        "the JSON walk lists every connection"
    );

    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "\n### {backend}: {} connections in one workspace, pages of {limit}\n",
        args.connections
    );
    println!("| list | requests | rows | pages | bytes | p50 ms | p95 ms | p99 ms |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (name, s) in [
        (
            format!("HTML `GET /ui/connections?limit={limit}`, first page"),
            &html_one,
        ),
        (
            format!("JSON `GET /v1/connections?limit={limit}`, first page"),
            &json_one,
        ),
        ("HTML, every page by its Next link".to_string(), &html_all),
        ("JSON, every page by `next_cursor`".to_string(), &json_all),
    ] {
        println!(
            "| {name} | {} | {} | {} | {} | {:.2} | {:.2} | {:.2} |",
            s.times.len(),
            s.rows,
            s.pages,
            s.bytes,
            s.pct(0.5),
            s.pct(0.95),
            s.pct(0.99)
        );
    }
    println!(
        "\nHTML / JSON at p50: first page {:.2}, every page {:.2}, first HTML page {:.1} KB",
        html_one.pct(0.5) / json_one.pct(0.5),
        html_all.pct(0.5) / json_all.pct(0.5),
        html_one.bytes as f64 / 1024.0
    );
}
