//! Channel bindings and routing through the API: scope keys per channel type, bindings and the
//! default target, each queue mode (collect windows under a test clock), order per scope key
//! under concurrent prompts, duplicates, Telegram messages routed end to end through the Bot API
//! emulator, and replies through a binding's channel.

use crate::{both_backends, TestApp};
use patchbay_emulators::telegram::{self, Push, TelegramConfig, DEMO_TOKEN};
use patchbay_engine::bindings::PromptRequest;
use patchbay_engine::Caller;
use patchbay_store::testing::TestBackend;
use reqwest::Method;
use serde_json::{json, Value};

async fn routed(app: &TestApp, key: &str) -> Vec<Value> {
    let (_, outbox) = app.get("/v1/events?limit=500", key).await;
    outbox["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "message.routed")
        .cloned()
        .collect()
}

fn prompt(channel_id: &str, text: &str) -> PromptRequest {
    serde_json::from_value(json!({"channel_type": "api", "channel_id": channel_id, "text": text}))
        .unwrap()
}

async fn bindings_and_default(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    // A web session binds in one call; its target is the session id unless named.
    let (s, web) = app
        .post(
            "/v1/bindings",
            &key,
            json!({"channel_type": "web", "owner_id": "user_1", "channel_id": "sess_1"}),
        )
        .await;
    assert_eq!(s, 201, "{web}");
    assert_eq!(web["scope_key"], "web:user_1:sess_1");
    assert_eq!(web["target"], "sess_1");
    assert_eq!(web["queue_mode"], "followup");
    // The same scope twice is a conflict; missing parts and bad values are field errors.
    let (s, e) = app
        .post("/v1/bindings", &key, json!({"channel_type": "web", "owner_id": "user_1", "channel_id": "sess_1", "target": "x"}))
        .await;
    assert_eq!(s, 409, "{e}");
    let (s, e) = app
        .post(
            "/v1/bindings",
            &key,
            json!({"channel_type": "slack", "channel_id": "C1", "target": "t"}),
        )
        .await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(
        e["error"]["details"]["fields"][0]["field"], "team_id",
        "{e}"
    );
    let (s, e) = app
        .post(
            "/v1/bindings",
            &key,
            json!({"channel_type": "api", "channel_id": "a", "target": "t",
            "queue_mode": "collect", "collect_debounce_ms": 5000, "collect_max_wait_ms": 1000}),
        )
        .await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(
        e["error"]["details"]["fields"][0]["field"],
        "collect_max_wait_ms"
    );
    let (s, e) = app
        .post(
            "/v1/bindings",
            &key,
            json!({"channel_type": "fax", "channel_id": "a", "target": "t"}),
        )
        .await;
    assert_eq!(s, 422, "{e}");
    let (s, e) = app
        .post(
            "/v1/bindings",
            &key,
            json!({"channel_type": "telegram", "channel_id": "1",
            "connection_id": "conn_0123456789abcdef0123456789abcdef", "target": "t"}),
        )
        .await;
    assert_eq!(s, 404, "{e}");
    // Slack and GitHub keys carry their thread; an explicit key is taken as given.
    let (_, slack) = app
        .post(
            "/v1/bindings",
            &key,
            json!({"channel_type": "slack", "team_id": "T1", "channel_id": "C1",
            "thread": "1700000000.000100", "target": "sess_1", "queue_mode": "steer"}),
        )
        .await;
    assert_eq!(slack["scope_key"], "slack:T1:C1:1700000000.000100");
    let (_, gh) = app
        .post(
            "/v1/bindings",
            &key,
            json!({"channel_type": "github", "channel_id": "Octo/Repo",
            "thread": "7", "target": "sess_2"}),
        )
        .await;
    assert_eq!(gh["scope_key"], "github:octo/repo:7");
    let (s, explicit) = app
        .post(
            "/v1/bindings",
            &key,
            json!({"channel_type": "api", "scope_key": "custom:key", "target": "sess_2"}),
        )
        .await;
    assert_eq!(s, 201, "{explicit}");
    // Lists by target; a patch changes mode and target; one call removes a target's bindings.
    let (_, of1) = app.get("/v1/bindings?target=sess_1", &key).await;
    assert_eq!(of1["data"].as_array().unwrap().len(), 2, "{of1}");
    let id = gh["id"].as_str().unwrap();
    let (s, patched) = app
        .patch(
            &format!("/v1/bindings/{id}"),
            &key,
            json!({"queue_mode": "collect", "collect_debounce_ms": 200}),
        )
        .await;
    assert_eq!(s, 200, "{patched}");
    assert_eq!(patched["queue_mode"], "collect");
    assert_eq!(patched["collect_debounce_ms"], 200);
    let (s, gone) = app
        .call(Method::DELETE, "/v1/bindings?target=sess_1", &key, None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(gone["deleted"], 2);
    let (_, all) = app.get("/v1/bindings", &key).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 2, "{all}");
    let (s, _) = app
        .call(Method::DELETE, &format!("/v1/bindings/{id}"), &key, None)
        .await;
    assert_eq!(s, 204);
    let (s, _) = app.get(&format!("/v1/bindings/{id}"), &key).await;
    assert_eq!(s, 404);
    // Unbound with no default is refused; with a default it routes there.
    let (s, e) = app
        .post(
            "/v1/prompt",
            &key,
            json!({"channel_type": "api", "channel_id": "x", "text": "hi"}),
        )
        .await;
    assert_eq!(s, 409, "{e}");
    let (s, _) = app.get("/v1/routing/default", &key).await;
    assert_eq!(s, 404);
    let (s, d) = app
        .call(
            Method::PUT,
            "/v1/routing/default",
            &key,
            Some(json!({"target": "orchestrator"})),
        )
        .await;
    assert_eq!(s, 200, "{d}");
    let (s, decision) = app
        .post(
            "/v1/prompt",
            &key,
            json!({"channel_type": "api", "channel_id": "x", "text": "hi",
            "author": {"id": "user_1"}}),
        )
        .await;
    assert_eq!(s, 200, "{decision}");
    assert_eq!(decision["target"], "orchestrator");
    assert_eq!(decision["via"], "default");
    let (_, decision) = app
        .post(
            "/v1/prompt",
            &key,
            json!({"channel_type": "api", "scope_key": "custom:key", "text": "to 2"}),
        )
        .await;
    assert_eq!(decision["target"], "sess_2");
    assert_eq!(decision["via"], "binding");
    // A disabled binding routes to the default.
    let eid = explicit["id"].as_str().unwrap();
    app.patch(
        &format!("/v1/bindings/{eid}"),
        &key,
        json!({"enabled": false}),
    )
    .await;
    let (_, decision) = app
        .post(
            "/v1/prompt",
            &key,
            json!({"channel_type": "api", "scope_key": "custom:key", "text": "again"}),
        )
        .await;
    assert_eq!(decision["target"], "orchestrator");
    // Empty text and unknown fields are refused; another workspace sees nothing.
    let (s, _) = app
        .post(
            "/v1/prompt",
            &key,
            json!({"channel_type": "api", "channel_id": "x", "text": " "}),
        )
        .await;
    assert_eq!(s, 422);
    let (s, _) = app
        .post(
            "/v1/prompt",
            &key,
            json!({"channel_type": "api", "channel_id": "x", "text": "a", "nope": 1}),
        )
        .await;
    assert_eq!(s, 422);
    let (_, other) = app.workspace("other").await;
    let (s, _) = app.get(&format!("/v1/bindings/{eid}"), &other).await;
    assert_eq!(s, 404);
    // Changes are in the activity log.
    let (_, activity) = app.get("/v1/activity?limit=100", &key).await;
    let actions: Vec<&str> = activity["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["action"].as_str())
        .collect();
    for a in [
        "binding.created",
        "binding.updated",
        "binding.deleted",
        "bindings.deleted",
        "routing.default_set",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
}

async fn queue_modes_under_a_test_clock(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (ws, key) = app.workspace("acme").await;
    let caller = Caller::Workspace {
        workspace_id: ws,
        key_id: "key_test".into(),
    };
    let b = app.engine.bindings();
    for (channel, mode) in [("f", "followup"), ("s", "steer"), ("c", "collect")] {
        let (s, body) = app
            .post(
                "/v1/bindings",
                &key,
                json!({"channel_type": "api", "channel_id": channel,
                "target": format!("target-{channel}"), "queue_mode": mode,
                "collect_debounce_ms": 1000, "collect_max_wait_ms": 2500}),
            )
            .await;
        assert_eq!(s, 201, "{body}");
    }
    // Far ahead of the wall clock, so only this test's flushes close windows.
    let t0 = patchbay_core::now_ms() + 86_400_000;
    // followup: one event per message, numbered in order.
    for (i, text) in ["one", "two", "three"].iter().enumerate() {
        let d = b
            .prompt_at(&caller, prompt("f", text), t0 + i as i64)
            .await
            .unwrap();
        assert_eq!(d.sequence, i as i64 + 1);
        assert!(d.event_id.is_some());
    }
    // steer: marked as an interrupt.
    b.prompt_at(&caller, prompt("s", "stop that"), t0)
        .await
        .unwrap();
    // collect: each message restarts the 1 s window...
    for (i, at) in [0, 500, 900].iter().enumerate() {
        let d = b
            .prompt_at(&caller, prompt("c", &format!("part {i}")), t0 + at)
            .await
            .unwrap();
        assert!(d.event_id.is_none());
        assert!(d.deliver_at.is_some());
    }
    assert_eq!(b.flush_due(t0 + 1899).await.unwrap(), 0);
    assert_eq!(b.flush_due(t0 + 1900).await.unwrap(), 1);
    assert_eq!(b.flush_due(t0 + 5000).await.unwrap(), 0, "delivered once");
    // ...but never past the maximum wait from its first message.
    for at in [10_000, 10_900, 11_800, 12_700] {
        b.prompt_at(&caller, prompt("c", &format!("at {at}")), t0 + at)
            .await
            .unwrap();
    }
    // The window opened at 10 000 closed at 12 500, before the 12 700 message.
    let events = routed(&app, &key).await;
    assert_eq!(events.len(), 6, "{events:?}");
    assert_eq!(b.flush_due(t0 + 13_700).await.unwrap(), 1);
    let events = routed(&app, &key).await;
    let payloads: Vec<&Value> = events.iter().map(|e| &e["data"]).collect();
    let f: Vec<_> = payloads
        .iter()
        .filter(|p| p["target"] == "target-f")
        .collect();
    assert_eq!(f.len(), 3);
    for (i, p) in f.iter().enumerate() {
        assert_eq!(p["sequence"], i as i64 + 1);
        assert_eq!(p["queue_mode"], "followup");
        assert_eq!(p["interrupt"], false);
        assert_eq!(p["messages"].as_array().unwrap().len(), 1);
    }
    assert_eq!(f[0]["messages"][0]["text"], "one");
    assert_eq!(f[2]["messages"][0]["text"], "three");
    let s: Vec<_> = payloads
        .iter()
        .filter(|p| p["target"] == "target-s")
        .collect();
    assert_eq!(s[0]["interrupt"], true);
    let c: Vec<_> = payloads
        .iter()
        .filter(|p| p["target"] == "target-c")
        .collect();
    assert_eq!(c.len(), 3, "{c:?}");
    let texts = |p: &Value| -> Vec<String> {
        p["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(texts(c[0]), ["part 0", "part 1", "part 2"]);
    assert_eq!(c[0]["queue_mode"], "collect");
    assert_eq!(texts(c[1]), ["at 10000", "at 10900", "at 11800"]);
    assert_eq!(texts(c[2]), ["at 12700"]);
    // The same message id twice is routed once.
    let mut req = prompt("f", "dup");
    req.message_id = Some("m-1".into());
    let first = b.prompt_at(&caller, req, t0).await.unwrap();
    let mut req = prompt("f", "dup");
    req.message_id = Some("m-1".into());
    let again = b.prompt_at(&caller, req, t0).await.unwrap();
    assert!(again.duplicate && !first.duplicate);
    assert_eq!(again.sequence, first.sequence);
    assert_eq!(routed(&app, &key).await.len(), 8);
}

async fn order_holds_under_concurrent_prompts(backend: TestBackend) {
    let app = std::sync::Arc::new(TestApp::spawn(backend).await);
    let (_, key) = app.workspace("acme").await;
    app.call(
        Method::PUT,
        "/v1/routing/default",
        &key,
        Some(json!({"target": "main"})),
    )
    .await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (app, key) = (app.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            let (s, d) = app
                .post("/v1/prompt", &key, json!({"channel_type": "api", "channel_id": format!("k{}", i % 2), "text": format!("m{i}")}))
                .await;
            assert_eq!(s, 200, "{d}");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Within each scope key, events sort by id in sequence order, without gaps.
    let events = routed(&app, &key).await;
    assert_eq!(events.len(), 40);
    for k in ["api:k0", "api:k1"] {
        let seqs: Vec<i64> = events
            .iter()
            .filter(|e| e["data"]["scope_key"] == k)
            .map(|e| e["data"]["sequence"].as_i64().unwrap())
            .collect();
        assert_eq!(seqs, (1..=20).collect::<Vec<_>>(), "{k}");
    }
}

async fn telegram_messages_route_and_replies_go_back(backend: TestBackend) {
    let emu = telegram::spawn(TelegramConfig::default()).await.unwrap();
    let app = TestApp::spawn_with_providers(
        backend,
        &format!("telegram: {{api_base_url: '{}'}}", emu.base_url),
    )
    .await;
    let (_, key) = app.workspace("acme").await;
    let created = app
        .connection(
            &key,
            json!({"connector": "telegram", "owner": {"id": "user_1"},
            "config": {}, "secrets": {"bot_token": DEMO_TOKEN}, "enable": true}),
        )
        .await;
    let conn = created["id"].as_str().unwrap().to_string();
    app.engine.watches().renew_due_once().await.unwrap();
    let (s, binding) = app
        .post(
            "/v1/bindings",
            &key,
            json!({"channel_type": "telegram", "connection_id": conn,
            "channel_id": "1001", "target": "sess_tg"}),
        )
        .await;
    assert_eq!(s, 201, "{binding}");
    assert_eq!(binding["scope_key"], format!("telegram:{conn}:1001"));
    app.call(
        Method::PUT,
        "/v1/routing/default",
        &key,
        Some(json!({"target": "orchestrator"})),
    )
    .await;
    emu.push(DEMO_TOKEN, Push::text(1001, "bound chat"))
        .await
        .unwrap();
    emu.push(DEMO_TOKEN, Push::text(2002, "another chat"))
        .await
        .unwrap();
    while app
        .engine
        .webhooks()
        .process_webhooks_once(50)
        .await
        .unwrap()
        > 0
    {}
    let events = routed(&app, &key).await;
    assert_eq!(events.len(), 2, "{events:?}");
    let bound = &events[0]["data"];
    assert_eq!(bound["target"], "sess_tg");
    assert_eq!(bound["binding_id"], binding["id"]);
    assert_eq!(bound["messages"][0]["text"], "bound chat");
    assert_eq!(bound["messages"][0]["connection_id"], conn.as_str());
    assert_eq!(events[0]["connection_id"], conn.as_str());
    assert_eq!(events[1]["data"]["target"], "orchestrator");
    // Processing the same deliveries again (a worker that died mid-way) routes nothing new.
    let (_, list) = app
        .get(&format!("/v1/connections/{conn}/webhook-events"), &key)
        .await;
    for e in list["data"].as_array().unwrap() {
        let id = e["id"].as_str().unwrap();
        let (s, _) = app
            .post(&format!("/v1/webhook-events/{id}/replay"), &key, json!({}))
            .await;
        assert_eq!(s, 200);
    }
    while app
        .engine
        .webhooks()
        .process_webhooks_once(50)
        .await
        .unwrap()
        > 0
    {}
    assert_eq!(routed(&app, &key).await.len(), 2);
    // A reply goes back to the chat through the bot.
    let bid = binding["id"].as_str().unwrap();
    let (s, reply) = app
        .post(
            &format!("/v1/bindings/{bid}/reply"),
            &key,
            json!({"text": "**done**"}),
        )
        .await;
    assert_eq!(s, 200, "{reply}");
    assert_eq!(reply["action"], "send_message");
    let sent = emu.sent(DEMO_TOKEN);
    let reply = sent
        .iter()
        .find(|m| m["from"]["is_bot"] == true)
        .unwrap_or_else(|| panic!("no message from the bot in {sent:?}"));
    assert_eq!(reply["chat"]["id"], 1001, "{reply}");
    assert_eq!(reply["text"], "done", "{reply}");
    // Web bindings have no channel to reply through.
    let (_, web) = app
        .post(
            "/v1/bindings",
            &key,
            json!({"channel_type": "web", "owner_id": "u", "channel_id": "s"}),
        )
        .await;
    let wid = web["id"].as_str().unwrap();
    let (s, e) = app
        .post(
            &format!("/v1/bindings/{wid}/reply"),
            &key,
            json!({"text": "x"}),
        )
        .await;
    assert_eq!(s, 422, "{e}");
}

both_backends!(
    bindings_and_default,
    queue_modes_under_a_test_clock,
    order_holds_under_concurrent_prompts,
    telegram_messages_route_and_replies_go_back,
);
