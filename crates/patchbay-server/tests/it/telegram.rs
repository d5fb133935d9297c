//! The Telegram bot connector through the API, against the Bot API emulator: connecting with
//! a token, the webhook set on enable and removed on disable, delete or token change, updates
//! pushed by the emulator into records, attachments and events, and actions with 429s.

use crate::{both_backends, read, TestApp};
use patchbay_emulators::telegram::{self, BotSeed, Push, TelegramConfig, DEMO_TOKEN};
use patchbay_emulators::TelegramEmulator;
use patchbay_store::testing::TestBackend;
use serde_json::{json, Value};

struct Setup {
    app: TestApp,
    key: String,
    emu: TelegramEmulator,
}

async fn setup(backend: TestBackend) -> Setup {
    let emu = telegram::spawn(TelegramConfig::default()).await.unwrap();
    let app = TestApp::spawn_with_providers(
        backend,
        &format!("telegram: {{api_base_url: '{}'}}", emu.base_url),
    )
    .await;
    let (_, key) = app.workspace("acme").await;
    Setup { app, key, emu }
}

fn body(token: &str, enable: bool) -> Value {
    json!({"connector": "telegram", "owner": {"id": "user_1", "scope": {"type": "user", "id": "user_1"}},
           "config": {}, "secrets": {"bot_token": token}, "enable": enable})
}

/// Creates and enables a connection, and sets its webhook as the renewal pass does.
async fn connected(s: &Setup) -> String {
    let created = s.app.connection(&s.key, body(DEMO_TOKEN, true)).await;
    crate::assert_hidden(&created, DEMO_TOKEN);
    assert_eq!(created["account_id"], "7000000001", "{created}");
    assert_eq!(s.app.engine.watches().renew_due_once().await.unwrap(), 1);
    created["id"].as_str().unwrap().to_string()
}

async fn process(app: &TestApp) {
    while app
        .engine
        .webhooks()
        .process_webhooks_once(50)
        .await
        .unwrap()
        > 0
    {}
}

async fn events(s: &Setup) -> Vec<Value> {
    let (_, outbox) = s.app.get("/v1/events?limit=200", &s.key).await;
    outbox["data"].as_array().unwrap().clone()
}

async fn connect_and_enable(backend: TestBackend) {
    let s = setup(backend).await;
    // An unknown token is refused before anything is stored.
    let wrong = "7000000001:AAH-not-the-right-secret";
    let (status, err) = s
        .app
        .post("/v1/connections", &s.key, body(wrong, true))
        .await;
    assert_eq!(status, 422, "{err}");
    assert!(err.to_string().contains("Unauthorized"), "{err}");
    crate::assert_hidden(&err, wrong);
    let (status, err) = s
        .app
        .post("/v1/connections", &s.key, body("not a token", true))
        .await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(
        err["error"]["details"]["fields"][0]["field"], "secrets.bot_token",
        "{err}"
    );
    let (_, list) = s.app.get("/v1/connections", &s.key).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0, "{list}");

    let id = connected(&s).await;
    let hook = s.emu.webhook(DEMO_TOKEN).unwrap();
    assert_eq!(
        hook.url,
        format!("{}/v1/webhooks/telegram/{id}", s.app.base)
    );
    let secret = hook.secret_token.unwrap();
    assert!(secret.len() >= 32 && secret != DEMO_TOKEN);
    assert_eq!(s.emu.commands(DEMO_TOKEN).len(), 7);
    let (_, view) = s.app.get(&format!("/v1/connections/{id}"), &s.key).await;
    crate::assert_hidden(&view, DEMO_TOKEN);
    crate::assert_hidden(&view, &secret);
    if let Some(path) = &s.app.db.sqlite_path {
        s.app.engine.store().close().await;
        let bytes = std::fs::read(path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(DEMO_TOKEN) && !text.contains(&secret),
            "plaintext secret in the database"
        );
    }
}

