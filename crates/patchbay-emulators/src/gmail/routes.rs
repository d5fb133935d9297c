//! The router and what Gmail adds to the shared Google gate: its wording of common errors,
//! its request-count keys and the `{userId}` check. Pub/Sub's subscription routes sit behind
//! the same tokens; the JWKS is public.

use super::{drafts, history, labels, messages, pubsub, sending, threads, Mailbox};
use crate::faults::Faults;
use crate::google::{self, Gate, GoogleApi};
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

pub type App = State<Arc<Mailbox>>;
pub type ApiError = google::ApiError<Mailbox>;
pub type Answer = Result<Response, ApiError>;

impl GoogleApi for Mailbox {
    const NOT_FOUND: &'static str = "Requested entity was not found.";
    const INVALID: &'static str = "invalidArgument";
    const INTERNAL: &'static str = "Internal error encountered.";

    fn gate(&self) -> &Gate {
        &self.gate
    }

    fn route_key(method: &Method, path: &str) -> String {
        route_key(method, path)
    }

    fn too_many_message() -> String {
        let retry = crate::rfc3339(chrono::Utc::now() + chrono::Duration::seconds(1));
        format!("User-rate limit exceeded.  Retry after {retry}")
    }

    /// Anyone but `me` or the account's address as `{userId}` is refused.
    fn refuse(&self, path: &str) -> Option<ApiError> {
        let user = percent_decode(user_of(path)?);
        if user == "me" || user.eq_ignore_ascii_case(&self.config.email) {
            return None;
        }
        let message = format!("Delegation denied for {user}");
        Some(ApiError::new(StatusCode::FORBIDDEN, "forbidden", message))
    }
}

pub fn router(mailbox: Arc<Mailbox>, faults: Arc<Faults>) -> Router {
    let users = Router::new()
        .route("/profile", get(history::profile))
        .route("/watch", post(history::watch))
        .route("/stop", post(history::stop))
        .route("/history", get(history::list))
        .route("/messages", get(messages::list).post(sending::insert))
        .route("/messages/send", post(sending::send))
        .route("/messages/import", post(sending::import))
        .route("/messages/batchModify", post(messages::batch_modify))
        .route("/messages/batchDelete", post(messages::batch_delete))
        .route(
            "/messages/{id}",
            get(messages::get).delete(messages::delete),
        )
        .route("/messages/{id}/modify", post(messages::modify))
        .route("/messages/{id}/trash", post(messages::trash))
        .route("/messages/{id}/untrash", post(messages::untrash))
        .route(
            "/messages/{id}/attachments/{attachment}",
            get(messages::attachment),
        )
        .route("/threads", get(threads::list))
        .route("/threads/{id}", get(threads::get).delete(threads::delete))
        .route("/threads/{id}/modify", post(threads::modify))
        .route("/threads/{id}/trash", post(threads::trash))
        .route("/threads/{id}/untrash", post(threads::untrash))
        .route("/labels", get(labels::list).post(labels::create))
        .route(
            "/labels/{id}",
            get(labels::get)
                .patch(labels::patch)
                .put(labels::update)
                .delete(labels::delete),
        )
        .route("/drafts", get(drafts::list).post(drafts::create))
        .route("/drafts/send", post(drafts::send))
        .route(
            "/drafts/{id}",
            get(drafts::get).put(drafts::update).delete(drafts::delete),
        );
    let uploads = Router::new()
        .route("/messages", post(sending::insert))
        .route("/messages/send", post(sending::send))
        .route("/messages/import", post(sending::import))
        .route("/drafts", post(drafts::create))
        .route("/drafts/send", post(drafts::send))
        .route("/drafts/{id}", axum::routing::put(drafts::update));
    let subscription = get(pubsub::get).put(pubsub::create).delete(pubsub::delete);
    let api = Router::new()
        .nest("/gmail/v1/users/{user}", users)
        .nest("/upload/gmail/v1/users/{user}", uploads)
        .route("/v1/projects/{project}/subscriptions/{id}", subscription)
        .fallback(|| async { ApiError::not_found() })
        .with_state(mailbox.clone());
    let public = Router::new().route("/oauth2/v3/certs", get(pubsub::certs));
    google::auth::guard(api, public, mailbox, faults)
}

/// `GET /gmail/v1/users/{userId}/messages/{id}`: the path with its ids replaced.
fn route_key(method: &Method, path: &str) -> String {
    let verbs = [
        "send",
        "batchModify",
        "batchDelete",
        "import",
        "modify",
        "trash",
        "untrash",
    ];
    let collections = [
        "messages",
        "threads",
        "labels",
        "drafts",
        "attachments",
        "subscriptions",
    ];
    let mut out = Vec::new();
    let mut previous = "";
    for segment in path.split('/') {
        let shown = if previous == "users" {
            "{userId}"
        } else if previous == "projects" {
            "{project}"
        } else if collections.contains(&previous) && !verbs.contains(&segment) {
            "{id}"
        } else {
            segment
        };
        out.push(shown);
        previous = segment;
    }
    format!("{method} {}", out.join("/"))
}

/// The `{userId}` of a Gmail or upload path.
fn user_of(path: &str) -> Option<&str> {
    let rest = path
        .strip_prefix("/gmail/v1/users/")
        .or_else(|| path.strip_prefix("/upload/gmail/v1/users/"))?;
    rest.split('/').next()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
