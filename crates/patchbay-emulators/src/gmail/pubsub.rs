//! Cloud Pub/Sub as `users.watch` uses it: the subscriptions admin subset
//! (`/v1/projects/{project}/subscriptions/{subscription}`), push deliveries of Gmail's
//! `{emailAddress, historyId}` notifications with a signed OIDC token, and the JWKS that
//! verifies those tokens (`/oauth2/v3/certs`, as `www.googleapis.com` serves it).

use super::history::{topic_valid, touches};
use super::request::{json_body, ok};
use super::routes::{Answer, ApiError, App};
use super::store::Record;
use super::{lock, Mailbox, WatchRequest};
use crate::EmulatorHandle;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// The emulator's push signing key (PKCS#1 PEM).
const KEY_PEM: &str = include_str!("push_signing_key.pem");
/// The key's modulus, base64url without padding, as the JWKS publishes it.
pub const N: &str = "yOw_IJo5KXoH_5qXsqFv-Jx2j3Twlj9W7IE8Z50XvW8JwGqubPGRoqPvicU8_N0IUnP2rR2TlPPohJp6UtyzAa81XZ3cVJ1ht18xgPanjntodASdoQMrDxMt5w98Jtdhne_04Smqa46pQmWf1mpdFp7lFP32l_3GUffmmE7p9uqcyf6Da4Shv_mni5cfwi9QxPC44zbr5G13b1Mac16WgPBJmNjx6PR5zmihZkMeDsLDJGAz2FDSRZKWqqp8NdZ35oMd8krP_1xhTW8msmO7hfXutIAn7GPpO9-rA81R84SjSjwEl-JUtfAlT8U6Gd9Dwz2okckttIRM8fGDSn3Jfw";
/// The first 40 hex digits of SHA-256 over `N`, as long as Google's key ids.
const KID: &str = "a345c668153a7df4a9dbd1f866bb3ef36d3fa5eb";
/// Pub/Sub retries a refused push with backoff; bounded here so tests finish.
const ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Pub/Sub's default acknowledgement deadline, also its push timeout.
const ACK_DEADLINE: u64 = 10;
const USER_AGENT: &str =
    "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)";

/// One push attempt, as the endpoint answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    /// `projects/{project}/subscriptions/{subscription}`.
    pub subscription: String,
    pub endpoint: String,
    /// `None` when the endpoint could not be reached.
    pub status: Option<u16>,
    /// The `historyId` the notification carried.
    pub history_id: u64,
    /// The Pub/Sub `messageId`, the same for every attempt and subscription of a message.
    pub message_id: String,
}

#[derive(Clone)]
struct Subscription {
    name: String,
    topic: String,
    /// `None` for a pull subscription, which is never pushed to.
    endpoint: Option<String>,
    oidc: Option<Oidc>,
    ack_deadline: u64,
}

#[derive(Clone)]
struct Oidc {
    service_account: String,
    audience: Option<String>,
}

/// A notification for a watched topic, sent by the store as it writes history.
pub struct Publish {
    topic: String,
    history_id: u64,
}

pub type Outbox = mpsc::UnboundedSender<Publish>;

/// Push state shared by the routes, the publisher task and its deliveries.
pub struct PubSub {
    email: String,
    subscriptions: Mutex<BTreeMap<String, Subscription>>,
    pushes: Mutex<Vec<Push>>,
    next_message_id: AtomicU64,
    pub watch_calls: AtomicUsize,
    pub stop_calls: AtomicUsize,
    key: EncodingKey,
    client: reqwest::Client,
}

