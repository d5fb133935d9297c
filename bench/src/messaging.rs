//! Inbound messaging throughput: Telegram updates and Slack Events API deliveries posted to a
//! release `patchbay serve` (with its webhook worker), next to plain printing-partner webhooks
//! in the same run. Each kind is measured twice: acceptance (verified, deduplicated, durable:
//! the 2xx) and end to end (until the worker has applied every delivery and emitted its event),
//! counted in the database the server writes. One delivery in ten is a redelivery of the one
//! before it, so deduplication is on the path.

use crate::{database_url, peak_rss_kb, run, start_with, Args, Phase};
use patchbay_core::WebhookScheme;
use serde_json::json;
use std::process::Command;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct MessagingArgs {
    #[command(flatten)]
    pub common: Args,
    /// Unique deliveries per kind (redeliveries come on top).
    #[arg(long, default_value_t = 10_000)]
    pub requests: usize,
}

/// Builds request `i`: its headers and body.
type BuildRequest = Box<dyn Fn(usize) -> (Vec<(String, String)>, Vec<u8>) + Send + Sync>;

/// One kind of inbound delivery: where it goes, how request `i` is built, and which event
/// proves it was processed.
struct Kind {
    name: &'static str,
    url: String,
    event_type: &'static str,
    connection_id: String,
    build: BuildRequest,
}

/// Request number `i` of a kind's sequence: every tenth repeats the one before it.
fn delivery_of(i: usize) -> usize {
    if i % 10 == 9 {
        i - 1
    } else {
        i
    }
}

/// How many requests carry `unique` distinct deliveries, one in ten being a redelivery.
fn requests_for(unique: usize) -> usize {
    (0..).find(|n| (n - n / 10) >= unique).unwrap()
}

async fn count_events(db: &str, event_type: &str, connection_id: &str) -> i64 {
    let sql = "SELECT COUNT(*) FROM events WHERE type = $1 AND connection_id = $2";
    if db.starts_with("sqlite:") {
        let opts: sqlx::sqlite::SqliteConnectOptions = db.parse().unwrap();
        let mut conn = sqlx::ConnectOptions::connect(&opts.read_only(true))
            .await
            .unwrap();
        sqlx::query_scalar(sql)
            .bind(event_type)
            .bind(connection_id)
            .fetch_one(&mut conn)
            .await
            .unwrap()
    } else {
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(db)
            .await
            .unwrap();
        sqlx::query_scalar(sql)
            .bind(event_type)
            .bind(connection_id)
            .fetch_one(&mut conn)
            .await
            .unwrap()
    }
}

