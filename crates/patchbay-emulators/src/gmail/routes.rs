//! The router, Bearer authentication, quota faults, request counting and Google's error
//! bodies. Pub/Sub's subscription routes sit behind the same tokens; the JWKS is public.

use super::{drafts, history, labels, messages, pubsub, sending, threads, Mailbox};
use crate::faults::{self, Faults};
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;

pub type App = State<Arc<Mailbox>>;
pub type Answer = Result<Response, ApiError>;

/// An error in Google's JSON shape.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub reason: &'static str,
    pub message: String,
    pub domain: &'static str,
    /// The message in `errors[]` when it differs from the top-level one.
    pub detail: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            reason,
            message: message.into(),
            domain: "global",
            detail: None,
        }
    }

    pub fn not_found() -> Self {
        let message = "Requested entity was not found.";
        ApiError::new(StatusCode::NOT_FOUND, "notFound", message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalidArgument", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status_name = match (self.status.as_u16(), self.reason) {
            (400, "failedPrecondition") => "FAILED_PRECONDITION",
            (400, _) => "INVALID_ARGUMENT",
            (401, _) => "UNAUTHENTICATED",
            (403, _) => "PERMISSION_DENIED",
            (404, _) => "NOT_FOUND",
            (409, _) => "ALREADY_EXISTS",
            (429, _) => "RESOURCE_EXHAUSTED",
            (503, _) => "UNAVAILABLE",
            _ => "INTERNAL",
        };
        let detail_message = self
            .detail
            .map(str::to_string)
            .unwrap_or(self.message.clone());
        let mut detail =
            json!({"message": detail_message, "domain": self.domain, "reason": self.reason});
        let mut headers = Vec::new();
        match self.status.as_u16() {
            401 => {
                detail["location"] = "Authorization".into();
                detail["locationType"] = "header".into();
                let realm = "Bearer realm=\"https://accounts.google.com/\"";
                headers.push((header::WWW_AUTHENTICATE, realm));
            }
            403 | 429 if self.domain == "usageLimits" => {
                headers.push((header::RETRY_AFTER, "1"));
            }
            _ => {}
        }
        let body = json!({"error": {
            "code": self.status.as_u16(),
            "message": self.message,
            "errors": [detail],
            "status": status_name,
        }});
        let mut response = (self.status, Json(body)).into_response();
        for (name, value) in headers {
            response
                .headers_mut()
                .insert(name, value.parse().expect("static header"));
        }
        response
    }
}

/// The body for injected faults and any status without a more specific error.
pub fn error_body(status: StatusCode, _message: &str) -> Value {
    let (reason, message, name) = match status.as_u16() {
        429 => (
            "rateLimitExceeded",
            "Rate Limit Exceeded",
            "RESOURCE_EXHAUSTED",
        ),
        503 => (
            "backendError",
            "The service is currently unavailable.",
            "UNAVAILABLE",
        ),
        500.. => ("backendError", "Internal error encountered.", "INTERNAL"),
        _ => ("badRequest", "Bad Request", "INVALID_ARGUMENT"),
    };
    json!({"error": {
        "code": status.as_u16(),
        "message": message,
        "errors": [{"message": message, "domain": "global", "reason": reason}],
        "status": name,
    }})
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
    Router::new()
        .nest("/gmail/v1/users/{user}", users)
        .nest("/upload/gmail/v1/users/{user}", uploads)
        .route("/v1/projects/{project}/subscriptions/{id}", subscription)
        .fallback(|| async { ApiError::not_found() })
        .with_state(mailbox.clone())
        .layer(from_fn_with_state(mailbox.clone(), authenticate))
        // Added after the token check, which does not cover it.
        .route("/oauth2/v3/certs", get(pubsub::certs))
        .layer(from_fn_with_state(faults, faults::apply))
        .layer(from_fn_with_state(mailbox, count))
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

async fn count(State(mailbox): App, req: Request, next: Next) -> Response {
    mailbox.count_call(route_key(req.method(), req.uri().path()));
    next.run(req).await
}

/// The `{userId}` of a path: `me` or the account's address; anyone else is refused.
fn user_of(path: &str) -> Option<&str> {
    let rest = path
        .strip_prefix("/gmail/v1/users/")
        .or_else(|| path.strip_prefix("/upload/gmail/v1/users/"))?;
    rest.split('/').next()
}

async fn authenticate(State(mailbox): App, req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    if !token.is_some_and(|t| !t.is_empty() && mailbox.token_valid(t)) {
        let message = "Request had invalid authentication credentials. Expected OAuth 2 \
                       access token, login cookie or other valid authentication credential. \
                       See https://developers.google.com/identity/sign-in/web/devconsole-project.";
        let mut error = ApiError::new(StatusCode::UNAUTHORIZED, "authError", message);
        error.detail = Some("Invalid Credentials");
        return error.into_response();
    }
    if let Some(user) = user_of(req.uri().path()) {
        let user = percent_decode(user);
        if user != "me" && !user.eq_ignore_ascii_case(&mailbox.config.email) {
            let message = format!("Delegation denied for {user}");
            return ApiError::new(StatusCode::FORBIDDEN, "forbidden", message).into_response();
        }
    }
    if let Some(error) = mailbox.take_quota_fault() {
        return error.into_response();
    }
    next.run(req).await
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
