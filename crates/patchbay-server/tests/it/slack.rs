//! The Slack connector through the API, against the Slack emulator: OAuth v2 with a bot and a
//! user token, `ok: false` errors as clear API errors, sync of channels, users and messages
//! (paging, incremental runs with thread replies), every action, Events API deliveries
//! (handshake, signatures, retries, records and events), signals and rate limits.

use crate::{both_backends, read, records_of, redirect, sync_now, TestApp};
use patchbay_emulators::slack::{self, SlackConfig, CLIENT_ID, CLIENT_SECRET, SIGNING_SECRET};
use patchbay_emulators::SlackEmulator;
use patchbay_store::testing::TestBackend;
use serde_json::{json, Value};

both_backends!(
    connect_with_bot_and_user_tokens,
    provider_errors_are_clear,
    sync_pages_and_increments,
    every_action,
    events_api_deliveries,
    a_connection_made_with_secrets_routes_by_team,
    signals_and_rate_limits,
    messages_route_to_bindings_and_replies_go_to_the_thread
);

const RETURN: &str = "https://app.example/connected";

struct Setup {
    app: TestApp,
    key: String,
    emu: SlackEmulator,
}

async fn setup(backend: TestBackend, config: SlackConfig) -> Setup {
    let emu = slack::spawn(config).await.unwrap();
    let overrides = format!(
        "slack: {{authorization_url: '{}', token_url: '{}', revocation_url: '{}', api_base_url: '{}'}}",
        emu.authorize_url(),
        emu.token_url(),
        emu.revoke_url(),
        emu.api_url()
    );
    let app = TestApp::spawn_with_providers(backend, &overrides).await;
    let (_, key) = app.workspace("acme").await;
    let (s, body) = app
        .call(
            reqwest::Method::PUT,
            "/v1/oauth-apps/slack",
            &key,
            Some(
                json!({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                        "webhook_secret": SIGNING_SECRET}),
            ),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    crate::assert_hidden(&body, SIGNING_SECRET);
    assert!(body["webhook_secret"].is_string(), "{body}");
    Setup { app, key, emu }
}

/// The browser's part of the flow; the return URL's query.
async fn connect(s: &Setup, extra: Value) -> url::Url {
    let mut req = json!({"connector": "slack", "owner": {"id": "user_1"}, "return_url": RETURN});
    if let (Some(r), Some(e)) = (req.as_object_mut(), extra.as_object()) {
        r.extend(e.clone());
    }
    let (status, session) = s.app.post("/v1/connect-sessions", &s.key, req).await;
    assert_eq!(status, 201, "{session}");
    let to_slack = redirect(session["authorize_url"].as_str().unwrap()).await;
    let back = redirect(&to_slack).await;
    url::Url::parse(&redirect(&back).await).unwrap()
}

async fn connected(s: &Setup) -> String {
    let back = connect(s, json!({})).await;
    back.query_pairs()
        .find(|(k, _)| k == "connection_id")
        .unwrap_or_else(|| panic!("no connection in {back}"))
        .1
        .into_owned()
}

fn action(id: &str, name: &str) -> String {
    format!("/v1/connections/{id}/actions/{name}")
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

async fn connect_with_bot_and_user_tokens(backend: TestBackend) {
    let s = setup(backend, SlackConfig::default()).await;
    s.emu.deny_next();
    let denied = connect(&s, json!({})).await;
    assert!(denied.as_str().contains("error=access_denied"), "{denied}");

    let id = connected(&s).await;
    let (_, c) = s.app.get(&format!("/v1/connections/{id}"), &s.key).await;
    assert_eq!(
        (&c["account_id"], &c["lifecycle"], &c["health"]),
        (&json!("T0PATCHBAY"), &json!("enabled"), &json!("healthy")),
        "{c}"
    );
    let row = s
        .app
        .engine
        .store()
        .get_connection(None, &id)
        .await
        .unwrap()
        .unwrap();
    let meta: Value = serde_json::from_str(&row.metadata).unwrap();
    for t in s.emu.issued_tokens() {
        assert!(!row.metadata.contains(&t), "a token in the metadata");
    }
    assert_eq!(meta["team.name"], "Patchbay Demo", "{c}");
    assert_eq!(meta["bot_user_id"], "U0BOT");
    assert_eq!(meta["app_id"], "A0PATCHBAY");
    assert_eq!(meta["authed_user.id"], "U0ADA");
    let mut secrets: Vec<&str> = c["redacted_secrets"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    secrets.sort();
    assert_eq!(secrets, ["access_token", "signing_secret", "user_token"]);
    let tokens = s.emu.issued_tokens();
    assert!(tokens.iter().any(|t| t.starts_with("xoxb-")), "{tokens:?}");
    assert!(tokens.iter().any(|t| t.starts_with("xoxp-")), "{tokens:?}");
    let (_, test) = s
        .app
        .post(&format!("/v1/connections/{id}/test"), &s.key, json!({}))
        .await;
    assert_eq!(test["ok"], true, "{test}");
    for t in tokens.iter().map(String::as_str).chain([SIGNING_SECRET]) {
        crate::assert_hidden(&c, t);
        crate::assert_hidden(&test, t);
    }
    let (_, activity) = s.app.get("/v1/activity?limit=200", &s.key).await;
    for t in &tokens {
        crate::assert_hidden(&activity, t);
    }
    // Deleting the connection revokes both grants at Slack.
    let (status, _) = s
        .app
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/connections/{id}"),
            &s.key,
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert!(tokens.iter().all(|t| !s.emu.token_valid(t)), "{tokens:?}");
    // A bot-only install: no user token.
    let bot_only = connect(&s, json!({"user_scopes": []})).await;
    let bot_only = bot_only
        .query_pairs()
        .find(|(k, _)| k == "connection_id")
        .unwrap()
        .1
        .into_owned();
    let (_, c) = s
        .app
        .get(&format!("/v1/connections/{bot_only}"), &s.key)
        .await;
    assert!(c["redacted_secrets"]["user_token"].is_null(), "{c}");
    if let Some(path) = &s.app.db.sqlite_path {
        s.app.engine.store().close().await;
        let bytes = std::fs::read(path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for t in s
            .emu
            .issued_tokens()
            .iter()
            .map(String::as_str)
            .chain([SIGNING_SECRET])
        {
            assert!(!text.contains(t), "plaintext secret in the database");
        }
    }
}

async fn provider_errors_are_clear(backend: TestBackend) {
    let s = setup(backend, SlackConfig::default()).await;
    // oauth.v2.access refuses with 200 and ok: false; the flow ends with the reason.
    let (status, _) = s
        .app
        .call(
            reqwest::Method::PUT,
            "/v1/oauth-apps/slack",
            &s.key,
            Some(json!({"client_id": CLIENT_ID, "client_secret": "not-the-secret"})),
        )
        .await;
    assert_eq!(status, 200);
    let refused = connect(&s, json!({})).await;
    let q: std::collections::BTreeMap<String, String> =
        refused.query_pairs().into_owned().collect();
    assert_eq!(q["error"], "exchange_failed", "{refused}");
    assert!(
        q["error_description"].contains("bad_client_secret"),
        "{refused}"
    );
    let (_, list) = s.app.get("/v1/connections", &s.key).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0, "{list}");
    // The signing secret set before is kept when a PUT leaves it out.
    let (_, app) = s
        .app
        .call(
            reqwest::Method::PUT,
            "/v1/oauth-apps/slack",
            &s.key,
            Some(json!({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})),
        )
        .await;
    assert!(app["webhook_secret"].is_string(), "{app}");
    let id = connected(&s).await;
    let post = |channel: &str| json!({"channel": channel, "text": "hi"});
    let (status, err) = s
        .app
        .post(&action(&id, "send_message"), &s.key, post("C0NOPE99"))
        .await;
    assert_eq!(status, 404, "{err}");
    assert!(err.to_string().contains("channel_not_found"), "{err}");
    let (status, err) = s
        .app
        .post(&action(&id, "send_message"), &s.key, post("C0ANNOUNCE"))
        .await;
    assert_eq!(status, 422, "{err}");
    assert!(err.to_string().contains("not_in_channel"), "{err}");
    let (status, err) = s
        .app
        .post(
            &action(&id, "send_message"),
            &s.key,
            json!({"channel": "C0GENERAL"}),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    let (status, err) = s
        .app
        .post(
            &action(&id, "add_reaction"),
            &s.key,
            json!({"channel": "C0GENERAL", "timestamp": "1.000001", "name": "tada"}),
        )
        .await;
    assert_eq!(status, 404, "{err}");
    // A revoked token: the call fails clearly and the connection needs reconnecting.
    for t in s.emu.issued_tokens() {
        s.emu.revoke_token(&t);
    }
    let (status, err) = s
        .app
        .post(&action(&id, "send_message"), &s.key, post("C0GENERAL"))
        .await;
    assert!(
        (400..500).contains(&status) || status == 502,
        "{status} {err}"
    );
    assert_eq!(err["error"]["code"], "needs_reconnect", "{err}");
    let (_, c) = s.app.get(&format!("/v1/connections/{id}"), &s.key).await;
    assert_eq!(c["health"], "needs_reconnect", "{c}");
}

async fn sync_pages_and_increments(backend: TestBackend) {
    let s = setup(
        backend,
        SlackConfig {
            extra_users: 205,
            seeded_messages: 205,
            ..Default::default()
        },
    )
    .await;
    let id = connected(&s).await;
    let run = sync_now(
        &s.app,
        &s.key,
        &id,
        "full",
        &["channels", "users", "messages"],
    )
    .await;
    let channels = records_of(&s.app, &s.key, &id, "channels").await;
    assert_eq!(channels.len(), 3, "public channels only by default");
    let users = records_of(&s.app, &s.key, &id, "users").await;
    assert_eq!(users.len(), 209, "two pages of users");
    let ada = users.iter().find(|u| u["id"] == "U0ADA").unwrap();
    assert_eq!(ada["data"]["profile"]["email"], "ada@example.com");
    let (_, page) = s
        .app
        .get(
            &format!("/v1/connections/{id}/records/messages?limit=500"),
            &s.key,
        )
        .await;
    let messages = page["data"].as_array().unwrap();
    // #general: 205 + a thread parent and its reply; #random: 1 (not #announcements: not a member).
    assert_eq!(messages.len(), 208, "{run}");
    assert!(messages.iter().any(|m| m["data"]["text"] == "first reply"));
    assert_eq!(run["added"].as_i64().unwrap(), 3 + 209 + 208, "{run}");

    let thread = s
        .emu
        .messages("C0GENERAL")
        .into_iter()
        .find(|m| m["text"] == "a thread to start")
        .unwrap();
    let parent = thread["ts"].as_str().unwrap().to_string();
    s.emu
        .say("C0GENERAL", "U0LINUS", "a new message", None)
        .await;
    s.emu
        .say("C0GENERAL", "U0GRACE", "a late reply", Some(&parent))
        .await;
    s.emu
        .say("C0RANDOM", "U0GRACE", "more randomness", None)
        .await;
    let calls_before = s.emu.calls().len();
    let run = sync_now(&s.app, &s.key, &id, "incremental", &["messages"]).await;
    // Two new messages, one new reply, and the parent whose reply count changed.
    assert_eq!(
        (run["added"].as_i64(), run["updated"].as_i64()),
        (Some(3), Some(1)),
        "{run}"
    );
    let histories = s.emu.calls()[calls_before..]
        .iter()
        .filter(|c| *c == "conversations.history")
        .count();
    assert_eq!(histories, 2, "one page per channel from the last ts");
    let messages = records_of(&s.app, &s.key, &id, "messages").await;
    assert!(messages
        .iter()
        .any(|m| m["data"]["text"] == "a late reply" && m["data"]["thread_ts"] == parent.as_str()));
    // Nothing new: nothing changes.
    let run = sync_now(&s.app, &s.key, &id, "incremental", &["messages"]).await;
    assert_eq!(
        (run["added"].as_i64(), run["updated"].as_i64()),
        (Some(0), Some(0)),
        "{run}"
    );
}

async fn every_action(backend: TestBackend) {
    let s = setup(backend, SlackConfig::default()).await;
    let id = connected(&s).await;
    let run = |name: &'static str, input: Value| {
        let (app, key, id) = (&s.app, &s.key, &id);
        async move {
            let (status, out) = app.post(&action(id, name), key, input).await;
            assert_eq!(status, 200, "{name}: {out}");
            out["result"].clone()
        }
    };
    let list = run("list_channels", json!({"limit": 2})).await;
    assert_eq!(list["channels"].as_array().unwrap().len(), 2, "{list}");
    let cursor = list["next_cursor"].as_str().unwrap().to_string();
    let rest = run("list_channels", json!({"limit": 2, "cursor": cursor})).await;
    assert_eq!(rest["channels"].as_array().unwrap().len(), 1, "{rest}");
    assert!(rest["next_cursor"].is_null());
    let users = run("get_users", json!({})).await;
    assert_eq!(users["members"].as_array().unwrap().len(), 4);
    let history = run(
        "get_channel_history",
        json!({"channel": "C0GENERAL", "limit": 2}),
    )
    .await;
    assert_eq!(history["messages"].as_array().unwrap().len(), 2);
    assert_eq!(history["has_more"], true);

    let sent = run(
        "send_message",
        json!({"channel": "C0GENERAL", "text": "hello *team*"}),
    )
    .await;
    let ts = sent["ts"].as_str().unwrap().to_string();
    let blocks = json!([{"type": "section", "text": {"type": "mrkdwn", "text": "a reply"}}]);
    let reply = run(
        "send_message",
        json!({"channel": "C0GENERAL", "blocks": blocks, "thread_ts": ts}),
    )
    .await;
    assert_eq!(reply["message"]["thread_ts"], ts.as_str(), "{reply}");
    let dm = run(
        "send_direct_message",
        json!({"user": "U0GRACE", "text": "psst"}),
    )
    .await;
    let dm_channel = dm["channel"].as_str().unwrap().to_string();
    assert!(dm_channel.starts_with('D'), "{dm}");
    assert_eq!(s.emu.messages(&dm_channel)[0]["text"], "psst");
    let updated = run(
        "update_message",
        json!({"channel": "C0GENERAL", "ts": ts, "text": "hello *everyone*"}),
    )
    .await;
    assert_eq!(updated["text"], "hello *everyone*");
    run(
        "add_reaction",
        json!({"channel": "C0GENERAL", "timestamp": ts, "name": "tada"}),
    )
    .await;
    let stored = s.emu.messages("C0GENERAL");
    let m = stored.iter().find(|m| m["ts"] == ts.as_str()).unwrap();
    assert_eq!(m["reactions"][0]["name"], "tada");
    assert_eq!(m["reply_count"], 1);
    run(
        "delete_message",
        json!({"channel": "C0GENERAL", "ts": reply["ts"]}),
    )
    .await;
    assert!(!s
        .emu
        .messages("C0GENERAL")
        .iter()
        .any(|m| m["ts"] == reply["ts"]));
    // Someone else's message cannot be edited.
    let (status, err) = s
        .app
        .post(
            &action(&id, "update_message"),
            &s.key,
            json!({"channel": "C0GENERAL", "ts": stored[0]["ts"], "text": "x"}),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    assert!(err.to_string().contains("cant_update_message"), "{err}");
}

async fn post_hook(s: &Setup, headers: &[(String, String)], body: &[u8]) -> (u16, Value) {
    let mut req = s
        .app
        .client
        .post(format!("{}/v1/webhooks/slack", s.app.base))
        .header("Content-Type", "application/json")
        .body(body.to_vec());
    for (k, v) in headers {
        req = req.header(k, v);
    }
    read(req.send().await.unwrap()).await
}

async fn events_api_deliveries(backend: TestBackend) {
    let s = setup(backend, SlackConfig::default()).await;
    let id = connected(&s).await;
    let now = chrono::Utc::now().timestamp();
    let challenge = json!({"token": "x", "team_id": "T0PATCHBAY", "type": "url_verification",
                           "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"});
    let body = serde_json::to_vec(&challenge).unwrap();
    let headers: Vec<(String, String)> = slack::sign(SIGNING_SECRET, now, &body)
        .into_iter()
        .collect();
    let (status, answer) = post_hook(&s, &headers, &body).await;
    assert_eq!(
        (status, &answer["challenge"]),
        (200, &challenge["challenge"])
    );
    // Tampered, wrongly signed or old deliveries are refused.
    let mut tampered = body.clone();
    tampered[3] ^= 1;
    assert_eq!(post_hook(&s, &headers, &tampered).await.0, 401);
    let wrong: Vec<_> = slack::sign("another-signing-secret-000000000", now, &body)
        .into_iter()
        .collect();
    assert_eq!(post_hook(&s, &wrong, &body).await.0, 401);
    let old: Vec<_> = slack::sign(SIGNING_SECRET, now - 600, &body)
        .into_iter()
        .collect();
    assert_eq!(post_hook(&s, &old, &body).await.0, 401);

    s.emu
        .set_event_url(Some(&format!("{}/v1/webhooks/slack", s.app.base)));
    let (said, deliveries) = s
        .emu
        .say("C0GENERAL", "U0GRACE", "hey <@U0BOT>, the numbers?", None)
        .await;
    assert_eq!(deliveries.len(), 2, "message and app_mention");
    assert!(
        deliveries.iter().all(|d| d.status == Some(202)),
        "{:?}",
        deliveries.iter().map(|d| d.status).collect::<Vec<_>>()
    );
    // Slack retries when the answer is slow; the same event id is stored once.
    let first: Value = serde_json::from_slice(&deliveries[0].body).unwrap();
    let again = s.emu.deliver(&first, None, 1).await;
    assert_eq!(again.status, Some(200), "a duplicate");
    let again: Value = serde_json::from_slice(&again.answer).unwrap();
    assert_eq!(again["events"][0]["duplicate"], true, "{again}");
    let (_, stored) = s
        .app
        .get(&format!("/v1/connections/{id}/webhook-events"), &s.key)
        .await;
    assert_eq!(stored["data"].as_array().unwrap().len(), 2, "{stored}");
    let (_, deliveries) = s.emu.create_channel("launch", "U0ADA").await;
    assert_eq!(deliveries[0].status, Some(202));
    process(&s.app).await;

    let ts = said["ts"].as_str().unwrap();
    let messages = records_of(&s.app, &s.key, &id, "messages").await;
    let m = messages
        .iter()
        .find(|m| m["id"] == format!("C0GENERAL:{ts}"))
        .unwrap();
    assert_eq!(m["data"]["user"], "U0GRACE");
    let channels = records_of(&s.app, &s.key, &id, "channels").await;
    assert!(
        channels.iter().any(|c| c["data"]["name"] == "launch"),
        "{channels:?}"
    );
    let (_, outbox) = s.app.get("/v1/events?limit=200", &s.key).await;
    let types: Vec<&str> = outbox["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    for t in ["message.received", "message.mentioned", "channel.created"] {
        assert_eq!(
            types.iter().filter(|x| **x == t).count(),
            1,
            "{t} in {types:?}"
        );
    }
    let received = outbox["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "message.received")
        .unwrap();
    assert_eq!(received["data"]["text"], "hey <@U0BOT>, the numbers?");
    assert_eq!(received["data"]["channel_id"], "C0GENERAL");
}

async fn signals_and_rate_limits(backend: TestBackend) {
    let s = setup(backend, SlackConfig::default()).await;
    let id = connected(&s).await;
    let dm = s.emu.open_dm("U0ADA", "U0GRACE");
    s.emu.say(&dm, "U0ADA", "did you see it?", None).await;
    s.emu.say(&dm, "U0GRACE", "yes, one question", None).await;
    s.emu
        .say("C0GENERAL", "U0LINUS", "<@U0ADA> please review", None)
        .await;
    s.emu
        .say("C0GENERAL", "U0LINUS", "<@U0GRACE> not for Ada", None)
        .await;
    let (status, answer) = s.app.get("/v1/signals?owner_id=user_1", &s.key).await;
    assert_eq!(status, 200, "{answer}");
    let mut titles: Vec<String> = answer["signals"]
        .as_array()
        .unwrap()
        .iter()
        .inspect(|sig| assert_eq!(sig["kind"], "message"))
        .map(|sig| sig["title"].as_str().unwrap().to_string())
        .collect();
    titles.sort();
    assert_eq!(
        titles,
        [
            "Direct message from <@U0GRACE>: yes, one question",
            "Mentioned in #general by <@U0LINUS>: <@U0ADA> please review"
        ],
        "{answer}"
    );

    s.emu.rate_limit_method("chat.postMessage", 1, 40);
    let send = || {
        s.app
            .req(reqwest::Method::POST, &action(&id, "send_message"), &s.key)
            .json(&json!({"channel": "C0GENERAL", "text": "hi"}))
            .send()
    };
    let resp = send().await.unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "40");
    let posts = |emu: &SlackEmulator| {
        emu.calls()
            .iter()
            .filter(|c| *c == "chat.postMessage")
            .count()
    };
    assert_eq!(posts(&s.emu), 1);
    // Held until Retry-After passes: Slack is not called again.
    let resp = send().await.unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(posts(&s.emu), 1);
    // Other methods are not held.
    let (status, _) = s
        .app
        .post(&action(&id, "get_users"), &s.key, json!({}))
        .await;
    assert_eq!(status, 200);
}

/// As the benchmark makes it: a token and a signing secret given directly; enabling names the
/// team (auth.test), which routes `/v1/webhooks/slack` deliveries to it.
async fn a_connection_made_with_secrets_routes_by_team(backend: TestBackend) {
    let s = setup(backend, SlackConfig::default()).await;
    let token = "xoxb-made-elsewhere-0001";
    let secret = "another-apps-signing-secret-0001";
    s.emu.add_token(token, slack::BOT_USER, slack::ALL_SCOPES);
    let created = s
        .app
        .connection(
            &s.key,
            json!({"connector": "slack", "owner": {"id": "u2"}, "enable": true,
                   "config": {"base_url": s.emu.api_url()},
                   "secrets": {"access_token": token, "signing_secret": secret}}),
        )
        .await;
    crate::assert_hidden(&created, token);
    assert_eq!(created["account_id"], "T0PATCHBAY", "{created}");
    let event = s
        .emu
        .envelope(json!({"type": "message", "channel": "C0RANDOM",
        "user": "U0ADA", "text": "routed", "ts": "1700000000.000100"}));
    let body = serde_json::to_vec(&event).unwrap();
    let now = chrono::Utc::now().timestamp();
    let headers: Vec<_> = slack::sign(secret, now, &body).into_iter().collect();
    let (status, answer) = post_hook(&s, &headers, &body).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["events"].as_array().unwrap().len(), 1, "{answer}");
    assert_eq!(answer["events"][0]["connection_id"], created["id"]);
    process(&s.app).await;
    let id = created["id"].as_str().unwrap();
    let messages = records_of(&s.app, &s.key, id, "messages").await;
    assert_eq!(messages[0]["id"], "C0RANDOM:1700000000.000100");
}

async fn messages_route_to_bindings_and_replies_go_to_the_thread(backend: TestBackend) {
    let s = setup(backend, SlackConfig::default()).await;
    let id = connected(&s).await;
    s.emu
        .set_event_url(Some(&format!("{}/v1/webhooks/slack", s.app.base)));
    let (parent, _) = s.emu.say("C0GENERAL", "U0GRACE", "a new topic", None).await;
    let ts = parent["ts"].as_str().unwrap().to_string();
    // The channel is bound to one target, the thread to another; the team comes from the
    // connection.
    let (st, channel) = s
        .app
        .post(
            "/v1/bindings",
            &s.key,
            json!({"channel_type": "slack", "connection_id": id,
            "channel_id": "C0GENERAL", "target": "sess_channel"}),
        )
        .await;
    assert_eq!(st, 201, "{channel}");
    assert_eq!(channel["scope_key"], "slack:T0PATCHBAY:C0GENERAL");
    let (st, thread) = s
        .app
        .post(
            "/v1/bindings",
            &s.key,
            json!({"channel_type": "slack", "connection_id": id,
            "channel_id": "C0GENERAL", "thread": ts, "target": "sess_thread"}),
        )
        .await;
    assert_eq!(st, 201, "{thread}");
    s.emu
        .say("C0GENERAL", "U0GRACE", "on the channel", None)
        .await;
    // A mention comes as `message` and as `app_mention`: routed once.
    s.emu
        .say("C0GENERAL", "U0GRACE", "<@U0BOT> in the thread", Some(&ts))
        .await;
    process(&s.app).await;
    let (_, outbox) = s.app.get("/v1/events?limit=500", &s.key).await;
    let routed: Vec<&Value> = outbox["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "message.routed")
        .collect();
    let targets: Vec<(&str, &str)> = routed
        .iter()
        .map(|e| {
            (
                e["data"]["target"].as_str().unwrap(),
                e["data"]["messages"][0]["text"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        targets,
        [
            // Processed after the bindings were made, so routed by them too.
            ("sess_channel", "a new topic"),
            ("sess_channel", "on the channel"),
            ("sess_thread", "<@U0BOT> in the thread")
        ],
        "{routed:?}"
    );
    assert_eq!(routed[2]["data"]["messages"][0]["thread"], ts.as_str());
    // The reply goes into the thread through the bot.
    let bid = thread["id"].as_str().unwrap();
    let (st, reply) = s
        .app
        .post(
            &format!("/v1/bindings/{bid}/reply"),
            &s.key,
            json!({"text": "on it"}),
        )
        .await;
    assert_eq!(st, 200, "{reply}");
    let sent = s.emu.messages("C0GENERAL");
    let answer = sent
        .iter()
        .find(|m| m["text"] == "on it")
        .unwrap_or_else(|| panic!("no reply in {sent:?}"));
    assert_eq!(answer["thread_ts"], ts.as_str(), "{answer}");
}
