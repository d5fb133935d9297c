//! The Slack connector against the Slack emulator: Events API payloads into records and
//! events, checkpoints across runs, action input schemas, and config checks.

use crate::support::{ctx, has, http, input_errors, secrets, sync_all, validate};
use patchbay_connectors::providers::Catalog;
use patchbay_connectors::slack::{self, Slack};
use patchbay_core::{Connector, ConnectorContext, ConnectorError, WebhookRequest};
use patchbay_emulators::slack::{spawn, SlackConfig, ALL_SCOPES, BOT_USER};
use patchbay_emulators::SlackEmulator;
use serde_json::{json, Value};

const TOKEN: &str = "xoxb-connector-test-token";

async fn setup() -> (SlackEmulator, Slack, ConnectorContext) {
    let emu = spawn(SlackConfig::default()).await.unwrap();
    emu.add_token(TOKEN, BOT_USER, ALL_SCOPES);
    let c = Slack::new(
        http(),
        Catalog::load(None).unwrap().get(slack::KEY).cloned(),
    );
    let ctx = ctx(
        json!({"base_url": emu.api_url()}),
        secrets(&[("access_token", TOKEN)]),
    );
    (emu, c, ctx)
}

fn delivery(emu: &SlackEmulator, event: Value) -> WebhookRequest {
    WebhookRequest {
        headers: Default::default(),
        body: serde_json::to_vec(&emu.envelope(event)).unwrap(),
    }
}

#[tokio::test]
async fn events_become_records_and_events() {
    let (emu, c, ctx) = setup().await;
    let msg = json!({"type": "message", "channel": "C0GENERAL", "channel_type": "channel",
                     "user": "U0ADA", "text": "hello", "ts": "1700000000.000100"});
    let out = c.handle_webhook(&ctx, &delivery(&emu, msg)).await.unwrap();
    assert_eq!(out.upserts[0].id, "C0GENERAL:1700000000.000100");
    assert_eq!(out.upserts[0].data["channel"], "C0GENERAL");
    assert!(out.upserts[0].data.get("channel_type").is_none());
    assert_eq!(out.events[0].event_type, "message.received");
    assert_eq!(out.events[0].payload["text"], "hello");
    assert!(out.delivery_id.unwrap().starts_with("Ev"));
    // The app's own messages are records, not news.
    let own = json!({"type": "message", "channel": "C0GENERAL", "user": BOT_USER,
                     "bot_id": "B0PATCHBAY", "text": "mine", "ts": "1700000000.000200"});
    let out = c.handle_webhook(&ctx, &delivery(&emu, own)).await.unwrap();
    assert_eq!((out.upserts.len(), out.events.len()), (1, 0));
    let join = json!({"type": "message", "subtype": "channel_join", "channel": "C0GENERAL",
                      "user": "U0LINUS", "text": "<@U0LINUS> has joined the channel",
                      "ts": "1700000000.000250"});
    let out = c.handle_webhook(&ctx, &delivery(&emu, join)).await.unwrap();
    assert_eq!((out.upserts.len(), out.events.len()), (1, 0));
    let edited = json!({"type": "message", "subtype": "message_changed", "channel": "C0GENERAL",
        "message": {"type": "message", "user": "U0ADA", "text": "hello!", "ts": "1700000000.000100"}});
    let out = c
        .handle_webhook(&ctx, &delivery(&emu, edited))
        .await
        .unwrap();
    assert_eq!(out.upserts[0].data["text"], "hello!");
    assert_eq!(out.events[0].event_type, "message.edited");
    let deleted = json!({"type": "message", "subtype": "message_deleted", "channel": "C0GENERAL",
                         "deleted_ts": "1700000000.000100"});
    let out = c
        .handle_webhook(&ctx, &delivery(&emu, deleted))
        .await
        .unwrap();
    assert_eq!(
        out.deletions,
        [(
            "messages".to_string(),
            "C0GENERAL:1700000000.000100".to_string()
        )]
    );
    let mention = json!({"type": "app_mention", "channel": "C0GENERAL", "user": "U0ADA",
                         "text": "<@U0BOT> hi", "ts": "1700000000.000300"});
    let out = c
        .handle_webhook(&ctx, &delivery(&emu, mention))
        .await
        .unwrap();
    assert_eq!(out.events[0].event_type, "message.mentioned");
    // A rename re-reads the channel, so the record stays whole.
    let rename = json!({"type": "channel_rename",
                        "channel": {"id": "C0RANDOM", "name": "random", "created": 1}});
    let out = c
        .handle_webhook(&ctx, &delivery(&emu, rename))
        .await
        .unwrap();
    assert_eq!(out.upserts[0].entity, "channels");
    assert_eq!(
        out.upserts[0].data["purpose"]["value"],
        "The #random channel"
    );
    assert_eq!(out.events[0].event_type, "channel.renamed");
    let gone = json!({"type": "channel_deleted", "channel": "C0RANDOM"});
    let out = c.handle_webhook(&ctx, &delivery(&emu, gone)).await.unwrap();
    assert_eq!(
        out.deletions,
        [("channels".to_string(), "C0RANDOM".to_string())]
    );
    // Unknown event types are stored and ignored; a body that is not JSON is refused.
    let other = json!({"type": "emoji_changed", "subtype": "add"});
    let out = c
        .handle_webhook(&ctx, &delivery(&emu, other))
        .await
        .unwrap();
    assert!(out.upserts.is_empty() && out.events.is_empty());
    let bad = WebhookRequest {
        headers: Default::default(),
        body: b"payload=x".to_vec(),
    };
    assert!(matches!(
        c.handle_webhook(&ctx, &bad).await,
        Err(ConnectorError::BadPayload(_))
    ));
}