impl PubSub {
    pub fn new(email: String) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(ACK_DEADLINE))
            .build()
            .expect("HTTP client");
        PubSub {
            email,
            subscriptions: Mutex::default(),
            pushes: Mutex::default(),
            // Pub/Sub message ids are 16-digit decimals; random so emulators do not collide.
            next_message_id: AtomicU64::new(1_000_000_000_000_000 + rand::random::<u32>() as u64),
            watch_calls: AtomicUsize::new(0),
            stop_calls: AtomicUsize::new(0),
            key: EncodingKey::from_rsa_pem(KEY_PEM.as_bytes()).expect("bundled RSA key"),
            client,
        }
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(KID.to_string());
        jsonwebtoken::encode(&header, claims, &self.key).expect("RS256 with an RSA key")
    }

    /// The token Pub/Sub sends with a push to `endpoint`.
    fn token(&self, oidc: &Oidc, endpoint: &str) -> String {
        let now = chrono::Utc::now().timestamp();
        let id = unique_id(&oidc.service_account);
        self.sign(&json!({
            "aud": oidc.audience.as_deref().unwrap_or(endpoint),
            "azp": id,
            "email": oidc.service_account,
            "email_verified": true,
            "exp": now + 3600,
            "iat": now,
            "iss": "https://accounts.google.com",
            "sub": id,
        }))
    }

    /// Sends one message to every push subscription of its topic, each on its own task.
    fn publish(self: &Arc<Self>, publish: Publish) {
        let message_id = self
            .next_message_id
            .fetch_add(1, Ordering::SeqCst)
            .to_string();
        let data = json!({"emailAddress": self.email, "historyId": publish.history_id.to_string()});
        let time = crate::rfc3339(chrono::Utc::now());
        let message = json!({
            "attributes": {},
            "data": STANDARD.encode(data.to_string()),
            "messageId": message_id,
            "message_id": message_id,
            "publishTime": time,
            "publish_time": time,
        });
        let subscriptions = lock(&self.subscriptions);
        let targets = subscriptions
            .values()
            .filter(|s| s.topic == publish.topic && s.endpoint.is_some());
        for target in targets.cloned() {
            let body = json!({"message": message, "subscription": target.name});
            let push = Push {
                subscription: target.name.clone(),
                endpoint: target.endpoint.clone().unwrap_or_default(),
                status: None,
                history_id: publish.history_id,
                message_id: message_id.clone(),
            };
            tokio::spawn(self.clone().deliver(target, body, push));
        }
    }

    /// POSTs until acknowledged or out of attempts, recording each attempt.
    async fn deliver(self: Arc<Self>, target: Subscription, body: Value, push: Push) {
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=ATTEMPTS {
            let mut request = self.client.post(&push.endpoint).json(&body);
            request = request.header(header::USER_AGENT, USER_AGENT);
            if let Some(oidc) = &target.oidc {
                request = request.bearer_auth(self.token(oidc, &push.endpoint));
            }
            let status = request.send().await.ok().map(|r| r.status().as_u16());
            lock(&self.pushes).push(Push {
                status,
                ..push.clone()
            });
            // The codes Pub/Sub takes as an acknowledgement; anything else is retried.
            if status.is_some_and(|s| [200, 201, 202, 204].contains(&s)) || attempt == ATTEMPTS {
                return;
            }
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }
}

/// Starts the task that publishes what the store announces; it ends with the store.
pub fn start(pubsub: Arc<PubSub>) -> Outbox {
    let (outbox, mut announced) = mpsc::unbounded_channel::<Publish>();
    tokio::spawn(async move {
        while let Some(publish) = announced.recv().await {
            pubsub.publish(publish);
        }
    });
    outbox
}

/// Announces `record` when a live watch asks for it: all changes without `labelIds`, else
/// those touching (`include`, the default) or not touching (`exclude`) the watched labels.
pub fn announce(outbox: Option<&Outbox>, watch: Option<&WatchRequest>, record: &Record) {
    let (Some(outbox), Some(watch)) = (outbox, watch) else {
        return;
    };
    if watch.expiration <= chrono::Utc::now().timestamp_millis() {
        return;
    }
    if !watch.label_ids.is_empty() {
        let touched = watch.label_ids.iter().any(|l| touches(record, l));
        let exclude = watch.label_filter_behavior.as_deref() == Some("exclude");
        if touched == exclude {
            return;
        }
    }
    let topic = watch.topic_name.clone();
    let _ = outbox.send(Publish {
        topic,
        history_id: record.id,
    });
}

/// A service account's numeric id (`sub`, `azp`): 21 digits, stable per address.
fn unique_id(email: &str) -> String {
    let digest = Sha256::digest(email.as_bytes());
    let bytes: [u8; 8] = digest[..8].try_into().unwrap_or_default();
    format!("1{:020}", u64::from_be_bytes(bytes))
}

