//! Google Calendar: available slots and the first sync, against the Calendar emulator in this
//! process.
//!
//! Slots: two calendars of 2,000 events each (a tenth of them recurring series) over a 4-week
//! horizon. Timed are the slot finder alone (recurrence expansion and search over events already
//! fetched), the `available_slots` action of one connection, the shared slots of two people's
//! connections, and, as the baseline, the `free_busy` action over the same calendar and window
//! (Google's own busy computation, one round trip).
//!
//! Sync: a first full sync of N events (default 50,000) next to a plain batched insert of the
//! same event records.

use crate::sync::{bench_engine, fresh_store};
use patchbay_connectors::gcal::{expand, slots};
use patchbay_core::{Secret, SyncMode};
use patchbay_emulators::gcal::{self, GcalConfig};
use patchbay_engine::connections::{CreateConnection, OwnerInput};
use patchbay_engine::Caller;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct GcalArgs {
    /// sqlite, postgres or both.
    #[arg(long, default_value = "sqlite")]
    backend: String,
    /// Events of the first-sync calendar.
    #[arg(long, default_value_t = 50_000)]
    events: usize,
    /// Events of each of the two slot calendars.
    #[arg(long, default_value_t = 2_000)]
    slot_events: usize,
    /// Timed rounds of each slot measurement.
    #[arg(long, default_value_t = 200)]
    rounds: usize,
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    postgres: String,
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn row(label: &str, mut times: Vec<Duration>, base: Option<f64>) -> f64 {
    times.sort();
    let p50 = pct(&times, 0.5);
    let ratio = base.map_or(String::new(), |b| format!("{:.2}", p50 / b));
    println!(
        "| {label} | {} | {p50:.2} | {:.2} | {ratio} |",
        times.len(),
        pct(&times, 0.99)
    );
    p50
}

async fn calendar(events: usize, email: &str) -> gcal::GcalEmulator {
    gcal::spawn(GcalConfig {
        email: email.into(),
        generated: events,
        ..Default::default()
    })
    .await
    .expect("calendar emulator")
}

/// Every event overlapping [from, to) as series and exceptions, straight from the emulator.
async fn fetch(em: &gcal::GcalEmulator, from: &str, to: &str) -> Vec<Value> {
    let token = em.config().tokens[0].clone();
    let client = reqwest::Client::new();
    let mut out = Vec::new();
    let mut page: Option<String> = None;
    loop {
        let mut q = vec![
            ("timeMin", from.to_string()),
            ("timeMax", to.to_string()),
            ("singleEvents", "false".into()),
            ("showDeleted", "true".into()),
            ("maxResults", "2500".into()),
        ];
        if let Some(p) = &page {
            q.push(("pageToken", p.clone()));
        }
        let v: Value = client
            .get(format!(
                "{}/calendar/v3/calendars/primary/events",
                em.base_url
            ))
            .bearer_auth(&token)
            .query(&q)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        out.extend(v["items"].as_array().into_iter().flatten().cloned());
        match v["nextPageToken"].as_str() {
            Some(p) => page = Some(p.to_string()),
            None => return out,
        }
    }
}

pub async fn run(args: GcalArgs) {
    let backends: Vec<&str> = match args.backend.as_str() {
        "both" => vec!["sqlite", "postgres"],
        one => vec![one],
    };
    println!(
        "patchbay Google Calendar benchmark: slots over 2 calendars of {} events, first sync of {} events; emulators in this process",
        args.slot_events, args.events
    );
    let ada = calendar(args.slot_events, "ada@example.com").await;
    let grace = calendar(args.slot_events, "grace@example.com").await;
    let big = calendar(args.events, "big@example.com").await;
    let slot_input = json!({"duration_minutes": 30, "time_zone": "Europe/Berlin",
        "horizon_days": 28, "buffer_before_minutes": 5, "buffer_after_minutes": 5,
        "max_slots": 1000});

    // The slot finder alone, over both calendars' events.
    let req = slots::SlotRequest::from_json(&slot_input, chrono::Utc::now()).unwrap();
    let (from, to) = req.busy_window();
    let tz: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
    let mut both = fetch(&ada, &from.to_rfc3339(), &to.to_rfc3339()).await;
    let theirs = fetch(&grace, &from.to_rfc3339(), &to.to_rfc3339()).await;
    let series = both
        .iter()
        .chain(&theirs)
        .filter(|e| e["recurrence"].is_array())
        .count();
    let fetched = both.len() + theirs.len();
    let mut compute = Vec::with_capacity(args.rounds);
    let mut found = 0;
    for _ in 0..args.rounds {
        let t = Instant::now();
        let mut busy = expand::busy_blocks(&both, from, to, Some("ada@example.com"), tz);
        busy.extend(expand::busy_blocks(
            &theirs,
            from,
            to,
            Some("grace@example.com"),
            tz,
        ));
        found = slots::available_slots(&busy, &req).len();
        compute.push(t.elapsed());
    }
    // The same search handed every stored event (4,000, not only those near the window): the
    // expansion must skip what lies elsewhere.
    let far = (
        (from - chrono::Duration::days(400)).to_rfc3339(),
        (to + chrono::Duration::days(400)).to_rfc3339(),
    );
    let all_a = fetch(&ada, &far.0, &far.1).await;
    let all_b = fetch(&grace, &far.0, &far.1).await;
    let stored = all_a.len() + all_b.len();
    let stored_series = all_a
        .iter()
        .chain(&all_b)
        .filter(|e| e["recurrence"].is_array())
        .count();
    let mut compute_all = Vec::with_capacity(args.rounds);
    for _ in 0..args.rounds {
        let t = Instant::now();
        let mut busy = expand::busy_blocks(&all_a, from, to, Some("ada@example.com"), tz);
        busy.extend(expand::busy_blocks(
            &all_b,
            from,
            to,
            Some("grace@example.com"),
            tz,
        ));
        let n = slots::available_slots(&busy, &req).len();
        assert_eq!(n, found, "the same slots from every stored event");
        compute_all.push(t.elapsed());
    }
    both.clear();

    for backend in backends {
        let dir = std::env::temp_dir().join(format!(
            "patchbay-bench-gcal-{backend}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = fresh_store(&args.postgres, backend, &dir, "patchbay_bench_gcal").await;
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
        let connect = |owner: &str, em: &gcal::GcalEmulator| CreateConnection {
            connector: "google-calendar".into(),
            owner: OwnerInput {
                id: owner.into(),
                scope: json!({"type": "platform"}),
            },
            name: None,
            config: json!({"base_url": em.base_url, "past_days": 200, "future_days": 200}),
            secrets: [(
                "access_token".to_string(),
                Secret::new(em.config().tokens[0].clone()),
            )]
            .into(),
            enable: true,
            allowed_actions: None,
            sync_frequency: None,
        };
        let mut ids = Vec::new();
        for (owner, em) in [("ada", &ada), ("grace", &grace), ("big", &big)] {
            let created = engine
                .connections()
                .create_connection(&caller, connect(owner, em))
                .await
                .unwrap();
            ids.push(created.connection.id.clone());
        }

        let actions = engine.actions();
        let timed = |input: Value, action: &'static str, id: String| {
            let caller = caller.clone();
            let actions = actions.clone();
            async move {
                let mut times = Vec::with_capacity(args.rounds);
                for _ in 0..args.rounds {
                    let t = Instant::now();
                    actions
                        .run_action(&caller, &id, action, input.clone())
                        .await
                        .unwrap();
                    times.push(t.elapsed());
                }
                times
            }
        };
        let window = json!({"time_min": from.to_rfc3339(), "time_max": to.to_rfc3339()});
        let baseline = timed(window, "free_busy", ids[0].clone()).await;
        let one = timed(slot_input.clone(), "available_slots", ids[0].clone()).await;
        let mut shared_input = slot_input.clone();
        shared_input["connection_ids"] = json!([ids[0], ids[1]]);
        let mut shared = Vec::with_capacity(args.rounds);
        for _ in 0..args.rounds {
            let t = Instant::now();
            actions
                .shared_slots(&caller, shared_input.clone())
                .await
                .unwrap();
            shared.push(t.elapsed());
        }

        // First sync of the big calendar, then the same records as plain batches.
        let t = Instant::now();
        let run = engine
            .syncs()
            .run_sync_in_foreground(&ids[2], SyncMode::Full, |_| {})
            .await
            .unwrap();
        let sync_time = t.elapsed();
        assert_eq!(run.status, "completed", "{run:?}");
        let rows = crate::sync::stored_rows(&store, &ids[2], "events").await;
        let t = Instant::now();
        for chunk in rows.chunks(250) {
            store
                .insert_records_plain("ws_baseline", "conn_baseline", "events", chunk)
                .await
                .unwrap();
        }
        let insert_time = t.elapsed();

        println!("\n### {backend}\n");
        println!(
            "| available slots, 4 weeks | rounds | p50 ms | p99 ms | p50 ratio to free/busy |"
        );
        println!("|---|---:|---:|---:|---:|");
        let base = row("free_busy action (baseline)", baseline, None);
        row(
            &format!("slot finder alone ({fetched} events, {series} series, {found} slots)"),
            compute.clone(),
            Some(base),
        );
        row(
            &format!("slot finder alone, every stored event ({stored}, {stored_series} series)"),
            compute_all.clone(),
            Some(base),
        );
        row("available_slots action, one calendar", one, Some(base));
        row("shared slots of two connections", shared, Some(base));
        let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64();
        println!("\n| first sync | events | seconds | events/s | ratio |");
        println!("|---|---:|---:|---:|---:|");
        println!(
            "| plain batched insert of the event records | {} | {:.2} | {:.0} | 1.00 |",
            rows.len(),
            insert_time.as_secs_f64(),
            rate(rows.len(), insert_time)
        );
        println!(
            "| first full sync | {} | {:.2} | {:.0} | {:.2} |",
            run.added,
            sync_time.as_secs_f64(),
            rate(run.added as usize, sync_time),
            rate(run.added as usize, sync_time) / rate(rows.len(), insert_time)
        );
        store.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