#[tokio::test]
async fn a_checkpoint_carries_marks_to_the_next_run() {
    let (emu, c, ctx) = setup().await;
    let first = sync_all(&c, &ctx, "messages", None).await;
    assert_eq!(
        first.records.len(),
        6,
        "3 seeded, a thread parent and its reply, #random"
    );
    let checkpoint = first.checkpoint.clone().unwrap();
    let again = sync_all(&c, &ctx, "messages", Some(checkpoint.clone())).await;
    assert!(again.records.is_empty(), "{:?}", again.ids());
    emu.say("C0RANDOM", "U0ADA", "news", None).await;
    let next = sync_all(&c, &ctx, "messages", Some(checkpoint)).await;
    assert_eq!(next.records.len(), 1);
    assert!(next.checkpoint.unwrap() > again.checkpoint.unwrap());
    // A cursor this connector did not make is refused clearly.
    let err = c
        .sync(
            &ctx,
            patchbay_core::SyncRequest {
                entity: "messages".into(),
                mode: patchbay_core::SyncMode::Full,
                page_cursor: Some("not json".into()),
                since: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Config(_)), "{err}");
}

#[tokio::test]
async fn inputs_and_config_are_checked() {
    let (_emu, c, _) = setup().await;
    let errors = input_errors(&c, "send_message", &json!({"channel": "C0GENERAL"}));
    assert!(!errors.is_empty(), "text or blocks");
    assert!(input_errors(
        &c,
        "send_message",
        &json!({"channel": "general", "text": "x"})
    )
    .iter()
    .any(|e| e.field == "input.channel"));
    assert!(input_errors(
        &c,
        "add_reaction",
        &json!({"channel": "C1", "timestamp": "1.2", "name": ":x:"})
    )
    .iter()
    .any(|e| e.field.starts_with("input.")));
    assert!(input_errors(
        &c,
        "send_direct_message",
        &json!({"user": "U0ADA", "text": "hi"})
    )
    .is_empty());
    let s = secrets(&[("access_token", TOKEN)]);
    assert!(has(
        &validate(&c, json!({"base_url": "http://slack.example/api"}), &s),
        "config.base_url",
        "insecure_url"
    ));
    assert!(!validate(&c, json!({"channel_types": ["voice"]}), &s).is_empty());
    assert!(validate(&c, json!({"channel_types": ["im", "public_channel"]}), &s).is_empty());
}
