//! Pub/Sub push after `users.watch`: subscriptions, signed deliveries checked against the
//! JWKS, retries of refused pushes, label filters, expiry and `stop`.

use super::{assert_google_error, empty, post, TOKEN};
use crate::google::{endpoint, until};
use crate::{http, Answer};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use patchbay_emulators::gmail::{Delivery, GmailEmulator, Mail};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

const TOPIC: &str = "projects/demo/topics/gmail";
const ACCOUNT: &str = "gmail-push@demo.iam.gserviceaccount.com";

async fn pubsub(emu: &GmailEmulator, method: Method, name: &str, body: Option<Value>) -> Answer {
    let url = format!("{}/v1/projects/demo/subscriptions/{name}", emu.base_url);
    let mut request = http().request(method, url).bearer_auth(TOKEN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    Answer::from(request.send().await.unwrap()).await
}

fn subscription(endpoint: &str, audience: Option<&str>) -> Value {
    let mut token = json!({"serviceAccountEmail": ACCOUNT});
    if let Some(audience) = audience {
        token["audience"] = audience.into();
    }
    json!({"topic": TOPIC, "pushConfig": {"pushEndpoint": endpoint, "oidcToken": token}})
}

async fn watch(emu: &GmailEmulator, body: Value) {
    let a = post(emu, "watch", body).await;
    assert_eq!(a.status, 200, "{}", a.text);
}

fn mail() -> Mail {
    Mail::new("grace@example.org", "Ping")
        .to("ada@example.com")
        .text("hi")
}

/// Verifies a push token against the emulator's published JWKS.
async fn verify(emu: &GmailEmulator, token: &str, audience: &str) -> Result<Value, String> {
    let jwks = Answer::from(http().get(emu.jwks_url()).send().await.unwrap()).await;
    assert_eq!(jwks.status, 200, "{}", jwks.text);
    let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    let jwks = jwks.json();
    let keys = jwks["keys"].as_array().unwrap();
    let jwk = keys.iter().find(|k| k["kid"] == kid.as_str()).unwrap();
    assert_eq!(
        (&jwk["kty"], &jwk["alg"], &jwk["use"]),
        (&json!("RSA"), &json!("RS256"), &json!("sig"))
    );
    let n = jwk["n"].as_str().unwrap();
    let key = DecodingKey::from_rsa_components(n, jwk["e"].as_str().unwrap()).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&["https://accounts.google.com"]);
    let data = jsonwebtoken::decode::<Value>(token, &key, &validation);
    data.map(|d| d.claims).map_err(|e| e.to_string())
}