/// Letters, digits and `-._~%+`, 3 to 255 long, starting with a letter, not with `goog`.
fn subscription_id_valid(id: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-._~%+".contains(c);
    (3..=255).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_alphabetic())
        && !id.starts_with("goog")
        && id.chars().all(allowed)
}

fn endpoint_valid(endpoint: &str) -> bool {
    reqwest::Url::parse(endpoint)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

impl Subscription {
    /// A subscription from a `subscriptions.create` body, checked as Pub/Sub checks it.
    fn from_request(name: String, body: &Value) -> Result<Self, ApiError> {
        let id = name.rsplit('/').next().unwrap_or_default();
        if !subscription_id_valid(id) {
            let message = format!("Invalid [subscriptions] name: (name={name})");
            return Err(ApiError::invalid(message));
        }
        let topic = body["topic"].as_str().unwrap_or_default();
        if !topic_valid(topic) {
            return Err(ApiError::invalid(format!(
                "Invalid [topics] name: (name={topic})"
            )));
        }
        let push = &body["pushConfig"];
        let endpoint = push["pushEndpoint"].as_str().filter(|e| !e.is_empty());
        if let Some(endpoint) = endpoint.filter(|e| !endpoint_valid(e)) {
            return Err(ApiError::invalid(format!(
                "Invalid push endpoint given (endpoint={endpoint}). Refer to \
                 https://cloud.google.com/pubsub/docs/push#configure_push_endpoints \
                 for more information."
            )));
        }
        let oidc = match push.get("oidcToken") {
            None => None,
            Some(token) => {
                let account = token["serviceAccountEmail"].as_str().unwrap_or_default();
                if !account.contains('@') {
                    let message = "Invalid service account email in the OIDC token.";
                    return Err(ApiError::invalid(message));
                }
                let audience = token["audience"].as_str().filter(|a| !a.is_empty());
                Some(Oidc {
                    service_account: account.to_string(),
                    audience: audience.map(str::to_string),
                })
            }
        };
        let ack_deadline = match body["ackDeadlineSeconds"].as_u64() {
            None | Some(0) => ACK_DEADLINE,
            Some(s @ 10..=600) => s,
            Some(s) => {
                let message = format!("Invalid ack deadline given: {s}. Must be 10 to 600.");
                return Err(ApiError::invalid(message));
            }
        };
        Ok(Subscription {
            name,
            topic: topic.to_string(),
            endpoint: endpoint.map(str::to_string),
            oidc,
            ack_deadline,
        })
    }

    fn render(&self) -> Value {
        let mut push = json!({});
        if let Some(endpoint) = &self.endpoint {
            push["pushEndpoint"] = endpoint.as_str().into();
        }
        if let Some(oidc) = &self.oidc {
            push["oidcToken"] = json!({"serviceAccountEmail": oidc.service_account});
            if let Some(audience) = &oidc.audience {
                push["oidcToken"]["audience"] = audience.as_str().into();
            }
        }
        json!({
            "name": self.name,
            "topic": self.topic,
            "pushConfig": push,
            "ackDeadlineSeconds": self.ack_deadline,
            "messageRetentionDuration": "604800s",
            "expirationPolicy": {"ttl": "2678400s"},
            "state": "ACTIVE",
        })
    }
}

fn not_found(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "notFound",
        format!("Resource not found (resource={name})."),
    )
}

type SubscriptionPath = Path<(String, String)>;

fn full_name((project, id): (String, String)) -> String {
    format!("projects/{project}/subscriptions/{id}")
}

pub async fn create(State(mailbox): App, Path(path): SubscriptionPath, body: Bytes) -> Answer {
    let body = json_body(&body)?;
    let subscription = Subscription::from_request(full_name(path), &body)?;
    let mut subscriptions = lock(&mailbox.pubsub.subscriptions);
    if subscriptions.contains_key(&subscription.name) {
        let message = format!(
            "Resource already exists in the project (resource={}).",
            subscription.name
        );
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "alreadyExists",
            message,
        ));
    }
    let rendered = subscription.render();
    subscriptions.insert(subscription.name.clone(), subscription);
    ok(rendered)
}

