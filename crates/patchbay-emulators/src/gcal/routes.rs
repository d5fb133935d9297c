//! The router, Bearer authentication, quota faults, request counting and Google's error
//! bodies.

use super::{calendars, events, freebusy, list, push, Calendars};
use crate::faults::{self, Faults};
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;

pub type App = State<Arc<Calendars>>;
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
    /// The query parameter at fault (`locationType: parameter`).
    pub parameter: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            reason,
            message: message.into(),
            domain: "global",
            detail: None,
            parameter: None,
        }
    }

    pub fn not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "notFound", "Not Found")
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid", message)
    }

    pub fn required(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "required", message)
    }

    pub fn invalid_parameter(name: &str, message: impl Into<String>) -> Self {
        let mut error = ApiError::invalid(message);
        error.parameter = Some(name.to_string());
        error
    }

    /// 410 for a sync token that is expired or not one.
    pub fn full_sync_required() -> Self {
        let message = "Sync token is no longer valid, a full sync is required.";
        ApiError::new(StatusCode::GONE, "fullSyncRequired", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status_name = match self.status.as_u16() {
            400 => "INVALID_ARGUMENT",
            401 => "UNAUTHENTICATED",
            403 => "PERMISSION_DENIED",
            404 => "NOT_FOUND",
            409 => "ALREADY_EXISTS",
            410 => "GONE",
            412 => "FAILED_PRECONDITION",
            429 => "RESOURCE_EXHAUSTED",
            503 => "UNAVAILABLE",
            _ => "INTERNAL",
        };
        let detail_message = self
            .detail
            .map(str::to_string)
            .unwrap_or(self.message.clone());
        let mut detail =
            json!({"domain": self.domain, "reason": self.reason, "message": detail_message});
        let mut headers = Vec::new();
        if let Some(parameter) = &self.parameter {
            detail["locationType"] = "parameter".into();
            detail["location"] = parameter.as_str().into();
        }
        match self.status.as_u16() {
            401 => {
                detail["locationType"] = "header".into();
                detail["location"] = "Authorization".into();
                headers.push((
                    header::WWW_AUTHENTICATE,
                    "Bearer realm=\"https://accounts.google.com/\"",
                ));
            }
            403 | 429 if self.domain == "usageLimits" => headers.push((header::RETRY_AFTER, "1")),
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
        500.. => ("backendError", "Backend Error", "INTERNAL"),
        _ => ("badRequest", "Bad Request", "INVALID_ARGUMENT"),
    };
    json!({"error": {
        "code": status.as_u16(),
        "message": message,
        "errors": [{"domain": "global", "reason": reason, "message": message}],
        "status": name,
    }})
}

pub fn router(calendars: Arc<Calendars>, faults: Arc<Faults>) -> Router {
    let api = Router::new()
        .route("/users/me/calendarList", get(calendars::list))
        .route("/users/me/calendarList/{calendar}", get(calendars::entry))
        .route("/calendars/{calendar}", get(calendars::get))
        .route(
            "/calendars/{calendar}/events",
            get(list::events).post(events::insert),
        )
        .route(
            "/calendars/{calendar}/events/quickAdd",
            post(events::quick_add),
        )
        .route("/calendars/{calendar}/events/watch", post(push::watch))
        .route(
            "/calendars/{calendar}/events/{event}",
            get(events::get)
                .put(events::update)
                .patch(events::patch)
                .delete(events::delete),
        )
        .route(
            "/calendars/{calendar}/events/{event}/instances",
            get(list::instances),
        )
        .route("/freeBusy", post(freebusy::query))
        .route("/channels/stop", post(push::stop));
    Router::new()
        .nest("/calendar/v3", api)
        .fallback(|| async { ApiError::not_found() })
        .with_state(calendars.clone())
        .layer(from_fn_with_state(calendars.clone(), authenticate))
        .layer(from_fn_with_state(faults, faults::apply))
        .layer(from_fn_with_state(calendars, count))
}

/// `GET /calendar/v3/calendars/{calendarId}/events/{eventId}`: the path with its ids
/// replaced.
fn route_key(method: &Method, path: &str) -> String {
    let verbs = ["quickAdd", "watch", "instances", "stop"];
    let mut out = Vec::new();
    let mut previous = "";
    for segment in path.split('/') {
        let shown = match previous {
            "calendars" | "calendarList" if !verbs.contains(&segment) => "{calendarId}",
            "events" if !verbs.contains(&segment) => "{eventId}",
            _ => segment,
        };
        out.push(shown);
        previous = segment;
    }
    format!("{method} {}", out.join("/"))
}

async fn count(State(calendars): App, req: Request, next: Next) -> Response {
    calendars.count_call(route_key(req.method(), req.uri().path()));
    next.run(req).await
}

async fn authenticate(State(calendars): App, req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    if !token.is_some_and(|t| !t.is_empty() && calendars.token_valid(t)) {
        let message = "Request had invalid authentication credentials. Expected OAuth 2 \
                       access token, login cookie or other valid authentication credential. \
                       See https://developers.google.com/identity/sign-in/web/devconsole-project.";
        let mut error = ApiError::new(StatusCode::UNAUTHORIZED, "authError", message);
        error.detail = Some("Invalid Credentials");
        return error.into_response();
    }
    if let Some(error) = calendars.take_quota_fault() {
        return error.into_response();
    }
    next.run(req).await
}
