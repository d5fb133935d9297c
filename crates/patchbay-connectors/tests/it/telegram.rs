//! The Telegram connector against the Bot API emulator: setup, webhook lifecycle, actions,
//! updates into records, events and attachments, rate limits and token redaction.

use crate::support::{ctx, http, secrets};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use patchbay_connectors::providers::Catalog;
use patchbay_connectors::telegram::{self, Telegram};
use patchbay_core::{Connector, ConnectorContext, ConnectorError, WebhookRequest};
use patchbay_emulators::telegram::{spawn, TelegramConfig, DEMO_TOKEN};
use patchbay_emulators::TelegramEmulator;
use serde_json::{json, Value};

const SECRET: &str = "wh_secret-0123456789abcdef";

async fn setup() -> (TelegramEmulator, Telegram, ConnectorContext) {
    let emu = spawn(TelegramConfig::default()).await.unwrap();
    let c = Telegram::new(
        http(),
        Catalog::load(None).unwrap().get(telegram::KEY).cloned(),
    );
    let cx = connection(&emu, DEMO_TOKEN);
    (emu, c, cx)
}

fn connection(emu: &TelegramEmulator, token: &str) -> ConnectorContext {
    ctx(
        json!({"base_url": emu.base_url}),
        secrets(&[("bot_token", token), ("webhook_secret", SECRET)]),
    )
}

fn update(body: Value) -> WebhookRequest {
    WebhookRequest {
        headers: Default::default(),
        body: body.to_string().into_bytes(),
    }
}

#[tokio::test]
async fn test_connection_names_the_bot_and_refuses_unknown_tokens() {
    let (emu, c, cx) = setup().await;
    let ok = c.test_connection(&cx).await.unwrap();
    assert_eq!(ok.account.as_deref(), Some("7000000001"));
    assert!(ok.message.contains("@patchbay_demo_bot"), "{}", ok.message);
    let bad_token = "7000000001:AAH-wrong-secret-part";
    let err = c
        .test_connection(&connection(&emu, bad_token))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Unauthorized { status: 401, .. }),
        "{err}"
    );
    assert!(!err.to_string().contains(bad_token));
}

#[tokio::test]
async fn errors_never_carry_the_token() {
    let (_emu, c, _) = setup().await;
    // Nothing listens there: reqwest's error names the URL, with the token in its path.
    let cx = ctx(
        json!({"base_url": "http://127.0.0.1:9"}),
        secrets(&[("bot_token", DEMO_TOKEN)]),
    );
    let err = c.test_connection(&cx).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Network(_)), "{err}");
    let text = format!("{err} {err:?}");
    assert!(
        !text.contains(DEMO_TOKEN) && !text.contains("AAH-patchbay"),
        "{text}"
    );
}

