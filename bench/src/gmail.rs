//! Gmail sync throughput: the engine syncs N generated messages of realistic sizes (about 5%
//! with attachments, 2% with invites) from the Gmail emulator in this process, with the mail
//! context (people, invites, action items) on and off, next to a plain batched insert of the
//! same message records, all in one run; then an incremental history sync of 1% changes. A
//! run syncs every entity (messages, threads, labels, drafts); rates are per message.

use crate::sync::{bench_engine, fresh_store};
use patchbay_core::{Secret, SyncMode};
use patchbay_emulators::gmail::{self, GmailConfig, Mail};
use patchbay_engine::connections::{CreateConnection, OwnerInput};
use patchbay_engine::Caller;
use serde_json::json;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct GmailArgs {
    /// sqlite, postgres or both.
    #[arg(long, default_value = "sqlite")]
    backend: String,
    #[arg(long, default_value_t = 100_000)]
    messages: usize,
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    postgres: String,
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

pub async fn run(args: GmailArgs) {
    let backends: Vec<&str> = match args.backend.as_str() {
        "both" => vec!["sqlite", "postgres"],
        one => vec![one],
    };
    println!(
        "patchbay Gmail benchmark: {} generated messages, {} fetched at once; emulator in this process",
        args.messages, args.concurrency
    );
    let em = gmail::spawn(GmailConfig {
        generated: args.messages,
        ..Default::default()
    })
    .await
    .expect("emulator");
    let token = em.config().tokens[0].clone();
    for backend in backends {
        let dir = std::env::temp_dir().join(format!(
            "patchbay-bench-gmail-{backend}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = fresh_store(&args.postgres, backend, &dir, "patchbay_bench_gmail").await;
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
        let connect = |owner: &str, context: bool| CreateConnection {
            connector: "google-mail".into(),
            owner: OwnerInput {
                id: owner.into(),
                scope: json!({"type": "platform"}),
            },
            name: None,
            config: json!({"base_url": em.base_url, "mail_context": context, "fetch_concurrency": args.concurrency}),
            secrets: [("access_token".to_string(), Secret::new(token.clone()))].into(),
            enable: true,
            allowed_actions: None,
            sync_frequency: None,
        };
        let mut timings = Vec::new();
        let mut with_context = String::new();
        for (owner, context) in [("off", false), ("on", true)] {
            let created = engine
                .connections()
                .create_connection(&caller, connect(owner, context))
                .await
                .unwrap();
            let id = created.connection.id.clone();
            let t = Instant::now();
            let run = engine
                .syncs()
                .run_sync_in_foreground(&id, SyncMode::Full, |_| {})
                .await
                .unwrap();
            let took = t.elapsed();
            assert_eq!(run.status, "completed", "{run:?}");
            timings.push((context, args.messages, took));
            if context {
                with_context = id;
            }
        }
        // Baseline: the stored message records of the context run, inserted as plain batches.
        let rows = crate::sync::stored_rows(&store, &with_context, "messages").await;
        let t = Instant::now();
        for chunk in rows.chunks(100) {
            store
                .insert_records_plain("ws_baseline", "conn_baseline", "messages", chunk)
                .await
                .unwrap();
        }
        let insert_time = t.elapsed();
        let counts = |entity: &str| {
            let store = store.clone();
            let id = with_context.clone();
            let entity = entity.to_string();
            async move {
                store
                    .list_records(&patchbay_store::RecordQuery {
                        connection_id: id,
                        entity,
                        after: None,
                        modified_after: None,
                        include_deleted: false,
                        limit: 100_000,
                    })
                    .await
                    .unwrap()
                    .len()
            }
        };
        let (people, invites, items) = (
            counts("people").await,
            counts("invites").await,
            counts("action_items").await,
        );
        // 1% changes: new mail, through the history.
        let changes = (args.messages / 100).max(1);
        for i in 0..changes {
            em.deliver(
                Mail::new("news@example.org", &format!("Change {i}"))
                    .to("ada@example.com")
                    .text("Could you review the draft by Friday?"),
            );
        }
        let t = Instant::now();
        let inc = engine
            .syncs()
            .run_sync_in_foreground(&with_context, SyncMode::Incremental, |_| {})
            .await
            .unwrap();
        let inc_time = t.elapsed();
        assert!(inc.added as usize >= changes, "{inc:?}");

        println!("\n### {backend}\n");
        println!("| what | messages | seconds | messages/s | ratio |");
        println!("|---|---:|---:|---:|---:|");
        let base = rate(rows.len(), insert_time);
        println!(
            "| plain batched insert of the message records | {} | {:.2} | {:.0} | |",
            rows.len(),
            insert_time.as_secs_f64(),
            base
        );
        let off = timings[0];
        let on = timings[1];
        println!(
            "| first full sync, mail context off | {} | {:.2} | {:.0} | 1.00 |",
            off.1,
            off.2.as_secs_f64(),
            rate(off.1, off.2)
        );
        println!(
            "| first full sync, mail context on | {} | {:.2} | {:.0} | {:.2} of off |",
            on.1,
            on.2.as_secs_f64(),
            rate(on.1, on.2),
            rate(on.1, on.2) / rate(off.1, off.2)
        );
        println!(
            "| incremental history sync, 1% new | {} | {:.2} | {:.0} | |",
            changes,
            inc_time.as_secs_f64(),
            rate(changes, inc_time)
        );
        println!("\nderived: {people} people, {invites} invites, {items} action items; sync with context off is {:.3} of the plain insert rate", rate(off.1, off.2) / base);
        store.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