pub async fn bench(args: MessagingArgs) {
    let backends: Vec<&str> = match args.common.backend.as_str() {
        "both" => vec!["sqlite", "postgres"],
        one => vec![one],
    };
    let unique = args.requests;
    let total = requests_for(unique);
    let c = args.common.concurrency;
    println!(
        "inbound messaging benchmark: {unique} deliveries per kind ({total} requests with \
         redeliveries), {c} concurrent clients"
    );
    let setup = Partners::start().await;
    for backend in backends {
        let dir = std::env::temp_dir().join(format!(
            "patchbay-bench-msg-{backend}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = database_url(&args.common, backend, &dir, "patchbay_bench_msg");
        let (mut child, base) = start_with(&args.common, &db, &dir, &[], &[]);
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(c)
            .build()
            .unwrap();
        let key = crate::workspace_key(&client, &base, "msg").await;
        let kinds = setup.kinds(&client, &base, &key).await;
        let mut rows: Vec<(Phase, f64)> = Vec::new();
        for kind in kinds {
            let build = std::sync::Arc::new(kind.build);
            let (cl, url) = (client.clone(), kind.url.clone());
            let started = Instant::now();
            let accepted = run(kind.name, total, c, move |i| {
                let (headers, body) = build(delivery_of(i));
                let mut req = cl
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body);
                for (k, v) in headers {
                    req = req.header(k, v);
                }
                req
            })
            .await;
            // End to end: until the worker has emitted an event for every unique delivery.
            let deadline = Instant::now() + Duration::from_secs(600);
            loop {
                let n = count_events(&db, kind.event_type, &kind.connection_id).await;
                if n as usize >= unique {
                    assert_eq!(
                        n as usize, unique,
                        "{}: redeliveries emitted twice",
                        kind.name
                    );
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{}: {n} of {unique} emitted after 10 minutes",
                    kind.name
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let emitted = unique as f64 / started.elapsed().as_secs_f64();
            println!(
                "{backend} {}: accepted {:.0}/s (p50 {:.2} ms, p99 {:.2} ms), emitted {:.0}/s",
                kind.name,
                accepted.rate(),
                accepted.p50_ms,
                accepted.p99_ms,
                emitted
            );
            rows.push((accepted, emitted));
        }
        let (hwm, _) = peak_rss_kb(child.id());
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let _ = child.wait();
        println!("\n### {backend}\n");
        println!(
            "| deliveries | requests | accepted/s | p50 ms | p99 ms | emitted/s (end to end) | \
             emitted, ratio to plain |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|");
        let plain = rows[0].1;
        for (p, emitted) in &rows {
            println!(
                "| {} | {} | {:.0} | {:.2} | {:.2} | {:.0} | {:.2} |",
                p.name,
                p.ops,
                p.rate(),
                p.p50_ms,
                p.p99_ms,
                emitted,
                emitted / plain
            );
        }
        println!("\nserver peak RSS {:.1} MB", hwm as f64 / 1024.0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn plain_kind(base: &str, connection_id: String, secret: &'static str, payload: Vec<u8>) -> Kind {
    let url = format!("{base}/v1/webhooks/printing_partner/{connection_id}");
    Kind {
        name: "plain webhook (printing partner)",
        url,
        event_type: "webhook.received",
        connection_id,
        build: Box::new(move |i| {
            (
                vec![
                    (
                        "X-Patchbay-Integration-Secret".to_string(),
                        secret.to_string(),
                    ),
                    ("X-Patchbay-Delivery-Id".to_string(), format!("d-{i}")),
                ],
                payload.clone(),
            )
        }),
    }
}

fn telegram_kind(base: &str, connection_id: String, secret_token: String) -> Kind {
    let url = format!("{base}/v1/webhooks/telegram/{connection_id}");
    Kind {
        name: "Telegram update (text message)",
        url,
        event_type: "message.received",
        connection_id,
        build: Box::new(move |i| {
            let body = json!({
                "update_id": 100_000 + i,
                "message": {
                    "message_id": i + 1,
                    "from": {"id": 7001, "is_bot": false, "first_name": "Ada", "username": "ada"},
                    "chat": {"id": 7001, "type": "private", "first_name": "Ada", "username": "ada"},
                    "date": 1_796_000_000 + i as i64,
                    "text": format!("hello number {i}")
                }
            });
            (
                vec![(
                    "X-Telegram-Bot-Api-Secret-Token".to_string(),
                    secret_token.clone(),
                )],
                serde_json::to_vec(&body).unwrap(),
            )
        }),
    }
}

// Wired in once the Slack connector routes Events API deliveries.
#[allow(dead_code)]
fn slack_kind(base: &str, connection_id: String, team: String, signing_secret: String) -> Kind {
    let url = format!("{base}/v1/webhooks/slack");
    Kind {
        name: "Slack event (message)",
        url,
        event_type: "message.received",
        connection_id,
        build: Box::new(move |i| {
            let ts = format!("{}.{:06}", 1_796_000_000 + i / 1000, i % 1000);
            let body = serde_json::to_vec(&json!({
                "token": "verification-token",
                "team_id": team,
                "api_app_id": "A0BENCH",
                "type": "event_callback",
                "event_id": format!("Ev{i:010}"),
                "event_time": 1_796_000_000,
                "authorizations": [{"team_id": team, "user_id": "U0BOT", "is_bot": true}],
                "event": {
                    "type": "message",
                    "channel": "C0GENERAL",
                    "channel_type": "channel",
                    "user": "U0ADA",
                    "text": format!("hello number {i}"),
                    "ts": ts,
                    "event_ts": ts
                }
            }))
            .unwrap();
            // Slack signs each attempt anew; the event id is what repeats.
            let now = patchbay_core::now_ms() / 1000;
            let headers = patchbay_connectors::webhooks::sign(
                WebhookScheme::SlackV0,
                &signing_secret,
                &body,
                now,
                "",
            );
            (headers, body)
        }),
    }
}

const CALLBACK_SECRET: &str = "bench-callback-secret-0123456789ab";
const TELEGRAM_SECRET: &str = "bench-telegram-secret-token-0123";

/// The partner APIs the connections are checked against when they are enabled.
struct Partners {
    printing: patchbay_emulators::PrintingEmulator,
    telegram: patchbay_emulators::TelegramEmulator,
}

impl Partners {
    async fn start() -> Partners {
        use patchbay_emulators::{printing_partner, telegram, PrintingConfig, TelegramConfig};
        Partners {
            printing: printing_partner::spawn(PrintingConfig {
                callback_secret: CALLBACK_SECRET.into(),
                ..Default::default()
            })
            .await
            .unwrap(),
            telegram: telegram::spawn(TelegramConfig::default()).await.unwrap(),
        }
    }

    /// One connection per kind on a running server, plain first (the baseline).
    async fn kinds(&self, client: &reqwest::Client, base: &str, key: &str) -> Vec<Kind> {
        let printing = crate::connection_id(
            client,
            base,
            key,
            json!({"connector": "printing_partner", "owner": {"id": "u1"}, "enable": true,
                   "config": {"shop_id": "demo-shop", "api_base_url": self.printing.base_url},
                   "secrets": {"api_key": self.printing.config().api_key,
                               "callback_secret": CALLBACK_SECRET}}),
        )
        .await;
        let payload = self
            .printing
            .order_event("order.updated", &self.printing.order_ids()[0])
            .unwrap()
            .body;
        // The webhook is not set at the emulator (the benchmark posts the updates itself), so
        // the secret Telegram would echo is given here.
        let telegram = crate::connection_id(
            client,
            base,
            key,
            json!({"connector": "telegram", "owner": {"id": "u1"}, "enable": true,
                   "config": {"base_url": self.telegram.base_url, "webhook": false},
                   "secrets": {"bot_token": patchbay_emulators::telegram::DEMO_TOKEN,
                               "webhook_secret": TELEGRAM_SECRET}}),
        )
        .await;
        vec![
            plain_kind(base, printing, CALLBACK_SECRET, payload),
            telegram_kind(base, telegram, TELEGRAM_SECRET.to_string()),
        ]
    }
}