#[tokio::test]
async fn watch_sets_the_webhook_and_commands_and_unwatch_removes_it() {
    let (emu, c, cx) = setup().await;
    assert!(c.wants_watch(&json!({})));
    assert!(!c.wants_watch(&json!({"webhook": false})));
    let url = "http://127.0.0.1:1/v1/webhooks/telegram/conn_test";
    let watch = c.watch(&cx, url, None).await.unwrap();
    let hook = emu.webhook(DEMO_TOKEN).unwrap();
    assert_eq!(hook.url, url);
    assert_eq!(hook.secret_token.as_deref(), Some(SECRET));
    assert_eq!(
        hook.allowed_updates.unwrap(),
        vec!["message", "edited_message", "callback_query"]
    );
    let commands: Vec<String> = emu
        .commands(DEMO_TOKEN)
        .iter()
        .map(|c| c["command"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        commands,
        ["start", "help", "status", "stop", "clear", "refresh", "sessions"]
    );
    assert_eq!(watch.state["username"], "patchbay_demo_bot");
    c.unwatch(&cx, &watch).await.unwrap();
    assert!(emu.webhook(DEMO_TOKEN).is_none());
    assert!(emu.calls(DEMO_TOKEN).contains(&"deletewebhook".to_string()));
}

#[tokio::test]
async fn configured_commands_and_update_types_are_registered() {
    let (emu, c, mut cx) = setup().await;
    cx.config = json!({"base_url": emu.base_url, "allowed_updates": ["message"],
        "commands": [{"command": "deploy", "description": "Ship it"}]});
    c.watch(&cx, "http://127.0.0.1:1/hook", None).await.unwrap();
    assert_eq!(
        emu.commands(DEMO_TOKEN),
        vec![json!({"command": "deploy", "description": "Ship it"})]
    );
    assert_eq!(
        emu.webhook(DEMO_TOKEN).unwrap().allowed_updates.unwrap(),
        vec!["message"]
    );
}

#[tokio::test]
async fn send_message_converts_splits_and_attaches_the_keyboard_to_the_last_part() {
    let (emu, c, cx) = setup().await;
    let long = vec!["**Bold** paragraph with `a<b` and & more. ".repeat(40); 6].join("\n\n");
    let keyboard = json!({"inline_keyboard": [[{"text": "OK", "callback_data": "ok"}]]});
    let out = c
        .run_action(
            &cx,
            "send_message",
            json!({"chat_id": 1001, "text": long, "reply_markup": keyboard}),
        )
        .await
        .unwrap();
    let parts = out["parts"].as_u64().unwrap();
    assert!(parts >= 2, "{out}");
    let sent = emu.sent(DEMO_TOKEN);
    assert_eq!(sent.len() as u64, parts);
    assert!(sent
        .iter()
        .all(|m| m["text"].as_str().unwrap().encode_utf16().count() <= 4096));
    assert!(sent[0]["entities"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "bold"));
    assert!(sent[0].get("reply_markup").is_none());
    assert_eq!(sent.last().unwrap()["reply_markup"], keyboard);
    assert!(sent[0]["text"].as_str().unwrap().contains("a<b and & more"));
}

#[tokio::test]
async fn html_telegram_refuses_is_a_provider_error() {
    let (_emu, c, cx) = setup().await;
    let err = c
        .run_action(
            &cx,
            "send_message",
            json!({"chat_id": 1001, "text": "<script>x</script>", "format": "html"}),
        )
        .await
        .unwrap_err();
    match err {
        ConnectorError::Provider {
            status: 400,
            message,
        } => {
            assert!(message.contains("can't parse entities"), "{message}")
        }
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn photos_documents_edits_and_callback_answers() {
    let (emu, c, cx) = setup().await;
    let png = b"\x89PNG\r\n\x1a\nnot really a picture".to_vec();
    let photo = c
        .run_action(
            &cx,
            "send_photo",
            json!({"chat_id": 1001, "photo_base64": STANDARD.encode(&png),
            "caption": "**look**", "filename": "p.png"}),
        )
        .await
        .unwrap();
    let file_id = photo["file_id"].as_str().unwrap();
    assert_eq!(emu.file_bytes(DEMO_TOKEN, file_id).unwrap(), png);
    let sent = emu.sent(DEMO_TOKEN);
    assert_eq!(sent[0]["caption"], "look");
    // The same file again, by id.
    c.run_action(
        &cx,
        "send_photo",
        json!({"chat_id": 1001, "file_id": file_id}),
    )
    .await
    .unwrap();
    let doc = c
        .run_action(
            &cx,
            "send_document",
            json!({"chat_id": 1001, "document_base64": STANDARD.encode(b"a,b\n1,2\n"),
            "filename": "t.csv", "content_type": "text/csv"}),
        )
        .await
        .unwrap();
    assert_eq!(
        emu.file_bytes(DEMO_TOKEN, doc["file_id"].as_str().unwrap())
            .unwrap(),
        b"a,b\n1,2\n"
    );
    let both = c
        .run_action(
            &cx,
            "send_photo",
            json!({"chat_id": 1001, "file_id": file_id, "photo_base64": "AAAA"}),
        )
        .await
        .unwrap_err();
    assert!(matches!(both, ConnectorError::InvalidInput(_)), "{both}");

    let msg = c
        .run_action(&cx, "send_message", json!({"chat_id": 1001, "text": "v1"}))
        .await
        .unwrap();
    let id = msg["message_ids"][0].clone();
    c.run_action(
        &cx,
        "edit_message",
        json!({"chat_id": 1001, "message_id": id, "text": "_v2_"}),
    )
    .await
    .unwrap();
    let edited = emu
        .sent(DEMO_TOKEN)
        .into_iter()
        .find(|m| m["message_id"] == id)
        .unwrap();
    assert_eq!(edited["text"], "v2");
    assert_eq!(edited["entities"][0]["type"], "italic");

    let err = c
        .run_action(
            &cx,
            "answer_callback_query",
            json!({"callback_query_id": "nope"}),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Provider { status: 400, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn a_429_holds_the_bot_until_retry_after() {
    let (emu, c, cx) = setup().await;
    emu.flood_next(1, 30);
    let err = c
        .run_action(&cx, "send_message", json!({"chat_id": 1001, "text": "hi"}))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConnectorError::RateLimited {
                retry_after_secs: Some(30)
            }
        ),
        "{err}"
    );
    let before = emu.request_count();
    // Another connection of the same bot is held too, without a call.
    let again = c
        .test_connection(&connection(&emu, DEMO_TOKEN))
        .await
        .unwrap_err();
    assert!(
        matches!(again, ConnectorError::RateLimited { retry_after_secs: Some(s) } if (29..=30).contains(&s)),
        "{again}"
    );
    assert_eq!(emu.request_count(), before);
}

#[tokio::test]
async fn updates_become_records_events_and_attachments() {
    let (emu, c, cx) = setup().await;
    let text = c
        .handle_webhook(&cx, &update(json!({"update_id": 10, "message": {"message_id": 5,
            "from": {"id": 1001, "is_bot": false, "first_name": "Ada"}, "chat": {"id": 1001, "type": "private"},
            "date": 1700000000, "text": "/Status@patchbay_demo_bot now please",
            "entities": [{"type": "bot_command", "offset": 0, "length": 25}]}})))
        .await
        .unwrap();
    assert_eq!(text.delivery_id.as_deref(), Some("10"));
    assert_eq!(text.upserts[0].entity, "messages");
    assert_eq!(text.upserts[0].id, "1001:5");
    assert_eq!(text.upserts[0].data["command"]["name"], "status");
    assert_eq!(text.events[0].event_type, "command.received");
    assert_eq!(text.events[0].payload["args"], "now please");

    let other_bot = c
        .handle_webhook(
            &cx,
            &update(json!({"update_id": 11, "message": {"message_id": 6,
            "chat": {"id": -5, "type": "group"}, "date": 1, "text": "/status@other_bot",
            "entities": [{"type": "bot_command", "offset": 0, "length": 17}]}})),
        )
        .await
        .unwrap();
    assert_eq!(other_bot.events[0].event_type, "message.received");

    // A photo the emulator holds, in three sizes: the largest is fetched.
    let bytes = vec![7u8; 3000];
    let sent = c
        .run_action(
            &cx,
            "send_photo",
            json!({"chat_id": 1001, "photo_base64": STANDARD.encode(&bytes)}),
        )
        .await
        .unwrap();
    let photo_msg = emu.sent(DEMO_TOKEN).pop().unwrap();
    let photo = c
        .handle_webhook(
            &cx,
            &update(json!({"update_id": 12, "message": {"message_id": 7,
            "chat": {"id": 1001, "type": "private"}, "date": 1, "caption": "look",
            "photo": photo_msg["photo"]}})),
        )
        .await
        .unwrap();
    assert_eq!(photo.attachments.len(), 1);
    assert_eq!(photo.attachments[0].data, bytes);
    assert_eq!(
        photo.attachments[0].id,
        sent["file_unique_id"].as_str().unwrap()
    );
    let meta = &photo.upserts[0].data["attachments"][0];
    assert_eq!(meta["stored"], true);
    assert_eq!(
        meta["url"],
        format!(
            "/v1/connections/conn_test/attachments/{}",
            photo.attachments[0].id
        )
    );
    assert_eq!(photo.events[0].payload["kind"], "photo");
    assert!(
        photo.events[0].payload.to_string().len() < 2000,
        "no bytes in events"
    );

    // Over the limit: described, not fetched.
    let mut small = cx;
    small.config["max_attachment_bytes"] = json!(100);
    let big = c
        .handle_webhook(
            &small,
            &update(json!({"update_id": 13, "message": {"message_id": 8,
            "chat": {"id": 1001, "type": "private"}, "date": 1, "photo": photo_msg["photo"]}})),
        )
        .await
        .unwrap();
    assert_eq!(big.attachments.len(), 0);
    assert_eq!(big.upserts[0].data["attachments"][0]["stored"], false);

    let edited = c
        .handle_webhook(
            &small,
            &update(json!({"update_id": 14, "edited_message": {"message_id": 5,
            "chat": {"id": 1001, "type": "private"}, "date": 1, "edit_date": 2, "text": "fixed"}})),
        )
        .await
        .unwrap();
    assert_eq!(edited.upserts[0].id, "1001:5");
    assert_eq!(edited.upserts[0].data["edited"], true);
    assert_eq!(edited.events[0].event_type, "message.edited");

    let press = c
        .handle_webhook(
            &small,
            &update(json!({"update_id": 15, "callback_query": {"id": "cb1",
            "from": {"id": 1001}, "chat_instance": "x", "data": "ok",
            "message": {"message_id": 9, "chat": {"id": 1001}}}})),
        )
        .await
        .unwrap();
    assert_eq!(press.events[0].event_type, "callback_query.received");
    assert_eq!(press.events[0].payload["data"], "ok");

    let bad = c
        .handle_webhook(&small, &update(json!({"message": {}})))
        .await
        .unwrap_err();
    assert!(matches!(bad, ConnectorError::BadPayload(_)), "{bad}");
}

#[test]
fn commands_are_read_by_utf16_offsets() {
    let entities = json!([{"type": "bot_command", "offset": 0, "length": 5}]);
    let c = telegram::command_of("/help 😀 me", Some(&entities)).unwrap();
    assert_eq!(
        (c.name.as_str(), c.args.as_str(), c.bot),
        ("help", "😀 me", None)
    );
    assert!(telegram::command_of(
        "hi /help",
        Some(&json!([{"type": "bot_command", "offset": 3, "length": 5}]))
    )
    .is_none());
}

#[test]
fn token_shapes() {
    assert!(telegram::token_shape_ok("123:AA-b_c"));
    for bad in ["", "123", ":abc", "12a:abc", "123:a/b", "123:a b"] {
        assert!(!telegram::token_shape_ok(bad), "{bad}");
    }
}
