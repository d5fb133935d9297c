//! Server-side sessions of the web UI. Signing in exchanges a key for a random 32-byte token,
//! sent back as an HttpOnly, `SameSite=Strict` cookie (`Secure` when the public URL is https).
//! The server keeps only the token's SHA-256, with the authenticated [`Caller`] and the
//! session's CSRF token; the key itself is not kept.
//!
//! Sessions live in this process's memory: they end when it restarts, and several instances
//! behind a load balancer need it to be sticky (or, later, a table in the store).
//! A session ends after 30 minutes unused, 12 hours after sign-in, or at sign-out. It stands
//! for the admin or a workspace, whose keys are not rotated while the process runs (integration
//! principal keys, which are, cannot sign in).

use crate::ui::csrf;
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::COOKIE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Redirect;
use patchbay_engine::Caller;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Name of the session cookie.
pub const COOKIE_NAME: &str = "pb_ui_session";
pub const IDLE: Duration = Duration::from_secs(30 * 60);
pub const ABSOLUTE: Duration = Duration::from_secs(12 * 60 * 60);

/// What a request learns from its session.
#[derive(Clone)]
pub struct Session {
    pub caller: Caller,
    pub csrf: String,
}

struct Entry {
    session: Session,
    created: Instant,
    last_seen: Instant,
}

/// The live sessions, keyed by the hash of their token.
pub struct UiSessions {
    entries: Mutex<HashMap<[u8; 32], Entry>>,
    idle: Duration,
    absolute: Duration,
}

impl Default for UiSessions {
    fn default() -> Self {
        UiSessions::with_lifetimes(IDLE, ABSOLUTE)
    }
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl UiSessions {
    pub fn with_lifetimes(idle: Duration, absolute: Duration) -> Self {
        UiSessions {
            entries: Mutex::default(),
            idle,
            absolute,
        }
    }

    fn live(&self, entry: &Entry, now: Instant) -> bool {
        now.duration_since(entry.last_seen) < self.idle
            && now.duration_since(entry.created) < self.absolute
    }

    /// Starts a session; returns the token for the cookie.
    pub fn create(&self, caller: Caller) -> String {
        let token = csrf::new_token();
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        // Dropping the expired here keeps the map bounded by the sessions in use.
        entries.retain(|_, e| self.live(e, now));
        entries.insert(
            hash(&token),
            Entry {
                session: Session {
                    caller,
                    csrf: csrf::new_token(),
                },
                created: now,
                last_seen: now,
            },
        );
        token
    }

    /// The live session of `token`, which counts as a use.
    pub fn get(&self, token: &str) -> Option<Session> {
        let key = hash(token);
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.get_mut(&key)?;
        if !self.live(entry, now) {
            entries.remove(&key);
            return None;
        }
        entry.last_seen = now;
        Some(entry.session.clone())
    }

    /// The live session of `token` without counting as a use: a page that refreshes itself
    /// in the background must not keep an unattended session alive.
    pub fn peek(&self, token: &str) -> Option<Session> {
        let key = hash(token);
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.get(&key)?;
        self.live(entry, Instant::now())
            .then(|| entry.session.clone())
    }

    pub fn revoke(&self, token: &str) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&hash(token));
    }
}

/// The value of cookie `name` in the request, if any.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value scoped to the UI; `max_age` 0 clears the cookie.
pub fn set_cookie(name: &str, value: &str, max_age: Duration, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let cookie = format!(
        "{name}={value}; Path=/ui; Max-Age={}; HttpOnly; SameSite=Strict{secure}",
        max_age.as_secs()
    );
    HeaderValue::from_str(&cookie).expect("cookie values are hex")
}

/// Whether cookies must be `Secure`: the server is reached over https.
pub fn secure(state: &AppState) -> bool {
    state.engine.public_url().starts_with("https://")
}

/// The session of a background refresh (a fragment a page fetches by itself), without
/// counting as a use; `None` without a live one.
pub fn background(state: &AppState, headers: &HeaderMap) -> Option<Session> {
    cookie(headers, COOKIE_NAME).and_then(|token| state.ui_sessions.peek(token))
}

/// A signed-in browser; without a live session the request is sent to the sign-in page.
pub struct SignedIn(pub Session);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Redirect;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        cookie(&parts.headers, COOKIE_NAME)
            .and_then(|token| state.ui_sessions.get(token))
            .map(SignedIn)
            .ok_or_else(|| Redirect::to(super::SIGN_IN))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_when_idle_and_end_at_sign_out() {
        let sessions = UiSessions::with_lifetimes(Duration::from_millis(50), ABSOLUTE);
        let token = sessions.create(Caller::Admin);
        assert!(sessions.get(&token).is_some());
        assert!(sessions.get("not-a-token").is_none());
        std::thread::sleep(Duration::from_millis(80));
        assert!(sessions.get(&token).is_none(), "idle expiry");

        let sessions = UiSessions::with_lifetimes(IDLE, Duration::from_millis(50));
        let token = sessions.create(Caller::Admin);
        std::thread::sleep(Duration::from_millis(30));
        assert!(sessions.get(&token).is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(
            sessions.get(&token).is_none(),
            "absolute expiry despite use"
        );

        let sessions = UiSessions::with_lifetimes(Duration::from_millis(50), ABSOLUTE);
        let token = sessions.create(Caller::Admin);
        std::thread::sleep(Duration::from_millis(30));
        assert!(sessions.peek(&token).is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(sessions.peek(&token).is_none(), "peeking is not a use");

        let sessions = UiSessions::default();
        let token = sessions.create(Caller::Admin);
        sessions.revoke(&token);
        assert!(sessions.get(&token).is_none());
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("a=1; pb_ui_session=abc"));
        h.append(COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&h, COOKIE_NAME), Some("abc"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "c"), None);
    }
}