#[tokio::test]
async fn watch_pushes_signed_notifications_to_each_subscription_of_its_topic() {
    let emu = empty().await;
    let (ep, url) = endpoint(&[]).await;
    let with_audience = format!("{url}/with-audience");
    let a = pubsub(
        &emu,
        Method::PUT,
        "gmail-push",
        Some(subscription(&with_audience, Some("patchbay-gmail"))),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let created = a.json();
    assert_eq!(created["name"], "projects/demo/subscriptions/gmail-push");
    assert_eq!(created["topic"], TOPIC);
    assert_eq!(created["ackDeadlineSeconds"], 10);
    assert_eq!(
        created["pushConfig"]["pushEndpoint"],
        with_audience.as_str()
    );
    assert_eq!(
        created["pushConfig"]["oidcToken"]["audience"],
        "patchbay-gmail"
    );
    let fetched = pubsub(&emu, Method::GET, "gmail-push", None).await;
    assert_eq!(fetched.json(), created);
    let no_audience = format!("{url}/no-audience");
    let a = pubsub(
        &emu,
        Method::PUT,
        "gmail-push-2",
        Some(subscription(&no_audience, None)),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let mut other = subscription(&format!("{url}/other-topic"), None);
    other["topic"] = "projects/demo/topics/other".into();
    assert_eq!(
        pubsub(&emu, Method::PUT, "elsewhere", Some(other))
            .await
            .status,
        200
    );

    // Nothing is pushed before a watch.
    emu.deliver(mail());
    watch(&emu, json!({"topicName": TOPIC})).await;
    assert_eq!(emu.watch_calls(), 1);
    emu.deliver(mail());
    let history_id = emu.history_id();
    until(|| emu.pushes().len() == 2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut received = ep.received();
    assert_eq!(received.len(), 2, "only the watched topic's subscriptions");
    received.sort_by(|a, b| a.path.cmp(&b.path));
    let (bare, audienced) = (&received[0], &received[1]);
    assert_eq!(
        (bare.path.as_str(), audienced.path.as_str()),
        ("/no-audience", "/with-audience")
    );

    for r in [bare, audienced] {
        assert_eq!(r.headers["content-type"], "application/json");
        let body = r.json();
        let message = &body["message"];
        let data = STANDARD.decode(message["data"].as_str().unwrap()).unwrap();
        let data: Value = serde_json::from_slice(&data).unwrap();
        assert_eq!(
            data,
            json!({"emailAddress": "ada@example.com", "historyId": history_id.to_string()})
        );
        let id = message["messageId"].as_str().unwrap();
        assert!(
            id.len() >= 16 && id.bytes().all(|b| b.is_ascii_digit()),
            "{id}"
        );
        assert_eq!(message["message_id"], id);
        let time = message["publishTime"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(time).is_ok() && time.ends_with('Z'),
            "{time}"
        );
        assert_eq!(message["publish_time"], time);
        assert_eq!(message["attributes"], json!({}));
    }
    assert_eq!(
        audienced.json()["subscription"],
        "projects/demo/subscriptions/gmail-push"
    );
    assert_eq!(
        bare.json()["subscription"],
        "projects/demo/subscriptions/gmail-push-2"
    );
    assert_eq!(
        bare.json()["message"]["messageId"],
        audienced.json()["message"]["messageId"]
    );

    let token = audienced.headers["authorization"]
        .strip_prefix("Bearer ")
        .unwrap();
    let claims = verify(&emu, token, "patchbay-gmail").await.unwrap();
    assert_eq!(claims["email"], ACCOUNT);
    assert_eq!(claims["email_verified"], true);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    let sub = claims["sub"].as_str().unwrap();
    assert!(
        sub.bytes().all(|b| b.is_ascii_digit()) && claims["azp"] == sub,
        "{claims}"
    );
    assert!(verify(&emu, token, "someone-else").await.is_err());
    // Without an audience the token is for the endpoint itself.
    let token = bare.headers["authorization"]
        .strip_prefix("Bearer ")
        .unwrap();
    assert_eq!(
        verify(&emu, token, &no_audience).await.unwrap()["email"],
        ACCOUNT
    );

    let pushes = emu.pushes();
    assert_eq!(pushes.len(), 2);
    assert!(pushes
        .iter()
        .all(|p| p.status == Some(200) && p.history_id == history_id));
    assert_eq!(
        pushes[0].message_id,
        audienced.json()["message"]["messageId"]
    );

    // Forged tokens sign with the same key; expiry is the consumer's to check.
    let now = chrono::Utc::now().timestamp();
    let expired = json!({"aud": "patchbay-gmail", "iss": "https://accounts.google.com",
                         "email": ACCOUNT, "iat": now - 7200, "exp": now - 3600});
    let forged = emu.sign_push_token(&expired);
    let error = verify(&emu, &forged, "patchbay-gmail").await.unwrap_err();
    assert!(error.contains("Expired"), "{error}");
}

#[tokio::test]
async fn refused_pushes_are_retried_with_backoff_and_recorded() {
    let emu = empty().await;
    let (ep, url) = endpoint(&[500, 503]).await;
    emu.subscribe("flaky", TOPIC, &url, Some("aud"), ACCOUNT);
    // Nothing listens on a port just freed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    emu.subscribe("projects/demo/subscriptions/down", TOPIC, &down, None, "");
    watch(&emu, json!({"topicName": TOPIC})).await;
    emu.deliver(mail());
    until(|| emu.pushes().len() == 8).await;

    let pushes = emu.pushes();
    let flaky: Vec<_> = pushes.iter().filter(|p| p.endpoint == url).collect();
    let statuses: Vec<_> = flaky.iter().map(|p| p.status).collect();
    assert_eq!(statuses, [Some(500), Some(503), Some(200)]);
    assert!(flaky
        .iter()
        .all(|p| p.subscription == "projects/demo/subscriptions/flaky"));
    let gone: Vec<_> = pushes.iter().filter(|p| p.endpoint == down).collect();
    assert_eq!(gone.len(), 5, "bounded attempts");
    assert!(gone.iter().all(|p| p.status.is_none()));
    assert!(pushes.iter().all(|p| p.message_id == pushes[0].message_id));

    let received = ep.received();
    assert_eq!(received.len(), 3);
    assert!(received[1].at - received[0].at >= Duration::from_millis(100));
    assert!(received[2].at - received[1].at >= Duration::from_millis(200));
    let ids: Vec<_> = received
        .iter()
        .map(|r| r.json()["message"]["messageId"].clone())
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "a retry redelivers the same message"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        emu.pushes().len(),
        8,
        "acknowledged and exhausted pushes stop"
    );
}

#[tokio::test]
async fn label_filters_expiry_and_stop_decide_what_is_pushed() {
    let emu = empty().await;
    let (ep, url) = endpoint(&[]).await;
    emu.subscribe("inbox", TOPIC, &url, None, ACCOUNT);
    let body = json!({"topicName": TOPIC, "labelIds": ["INBOX"], "labelFilterBehavior": "include"});
    watch(&emu, body).await;
    let spam = Delivery::from(mail()).labels(&["SPAM"]);
    let (spam_id, _) = emu.deliver(spam);
    let (inbox_id, _) = emu.deliver(mail());
    let after_inbox = emu.history_id();
    assert!(emu.set_labels(&spam_id, &["INBOX"]));
    let after_move = emu.history_id();
    // Pushes are recorded once answered, and each message is delivered on its own.
    until(|| emu.pushes().len() == 2).await;
    let mut ids: Vec<u64> = emu.pushes().iter().map(|p| p.history_id).collect();
    ids.sort();
    assert_eq!(
        ids,
        [after_inbox, after_move],
        "SPAM delivery is not pushed"
    );

    emu.set_watch_expiration(chrono::Utc::now().timestamp_millis() - 1);
    assert!(emu.set_labels(&inbox_id, &["INBOX", "STARRED"]));
    watch(&emu, json!({"topicName": TOPIC})).await;
    assert_eq!(emu.watch_calls(), 2);
    let a = post(&emu, "stop", json!({})).await;
    assert_eq!(a.status, 204);
    assert_eq!(emu.stop_calls(), 1);
    emu.deliver(mail());
    assert!(emu.delete_message(&inbox_id));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        ep.received().len(),
        2,
        "an expired or stopped watch pushes nothing"
    );
    assert_eq!(emu.pushes().len(), 2);
}

#[tokio::test]
async fn subscription_routes_answer_like_pubsub() {
    let emu = empty().await;
    let body = subscription("https://hooks.example.com/gmail", None);
    let a = pubsub(&emu, Method::PUT, "twice", Some(body.clone())).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(a.json()["pushConfig"]["oidcToken"]
        .get("audience")
        .is_none());
    let a = pubsub(&emu, Method::PUT, "twice", Some(body.clone())).await;
    assert_google_error(&a, 409, "alreadyExists", "ALREADY_EXISTS");
    let a = pubsub(&emu, Method::GET, "missing", None).await;
    assert_google_error(&a, 404, "notFound", "NOT_FOUND");

    let mut bad_topic = body.clone();
    bad_topic["topic"] = "gmail".into();
    let a = pubsub(&emu, Method::PUT, "bad-topic", Some(bad_topic)).await;
    assert_google_error(&a, 400, "invalidArgument", "INVALID_ARGUMENT");
    let bad_endpoint = subscription("not a url", None);
    let a = pubsub(&emu, Method::PUT, "bad-endpoint", Some(bad_endpoint)).await;
    assert_google_error(&a, 400, "invalidArgument", "INVALID_ARGUMENT");
    let a = pubsub(&emu, Method::PUT, "x", Some(body.clone())).await;
    assert_google_error(&a, 400, "invalidArgument", "INVALID_ARGUMENT");

    let a = pubsub(&emu, Method::DELETE, "twice", None).await;
    assert_eq!((a.status.as_u16(), a.json()), (200, json!({})));
    let a = pubsub(&emu, Method::GET, "twice", None).await;
    assert_google_error(&a, 404, "notFound", "NOT_FOUND");
    let a = pubsub(&emu, Method::DELETE, "twice", None).await;
    assert_google_error(&a, 404, "notFound", "NOT_FOUND");

    let url = format!("{}/v1/projects/demo/subscriptions/open", emu.base_url);
    let a = Answer::from(http().put(url).json(&body).send().await.unwrap()).await;
    assert_google_error(&a, 401, "authError", "UNAUTHENTICATED");
    let a = Answer::from(http().get(emu.jwks_url()).send().await.unwrap()).await;
    assert_eq!(a.status, 200, "the JWKS is public");
    let keys = a.json()["keys"].clone();
    assert_eq!(keys[0]["e"], "AQAB");
    assert_eq!(keys.as_array().unwrap().len(), 1);
    let counts = emu.request_counts();
    assert_eq!(counts["PUT /v1/projects/{project}/subscriptions/{id}"], 6);
}
