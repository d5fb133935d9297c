//! The Slack emulator: tokens and `ok: false` errors, form, JSON and query arguments, cursor
//! pages, scopes, OAuth v2 with bot and user tokens, tiers and injected 429s, signed deliveries.

use crate::http;
use patchbay_emulators::slack::{
    self, SlackConfig, ALL_SCOPES, BOT_USER, CLIENT_ID, CLIENT_SECRET,
};
use patchbay_emulators::SlackEmulator;
use serde_json::{json, Value};

const TOKEN: &str = "xoxb-emulator-test-token";

async fn emulator(config: SlackConfig) -> SlackEmulator {
    let emu = slack::spawn(config).await.unwrap();
    emu.add_token(TOKEN, BOT_USER, ALL_SCOPES);
    emu
}

async fn form(
    emu: &SlackEmulator,
    token: &str,
    method: &str,
    args: &[(&str, &str)],
) -> (u16, Value) {
    let resp = http()
        .post(format!("{}/{method}", emu.api_url()))
        .bearer_auth(token)
        .form(args)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn tokens_and_errors_answer_ok_false_with_status_200() {
    let emu = emulator(SlackConfig::default()).await;
    let (status, body) = form(&emu, "xoxb-unknown", "auth.test", &[]).await;
    assert_eq!(
        (status, body),
        (200, json!({"ok": false, "error": "invalid_auth"}))
    );
    let resp = http()
        .post(format!("{}/auth.test", emu.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap()["error"], "not_authed");
    // A token may also come as an argument.
    let (_, me) = form(&emu, "", "auth.test", &[("token", TOKEN)]).await;
    assert_eq!(
        (me["ok"].clone(), me["team_id"].clone()),
        (json!(true), json!("T0PATCHBAY"))
    );
    let (_, err) = form(&emu, TOKEN, "chat.postMessage", &[("channel", "C0NOPE")]).await;
    assert_eq!(err["error"], "channel_not_found");
    let (_, err) = form(&emu, TOKEN, "chat.postMessage", &[("channel", "C0GENERAL")]).await;
    assert_eq!(err["error"], "no_text");
    let (_, err) = form(
        &emu,
        TOKEN,
        "conversations.history",
        &[("channel", "C0ANNOUNCE")],
    )
    .await;
    assert_eq!(err["error"], "not_in_channel");
    let narrow = "xoxb-narrow";
    emu.add_token(narrow, BOT_USER, "chat:write");
    let (_, err) = form(&emu, narrow, "users.list", &[]).await;
    assert_eq!(err["error"], "missing_scope");
    emu.revoke_token(TOKEN);
    let (_, err) = form(&emu, TOKEN, "auth.test", &[]).await;
    assert_eq!(err["error"], "token_revoked");
}

#[tokio::test]
async fn json_bodies_threads_and_cursor_pages() {
    let emu = emulator(SlackConfig {
        seeded_messages: 5,
        extra_users: 3,
        ..Default::default()
    })
    .await;
    let posted: Value = http()
        .post(format!("{}/chat.postMessage", emu.api_url()))
        .bearer_auth(TOKEN)
        .json(&json!({"channel": "C0GENERAL", "text": "hi",
                      "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(posted["message"]["bot_id"], "B0PATCHBAY", "{posted}");
    let ts = posted["ts"].as_str().unwrap();
    let (_, reply) = form(
        &emu,
        TOKEN,
        "chat.postMessage",
        &[
            ("channel", "C0GENERAL"),
            ("text", "in thread"),
            ("thread_ts", ts),
        ],
    )
    .await;
    assert_eq!(reply["message"]["thread_ts"], ts);
    // History hides replies and pages newest first; GET with a query works too.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let url = format!(
            "{}/conversations.history?channel=C0GENERAL&limit=3&cursor={cursor}",
            emu.api_url()
        );
        let page: Value = http()
            .get(url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        seen.extend(
            page["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["ts"].clone()),
        );
        cursor = page["response_metadata"]["next_cursor"]
            .as_str()
            .unwrap()
            .to_string();
        if cursor.is_empty() {
            assert_eq!(page["has_more"], false);
            break;
        }
    }
    assert_eq!(seen.len(), 7, "5 seeded, a thread parent and ours");
    assert_eq!(seen[0], json!(ts));
    let (_, replies) = form(
        &emu,
        TOKEN,
        "conversations.replies",
        &[("channel", "C0GENERAL"), ("ts", ts)],
    )
    .await;
    assert_eq!(replies["messages"].as_array().unwrap().len(), 2);
    let (_, parent) = form(
        &emu,
        TOKEN,
        "conversations.history",
        &[("channel", "C0GENERAL"), ("limit", "1")],
    )
    .await;
    assert_eq!(parent["messages"][0]["reply_count"], 1);
    let (_, users) = form(&emu, TOKEN, "users.list", &[("limit", "5")]).await;
    assert_eq!(users["members"].as_array().unwrap().len(), 5);
    assert!(!users["response_metadata"]["next_cursor"]
        .as_str()
        .unwrap()
        .is_empty());
    let (_, err) = form(&emu, TOKEN, "users.list", &[("cursor", "garbage")]).await;
    assert_eq!(err["error"], "invalid_cursor");
}

#[tokio::test]
async fn oauth_v2_grants_bot_and_user_tokens() {
    let emu = emulator(SlackConfig::default()).await;
    let authorize = format!(
        "{}?client_id={CLIENT_ID}&scope=chat:write,users:read&user_scope=im:history&redirect_uri=https://app.example/cb&state=s1",
        emu.authorize_url()
    );
    let resp = http().get(&authorize).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let token_url = emu.token_url();
    let exchange = |secret: &'static str, code: String| {
        let token_url = token_url.clone();
        async move {
            http()
                .post(token_url)
                .form(&[
                    ("client_id", CLIENT_ID),
                    ("client_secret", secret),
                    ("code", &code),
                    ("redirect_uri", "https://app.example/cb"),
                ])
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        exchange("wrong", code.clone()).await["error"],
        "bad_client_secret"
    );
    let granted = exchange(CLIENT_SECRET, code.clone()).await;
    assert_eq!(granted["ok"], true, "{granted}");
    assert_eq!(
        (granted["token_type"].clone(), granted["team"]["id"].clone()),
        (json!("bot"), json!("T0PATCHBAY"))
    );
    let user = granted["authed_user"]["access_token"].as_str().unwrap();
    assert!(user.starts_with("xoxp-") && emu.token_valid(user));
    let (_, me) = form(&emu, user, "auth.test", &[]).await;
    assert_eq!(me["user_id"], "U0ADA");
    // A code is used once.
    assert_eq!(exchange(CLIENT_SECRET, code).await["error"], "invalid_code");
    emu.deny_next();
    let resp = http().get(&authorize).send().await.unwrap();
    assert!(resp.headers()["location"]
        .to_str()
        .unwrap()
        .contains("error=access_denied"));
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let emu = emulator(SlackConfig {
        enforce_tiers: true,
        ..Default::default()
    })
    .await;
    emu.rate_limit_method("chat.postMessage", 1, 30);
    let resp = http()
        .post(format!("{}/chat.postMessage", emu.api_url()))
        .bearer_auth(TOKEN)
        .form(&[("channel", "C0GENERAL"), ("text", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "30");
    assert_eq!(resp.json::<Value>().await.unwrap()["error"], "ratelimited");
    // users.list is tier 2: 20 a minute.
    for _ in 0..20 {
        assert_eq!(form(&emu, TOKEN, "users.list", &[]).await.0, 200);
    }
    assert_eq!(form(&emu, TOKEN, "users.list", &[]).await.0, 429);
    assert_eq!(form(&emu, TOKEN, "auth.test", &[]).await.0, 200);
}

#[tokio::test]
async fn deliveries_are_signed_and_retries_say_so() {
    let emu = emulator(SlackConfig::default()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/events",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let tx = tx.clone();
                async move {
                    tx.send((headers, body.to_vec())).unwrap();
                    "ok"
                }
            },
        ),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    emu.set_event_url(Some(&format!("http://{addr}/events")));
    let (_, deliveries) = emu.say("C0GENERAL", "U0GRACE", "hi <@U0BOT>", None).await;
    assert_eq!(deliveries.len(), 2);
    let (headers, body) = rx.recv().await.unwrap();
    let ts: i64 = headers["x-slack-request-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let expected = slack::sign(slack::SIGNING_SECRET, ts, &body);
    assert_eq!(
        headers["x-slack-signature"].to_str().unwrap(),
        expected["X-Slack-Signature"]
    );
    let envelope: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(envelope["event"]["type"], "message");
    let _ = rx.recv().await.unwrap();
    let again = emu.deliver(&envelope, None, 2).await;
    assert_eq!(again.status, Some(200));
    let (headers, body2) = rx.recv().await.unwrap();
    assert_eq!(body2, body, "the same event");
    assert_eq!(headers["x-slack-retry-num"], "2");
    assert_eq!(headers["x-slack-retry-reason"], "http_timeout");
}
