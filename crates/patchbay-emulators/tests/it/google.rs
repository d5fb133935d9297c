//! What the Gmail and Calendar tests share: requests with the API's token, Google's error
//! shape, the token checks both APIs make alike, and an endpoint that records pushes.

use crate::{http, Answer};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use patchbay_emulators::oauth2::{self, OAuthConfig, OAuthEmulator};
use patchbay_emulators::{GcalEmulator, GmailEmulator};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A Gmail or Calendar emulator.
pub trait Google {
    /// The token the emulator accepts from the start.
    const TOKEN: &'static str;
    /// Where the API's paths start, e.g. `http://127.0.0.1:1234/calendar/v3`.
    fn api_base(&self) -> String;
    fn base_url(&self) -> &str;
    fn add_token(&self, token: &str);
    fn revoke_token(&self, token: &str);
    fn accept_oauth_tokens(&self, oauth: &OAuthEmulator);
}

// The handles share these methods without a trait the tests could name.
macro_rules! google {
    ($emulator:ty, $api:literal, $token:expr) => {
        impl Google for $emulator {
            const TOKEN: &'static str = $token;

            fn api_base(&self) -> String {
                format!("{}{}", self.base_url, $api)
            }

            fn base_url(&self) -> &str {
                &self.base_url
            }

            fn add_token(&self, token: &str) {
                <$emulator>::add_token(self, token)
            }

            fn revoke_token(&self, token: &str) {
                <$emulator>::revoke_token(self, token)
            }

            fn accept_oauth_tokens(&self, oauth: &OAuthEmulator) {
                <$emulator>::accept_oauth_tokens(self, oauth)
            }
        }
    };
}

google!(GmailEmulator, "/gmail/v1/users/me", super::gmail::TOKEN);
google!(GcalEmulator, "/calendar/v3", super::gcal::TOKEN);

/// A request to the API's `path` with the emulator's token.
pub async fn call<G: Google>(
    emu: &G,
    method: Method,
    path: &str,
    query: &[(&str, &str)],
    body: Option<Value>,
) -> Answer {
    let url = format!("{}/{path}", emu.api_base());
    let mut req = http()
        .request(method, url)
        .query(query)
        .bearer_auth(G::TOKEN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    Answer::from(req.send().await.unwrap()).await
}

pub async fn get(emu: &impl Google, path: &str, query: &[(&str, &str)]) -> Answer {
    call(emu, Method::GET, path, query, None).await
}

/// `get` that must succeed, as JSON.
pub async fn ok(emu: &impl Google, path: &str, query: &[(&str, &str)]) -> Value {
    let a = get(emu, path, query).await;
    assert_eq!(a.status, 200, "{path}: {}", a.text);
    a.json()
}

/// Every page of a listing, following `nextPageToken`.
pub async fn pages(emu: &impl Google, path: &str, query: &[(&str, &str)]) -> Vec<Value> {
    let (mut pages, mut token) = (Vec::new(), None::<String>);
    loop {
        let mut q = query.to_vec();
        if let Some(t) = &token {
            q.push(("pageToken", t));
        }
        let page = ok(emu, path, &q).await;
        token = page["nextPageToken"].as_str().map(str::to_string);
        pages.push(page);
        if token.is_none() {
            return pages;
        }
    }
}

/// A GET of `path` on the server, with `token` if any.
pub async fn with_token(base: &str, path: &str, token: Option<&str>) -> Answer {
    let mut req = http().get(format!("{base}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    Answer::from(req.send().await.unwrap()).await
}

/// Asserts Google's error shape.
#[track_caller]
pub fn assert_google_error(a: &Answer, code: u16, reason: &str, status: &str) {
    assert_eq!(a.status.as_u16(), code, "{}", a.text);
    let error = &a.json()["error"];
    assert_eq!(error["code"], code, "{}", a.text);
    assert_eq!(error["status"], status, "{}", a.text);
    assert_eq!(error["errors"][0]["reason"], reason, "{}", a.text);
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        a.text
    );
}

/// Asserts that a missing or unknown token gets Google's 401 for `path` (from the server's
/// root), the configured token passes, and an added token passes until revoked.
pub async fn assert_tokens_are_checked<G: Google>(emu: &G, path: &str) {
    let base = emu.base_url();
    for token in [None, Some("nope")] {
        let a = with_token(base, path, token).await;
        assert_eq!(a.status, 401);
        assert_eq!(
            a.header("www-authenticate"),
            "Bearer realm=\"https://accounts.google.com/\""
        );
        assert_eq!(
            a.json(),
            json!({"error": {
                "code": 401,
                "message": "Request had invalid authentication credentials. Expected OAuth 2 \
                            access token, login cookie or other valid authentication \
                            credential. See https://developers.google.com/identity/sign-in/web/\
                            devconsole-project.",
                "errors": [{"message": "Invalid Credentials", "domain": "global",
                            "reason": "authError", "location": "Authorization",
                            "locationType": "header"}],
                "status": "UNAUTHENTICATED",
            }})
        );
    }
    assert_eq!(with_token(base, path, Some(G::TOKEN)).await.status, 200);
    emu.add_token("second");
    assert_eq!(with_token(base, path, Some("second")).await.status, 200);
    emu.revoke_token("second");
    assert_eq!(with_token(base, path, Some("second")).await.status, 401);
}

/// Asserts that an access token of the OAuth emulator passes for `path` until it expires.
pub async fn assert_oauth_tokens_work_until_they_expire(emu: &impl Google, path: &str) {
    let oauth = oauth2::spawn(OAuthConfig::default()).await.unwrap();
    emu.accept_oauth_tokens(&oauth);
    let issued = oauth.issue_tokens("read");
    let token = issued["access_token"].as_str().unwrap();
    let base = emu.base_url();
    assert_eq!(with_token(base, path, Some(token)).await.status, 200);
    oauth.expire_access_tokens();
    assert_eq!(with_token(base, path, Some(token)).await.status, 401);
}

/// A request a push endpoint received.
#[derive(Clone)]
pub struct Received {
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Clone, Default)]
pub struct Endpoint {
    received: Arc<Mutex<Vec<Received>>>,
    /// Statuses to answer with, in order; 200 once they run out.
    answers: Arc<Mutex<VecDeque<u16>>>,
}

impl Endpoint {
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn record(
    State(endpoint): State<Endpoint>,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let headers = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap().to_string()))
        .collect();
    endpoint.received.lock().unwrap().push(Received {
        path: uri.path().to_string(),
        headers,
        body: body.to_vec(),
        at: Instant::now(),
    });
    let status = endpoint.answers.lock().unwrap().pop_front().unwrap_or(200);
    StatusCode::from_u16(status).unwrap()
}

/// A push endpoint on a loopback port, answering any POST with `answers` in order, then 200;
/// returns it and its base URL.
pub async fn endpoint(answers: &[u16]) -> (Endpoint, String) {
    let state = Endpoint::default();
    state.answers.lock().unwrap().extend(answers);
    let app = axum::Router::new()
        .fallback(axum::routing::post(record))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (state, url)
}

/// Waits until `done` holds, for at most five seconds.
pub async fn until(mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(5), "timed out");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