async fn updates_into_records_events_and_attachments(backend: TestBackend) {
    let s = setup(backend).await;
    let id = connected(&s).await;
    let t = DEMO_TOKEN;
    let cmd = s
        .emu
        .push(t, Push::command(1001, "/status@patchbay_demo_bot today"))
        .await
        .unwrap();
    assert_eq!(cmd.status, 202);
    let text = s
        .emu
        .push(t, Push::text(1001, "hello there"))
        .await
        .unwrap();
    let jpeg = vec![0xffu8, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5, 6, 7, 8];
    s.emu
        .push(
            t,
            Push::Photo {
                chat_id: 1001,
                bytes: jpeg.clone(),
                caption: Some("pic".into()),
            },
        )
        .await
        .unwrap();
    s.emu
        .push(
            t,
            Push::Voice {
                chat_id: 1001,
                bytes: b"OggS voice".to_vec(),
                duration: 2,
            },
        )
        .await
        .unwrap();
    s.emu
        .push(
            t,
            Push::Document {
                chat_id: 1001,
                bytes: b"%PDF-1.7".to_vec(),
                file_name: "report.pdf".into(),
                mime_type: "application/pdf".into(),
                caption: None,
            },
        )
        .await
        .unwrap();
    let message_id = text.update["message"]["message_id"].as_i64().unwrap();
    s.emu
        .push(
            t,
            Push::Edited {
                chat_id: 1001,
                message_id,
                text: "hello, edited".into(),
            },
        )
        .await
        .unwrap();

    // The same update again is stored once; a wrong secret stores nothing.
    let dup = s
        .emu
        .push_raw(
            t,
            &text.update,
            s.emu.webhook(t).unwrap().secret_token.as_deref(),
        )
        .await
        .unwrap();
    assert_eq!(dup, 200);
    let forged = json!({"update_id": 1, "message": {"message_id": 99, "chat": {"id": 1}, "date": 1, "text": "x"}});
    assert_eq!(
        s.emu
            .push_raw(t, &forged, Some("wrong-secret-token"))
            .await
            .unwrap(),
        401
    );
    assert_eq!(s.emu.push_raw(t, &forged, None).await.unwrap(), 401);
    let (_, stored) = s
        .app
        .get(
            &format!("/v1/connections/{id}/webhook-events?limit=100"),
            &s.key,
        )
        .await;
    assert_eq!(stored["data"].as_array().unwrap().len(), 6, "{stored}");
    process(&s.app).await;

    let messages = crate::records_of(&s.app, &s.key, &id, "messages").await;
    assert_eq!(messages.len(), 5, "the edit replaced its message");
    let by_kind =
        |k: &str| messages.iter().find(|m| m["data"]["kind"] == k).unwrap()["data"].clone();
    assert_eq!(by_kind("command")["command"]["name"], "status");
    let edited = messages
        .iter()
        .find(|m| m["id"] == format!("1001:{message_id}"))
        .unwrap();
    assert_eq!(edited["data"]["text"], "hello, edited");
    let photo = by_kind("photo");
    let url = photo["attachments"][0]["url"].as_str().unwrap().to_string();
    let resp = s
        .app
        .req(reqwest::Method::GET, &url, &s.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/jpeg");
    assert!(resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    assert_eq!(resp.bytes().await.unwrap().to_vec(), jpeg);
    let doc = by_kind("document");
    let resp = s
        .app
        .req(
            reqwest::Method::GET,
            doc["attachments"][0]["url"].as_str().unwrap(),
            &s.key,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    assert!(resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("report.pdf"));
    assert_eq!(
        by_kind("voice")["attachments"][0]["content_type"],
        "audio/ogg"
    );
    let (status, _) = s
        .app
        .get(&format!("/v1/connections/{id}/attachments/nope"), &s.key)
        .await;
    assert_eq!(status, 404);
    let (_, other) = s.app.workspace("other").await;
    let (status, _) = s.app.get(&url, &other).await;
    assert_eq!(status, 404);

    let events = events(&s).await;
    let of = |t: &str| {
        events
            .iter()
            .filter(|e| e["type"] == t)
            .cloned()
            .collect::<Vec<_>>()
    };
    let commands = of("command.received");
    assert_eq!(commands.len(), 1);
    assert_eq!(commands[0]["data"]["args"], "today");
    assert_eq!(commands[0]["data"]["connection_id"], id.as_str());
    assert_eq!(of("message.received").len(), 4);
    assert_eq!(of("message.edited").len(), 1);
    assert!(
        !events.iter().any(|e| e.to_string().contains("/9j/")),
        "no base64 bytes in events"
    );
}

async fn actions_callbacks_and_rate_limits(backend: TestBackend) {
    let s = setup(backend).await;
    let id = connected(&s).await;
    let action = |name: &str| format!("/v1/connections/{id}/actions/{name}");
    let keyboard = json!({"inline_keyboard": [[{"text": "Yes", "callback_data": "yes"}]]});
    let (status, out) = s
        .app
        .post(
            &action("send_message"),
            &s.key,
            json!({"chat_id": 1001, "text": "**Deploy?** `v1 < v2`", "reply_markup": keyboard}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let sent = s.emu.sent(DEMO_TOKEN).pop().unwrap();
    assert_eq!(sent["text"], "Deploy? v1 < v2");
    let message_id = sent["message_id"].as_i64().unwrap();
    s.emu
        .push(
            DEMO_TOKEN,
            Push::Callback {
                chat_id: 1001,
                message_id,
                data: "yes".into(),
            },
        )
        .await
        .unwrap();
    process(&s.app).await;
    let press = events(&s)
        .await
        .into_iter()
        .find(|e| e["type"] == "callback_query.received")
        .unwrap();
    assert_eq!(press["data"]["data"], "yes");
    let (status, out) = s
        .app
        .post(
            &action("answer_callback_query"),
            &s.key,
            json!({"callback_query_id": press["data"]["callback_query_id"], "text": "Deploying"}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(s.emu.answered_callbacks(DEMO_TOKEN)[0]["text"], "Deploying");

    let (status, out) = s
        .app
        .post(&action("send_message"), &s.key, json!({"chat_id": 1001}))
        .await;
    assert_eq!(status, 422, "{out}");
    let (status, out) = s
        .app
        .post(
            &action("send_message"),
            &s.key,
            json!({"chat_id": 1001, "text": "<script>x</script>", "format": "html"}),
        )
        .await;
    assert_eq!(status, 422, "{out}");
    assert!(out.to_string().contains("can't parse entities"), "{out}");

    s.emu.flood_next(1, 40);
    let resp = s
        .app
        .req(reqwest::Method::POST, &action("send_message"), &s.key)
        .json(&json!({"chat_id": 1001, "text": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "40");
    let calls = s.emu.request_count();
    let (status, _) = read(
        s.app
            .req(reqwest::Method::POST, &action("send_message"), &s.key)
            .json(&json!({"chat_id": 1001, "text": "again"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 429);
    assert_eq!(
        s.emu.request_count(),
        calls,
        "the bot is held, Telegram is not called"
    );
}

async fn webhook_follows_the_lifecycle_and_the_token(backend: TestBackend) {
    let s = setup(backend).await;
    let id = connected(&s).await;
    let path = format!("/v1/connections/{id}");
    let (status, out) = s
        .app
        .patch(&path, &s.key, json!({"lifecycle": "disabled"}))
        .await;
    assert_eq!(status, 200, "{out}");
    assert!(s.emu.webhook(DEMO_TOKEN).is_none());
    assert!(s
        .emu
        .calls(DEMO_TOKEN)
        .contains(&"deletewebhook".to_string()));
    s.app
        .patch(&path, &s.key, json!({"lifecycle": "enabled"}))
        .await;
    assert_eq!(s.app.engine.watches().renew_due_once().await.unwrap(), 1);
    assert!(s.emu.webhook(DEMO_TOKEN).is_some());

    // Another bot's token: the old bot's webhook goes first, then the new one is set.
    let other = BotSeed::new(7_000_000_009, "second_bot");
    s.emu.add_bot(other.clone());
    let (status, out) = s
        .app
        .patch(
            &path,
            &s.key,
            json!({"secrets": {"bot_token": other.token}}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    crate::assert_hidden(&out, &other.token);
    assert!(
        s.emu.webhook(DEMO_TOKEN).is_none(),
        "the old bot keeps no webhook"
    );
    assert_eq!(s.app.engine.watches().renew_due_once().await.unwrap(), 1);
    let hook = s.emu.webhook(&other.token).unwrap();
    assert!(hook.url.ends_with(&id));
    // Updates of the new bot are verified with the same secret.
    let pushed = s
        .emu
        .push(&other.token, Push::text(1001, "from the new bot"))
        .await
        .unwrap();
    assert_eq!(pushed.status, 202);

    let resp = s
        .app
        .req(reqwest::Method::DELETE, &path, &s.key)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    assert!(s.emu.webhook(&other.token).is_none());
}

both_backends!(
    connect_and_enable,
    updates_into_records_events_and_attachments,
    actions_callbacks_and_rate_limits,
    webhook_follows_the_lifecycle_and_the_token,
);