pub async fn get(State(mailbox): App, Path(path): SubscriptionPath) -> Answer {
    let name = full_name(path);
    let subscriptions = lock(&mailbox.pubsub.subscriptions);
    let subscription = subscriptions.get(&name).ok_or_else(|| not_found(&name))?;
    ok(subscription.render())
}

pub async fn delete(State(mailbox): App, Path(path): SubscriptionPath) -> Answer {
    let name = full_name(path);
    let removed = lock(&mailbox.pubsub.subscriptions).remove(&name);
    removed.ok_or_else(|| not_found(&name))?;
    ok(json!({}))
}

/// `GET /oauth2/v3/certs`: public, like Google's.
pub async fn certs() -> axum::response::Response {
    let key = json!({"kty": "RSA", "alg": "RS256", "use": "sig", "kid": KID, "n": N, "e": "AQAB"});
    let cache = "public, max-age=21600, must-revalidate, no-transform";
    (
        [(header::CACHE_CONTROL, cache)],
        Json(json!({"keys": [key]})),
    )
        .into_response()
}

impl EmulatorHandle<Mailbox> {
    /// Creates or replaces a push subscription, as `subscriptions.create` would. A bare
    /// `subscription` id lands in the topic's project; an empty `service_account` pushes
    /// without a token. Panics on what the route answers 400 to.
    pub fn subscribe(
        &self,
        subscription: &str,
        topic: &str,
        endpoint: &str,
        audience: Option<&str>,
        service_account: &str,
    ) {
        let name = if subscription.starts_with("projects/") {
            subscription.to_string()
        } else {
            let project = topic.split('/').nth(1).unwrap_or_default();
            full_name((project.to_string(), subscription.to_string()))
        };
        let mut body = json!({"topic": topic, "pushConfig": {"pushEndpoint": endpoint}});
        if !service_account.is_empty() {
            let token = json!({"serviceAccountEmail": service_account, "audience": audience});
            body["pushConfig"]["oidcToken"] = token;
        }
        let subscription = Subscription::from_request(name, &body)
            .unwrap_or_else(|e| panic!("subscribe: {}", e.message));
        let mut subscriptions = lock(&self.state.pubsub.subscriptions);
        subscriptions.insert(subscription.name.clone(), subscription);
    }

    /// Every push attempt so far, in the order the endpoints answered.
    pub fn pushes(&self) -> Vec<Push> {
        lock(&self.state.pubsub.pushes).clone()
    }

    /// Signs `claims` with the push key and key id, as a push token is signed.
    pub fn sign_push_token(&self, claims: &Value) -> String {
        self.state.pubsub.sign(claims)
    }

    /// The JWKS that verifies push tokens.
    pub fn jwks_url(&self) -> String {
        format!("{}/oauth2/v3/certs", self.base_url)
    }

    /// Accepted `users.watch` requests.
    pub fn watch_calls(&self) -> usize {
        self.state.pubsub.watch_calls.load(Ordering::SeqCst)
    }

    /// `users.stop` requests.
    pub fn stop_calls(&self) -> usize {
        self.state.pubsub.stop_calls.load(Ordering::SeqCst)
    }

    /// Moves the current watch's expiration (epoch milliseconds); a past one pushes nothing.
    pub fn set_watch_expiration(&self, expiration_ms: i64) {
        if let Some(watch) = self.state.store().watch.as_mut() {
            watch.expiration = expiration_ms;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    #[test]
    fn published_modulus_and_kid_belong_to_the_signing_key() {
        let pubsub = PubSub::new("ada@example.com".into());
        let oidc = Oidc {
            service_account: "push@demo.iam.gserviceaccount.com".into(),
            audience: Some("https://hooks.example.com".into()),
        };
        let token = pubsub.token(&oidc, "https://unused.example.com");
        let key = DecodingKey::from_rsa_components(N, "AQAB").unwrap();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&["https://hooks.example.com"]);
        validation.set_issuer(&["https://accounts.google.com"]);
        let data = jsonwebtoken::decode::<Value>(&token, &key, &validation).unwrap();
        assert_eq!(data.header.kid.as_deref(), Some(KID));
        assert_eq!(data.claims["email"], "push@demo.iam.gserviceaccount.com");
        let digest: String = Sha256::digest(N.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(&digest[..40], KID);
    }
}
