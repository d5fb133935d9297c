//! Webhook schemes chosen per connection, payload routing (GitHub App `installation.id`, Slack
//! `team_id`) and handshakes (Discord PING, Slack URL verification), through the generic JSON
//! connector.

use crate::{both_backends, TestApp};
use patchbay_connectors::webhooks::{discord_public_key_hex, sign};
use patchbay_core::{now_ms, WebhookScheme};
use patchbay_emulators::records::{self, RecordsConfig, RecordsEmulator};
use patchbay_store::testing::TestBackend;
use serde_json::{json, Value};

both_backends!(
    payload_routed_deliveries_reach_every_verifying_connection,
    handshakes_are_answered_after_verification_and_not_stored,
    a_connection_without_a_scheme_refuses_every_delivery
);

const GITHUB_SECRET: &str = "gh-app-webhook-secret-1";
const DISCORD_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

async fn source() -> RecordsEmulator {
    records::spawn(RecordsConfig {
        count: 3,
        ..Default::default()
    })
    .await
    .unwrap()
}

async fn hooked(
    app: &TestApp,
    key: &str,
    em: &RecordsEmulator,
    owner: &str,
    extra: Value,
    secret: Option<&str>,
) -> String {
    let mut config = json!({"base_url": em.base_url, "list_path": "/v1/records"});
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    let mut secrets = json!({"api_key": em.config().api_key});
    if let Some(s) = secret {
        secrets["webhook_secret"] = json!(s);
    }
    let c = app
        .connection(
            key,
            json!({"connector": "http_json", "owner": {"id": owner}, "enable": true,
                   "config": config, "secrets": secrets}),
        )
        .await;
    c["id"].as_str().unwrap().to_string()
}

async fn deliver(
    app: &TestApp,
    path: &str,
    headers: Vec<(String, String)>,
    body: &[u8],
    content_type: &str,
) -> (u16, Value) {
    let mut rb = app
        .client
        .post(format!("{}{path}", app.base))
        .header("content-type", content_type)
        .body(body.to_vec());
    for (k, v) in headers {
        rb = rb.header(k, v);
    }
    crate::read(rb.send().await.unwrap()).await
}

async fn stored(app: &TestApp, key: &str, id: &str) -> usize {
    let (s, b) = app
        .get(&format!("/v1/connections/{id}/webhook-events"), key)
        .await;
    assert_eq!(s, 200, "{b}");
    b["data"].as_array().unwrap().len()
}

async fn payload_routed_deliveries_reach_every_verifying_connection(backend: TestBackend) {
    let em = source().await;
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let github = json!({"webhook_scheme": "github_hmac_sha256", "account": "4242"});
    let a = hooked(&app, &key, &em, "u1", github.clone(), Some(GITHUB_SECRET)).await;
    let b = hooked(&app, &key, &em, "u2", github, Some(GITHUB_SECRET)).await;
    // Same account, another secret: the delivery does not verify for it.
    let other = hooked(
        &app,
        &key,
        &em,
        "u3",
        json!({"webhook_scheme": "github_hmac_sha256", "account": "4242"}),
        Some("some-other-secret"),
    )
    .await;
    let body = br#"{"action":"opened","installation":{"id":4242},"pull_request":{"number":1}}"#;
    let headers = sign(
        WebhookScheme::GithubHmacSha256,
        GITHUB_SECRET,
        body,
        now_ms() / 1000,
        "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    );
    let (s, ack) = deliver(
        &app,
        "/v1/webhooks/http_json",
        headers.clone(),
        body,
        "application/json",
    )
    .await;
    assert_eq!(s, 202, "{ack}");
    let mut routed: Vec<&str> = ack["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["connection_id"].as_str().unwrap())
        .collect();
    routed.sort();
    let mut expected = vec![a.as_str(), b.as_str()];
    expected.sort();
    assert_eq!(routed, expected);
    assert_eq!(
        (
            stored(&app, &key, &a).await,
            stored(&app, &key, &b).await,
            stored(&app, &key, &other).await
        ),
        (1, 1, 0)
    );
    // A redelivery is recognised for each connection.
    let (s, again) = deliver(
        &app,
        "/v1/webhooks/http_json",
        headers,
        body,
        "application/json",
    )
    .await;
    assert_eq!(s, 200, "{again}");
    assert!(again["events"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["duplicate"] == true));
    // Tampered: verifies for nobody.
    let tampered = br#"{"action":"opened","installation":{"id":4242},"pull_request":{"number":2}}"#;
    let stale_headers = sign(
        WebhookScheme::GithubHmacSha256,
        GITHUB_SECRET,
        body,
        now_ms() / 1000,
        "d-2",
    );
    let (s, e) = deliver(
        &app,
        "/v1/webhooks/http_json",
        stale_headers,
        tampered,
        "application/json",
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (401, Some("unauthorized")),
        "{e}"
    );
    // An account nobody connected, a payload naming no account, an unknown connector.
    let nobody = br#"{"installation":{"id":1}}"#;
    let h = sign(
        WebhookScheme::GithubHmacSha256,
        GITHUB_SECRET,
        nobody,
        0,
        "d-3",
    );
    let (s, _) = deliver(
        &app,
        "/v1/webhooks/http_json",
        h,
        nobody,
        "application/json",
    )
    .await;
    assert_eq!(s, 404);
    let (s, e) = deliver(
        &app,
        "/v1/webhooks/http_json",
        vec![],
        b"{}",
        "application/json",
    )
    .await;
    assert_eq!(s, 400, "{e}");
    let (s, _) = deliver(&app, "/v1/webhooks/nope", vec![], b"{}", "application/json").await;
    assert_eq!(s, 404);
    // Slack: routed by team_id, form-encoded slash commands included.
    let slack_secret = "8f742231b10e8888abcd99yyyzzz85a5";
    let s1 = hooked(
        &app,
        &key,
        &em,
        "u4",
        json!({"webhook_scheme": "slack_v0", "account": "T061EG9R6"}),
        Some(slack_secret),
    )
    .await;
    let command = b"token=x&team_id=T061EG9R6&command=%2Fweather&text=94070";
    let h = sign(
        WebhookScheme::SlackV0,
        slack_secret,
        command,
        now_ms() / 1000,
        "",
    );
    let (s, ack) = deliver(
        &app,
        "/v1/webhooks/http_json",
        h,
        command,
        "application/x-www-form-urlencoded",
    )
    .await;
    assert_eq!(s, 202, "{ack}");
    assert_eq!(ack["events"][0]["connection_id"], s1.as_str());
    // The stored event is processed like any other: it queues a resync.
    assert!(
        app.engine
            .webhooks()
            .process_webhooks_once(10)
            .await
            .unwrap()
            >= 1
    );
    let (_, events) = app
        .get(&format!("/v1/connections/{s1}/webhook-events"), &key)
        .await;
    assert_eq!(events["data"][0]["status"], "processed", "{events}");
}

async fn handshakes_are_answered_after_verification_and_not_stored(backend: TestBackend) {
    let em = source().await;
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let public = discord_public_key_hex(DISCORD_SEED);
    let d = hooked(
        &app,
        &key,
        &em,
        "u1",
        json!({"webhook_scheme": "discord_ed25519"}),
        Some(&public),
    )
    .await;
    let path = format!("/v1/webhooks/http_json/{d}");
    let ping =
        br#"{"id":"1183473527423729734","application_id":"11","type":1,"token":"t","version":1}"#;
    let now = now_ms() / 1000;
    let h = sign(WebhookScheme::DiscordEd25519, DISCORD_SEED, ping, now, "");
    let (s, pong) = deliver(&app, &path, h.clone(), ping, "application/json").await;
    assert_eq!((s, pong), (200, json!({"type": 1})));
    // Discord sends PINGs with bad signatures to check the endpoint refuses them.
    let mut forged = ping.to_vec();
    forged[8] ^= 1;
    let (s, _) = deliver(&app, &path, h, &forged, "application/json").await;
    assert_eq!(s, 401);
    assert_eq!(stored(&app, &key, &d).await, 0, "handshakes are not events");
    // A command interaction is an ordinary event.
    let command = br#"{"id":"2","type":2,"data":{"name":"deploy"}}"#;
    let h = sign(
        WebhookScheme::DiscordEd25519,
        DISCORD_SEED,
        command,
        now,
        "",
    );
    let (s, ack) = deliver(&app, &path, h, command, "application/json").await;
    assert_eq!((s, ack["duplicate"].as_bool()), (202, Some(false)), "{ack}");
    assert_eq!(stored(&app, &key, &d).await, 1);

    // Slack URL verification on the routed endpoint.
    let slack_secret = "slack-signing-secret-1";
    hooked(
        &app,
        &key,
        &em,
        "u2",
        json!({"webhook_scheme": "slack_v0", "account": "T1"}),
        Some(slack_secret),
    )
    .await;
    let challenge = br#"{"token":"x","team_id":"T1","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let h = sign(WebhookScheme::SlackV0, slack_secret, challenge, now, "");
    let (s, answer) = deliver(
        &app,
        "/v1/webhooks/http_json",
        h,
        challenge,
        "application/json",
    )
    .await;
    assert_eq!(
        (s, answer),
        (
            200,
            json!({"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
        )
    );
    // A stale Slack timestamp is refused even for a handshake.
    let h = sign(
        WebhookScheme::SlackV0,
        slack_secret,
        challenge,
        now - 600,
        "",
    );
    let (s, _) = deliver(
        &app,
        "/v1/webhooks/http_json",
        h,
        challenge,
        "application/json",
    )
    .await;
    assert_eq!(s, 401);
}

async fn a_connection_without_a_scheme_refuses_every_delivery(backend: TestBackend) {
    let em = source().await;
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let plain = hooked(&app, &key, &em, "u1", json!({}), None).await;
    let body = br#"{"type":"item.updated"}"#;
    let h = sign(
        WebhookScheme::StandardWebhooks,
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        body,
        now_ms() / 1000,
        "msg_1",
    );
    let (s, e) = deliver(
        &app,
        &format!("/v1/webhooks/http_json/{plain}"),
        h,
        body,
        "application/json",
    )
    .await;
    assert_eq!(s, 401, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no webhook scheme"),
        "{e}"
    );
    // A scheme without its secret cannot be enabled.
    let (s, e) = app
        .post(
            "/v1/connections",
            &key,
            json!({"connector": "http_json", "owner": {"id": "u2"}, "enable": true,
                   "config": {"base_url": em.base_url, "list_path": "/v1/records", "webhook_scheme": "standard_webhooks"},
                   "secrets": {"api_key": em.config().api_key}}),
        )
        .await;
    assert_eq!(s, 422, "{e}");
    assert!(e.to_string().contains("secrets.webhook_secret"), "{e}");
}
