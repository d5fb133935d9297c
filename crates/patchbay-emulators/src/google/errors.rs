//! Google's error body, `{"error": {"code", "message", "errors": [{"domain", "reason",
//! "message", …}], "status"}}`, for the API's own errors, injected faults and the quota
//! faults a test arms.

use super::GoogleApi;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::marker::PhantomData;

/// An error of the API `A` in Google's JSON shape; `A` decides how common errors are worded.
pub struct ApiError<A> {
    pub status: StatusCode,
    pub reason: &'static str,
    pub message: String,
    pub domain: &'static str,
    /// The message in `errors[]` when it differs from the top-level one.
    pub detail: Option<&'static str>,
    /// The query parameter at fault (`locationType: parameter`).
    pub parameter: Option<String>,
    api: PhantomData<fn() -> A>,
}

// By hand: a derive would ask `A: Debug` of the API's state.
impl<A> std::fmt::Debug for ApiError<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiError")
            .field("status", &self.status)
            .field("reason", &self.reason)
            .field("message", &self.message)
            .field("domain", &self.domain)
            .field("detail", &self.detail)
            .field("parameter", &self.parameter)
            .finish()
    }
}

impl<A: GoogleApi> ApiError<A> {
    pub fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            reason,
            message: message.into(),
            domain: "global",
            detail: None,
            parameter: None,
            api: PhantomData,
        }
    }

    pub fn not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "notFound", A::NOT_FOUND)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, A::INVALID, message)
    }
}

fn status_name(status: StatusCode, reason: &str) -> &'static str {
    match (status.as_u16(), reason) {
        (400, "failedPrecondition") => "FAILED_PRECONDITION",
        (400, _) => "INVALID_ARGUMENT",
        (401, _) => "UNAUTHENTICATED",
        (403, _) => "PERMISSION_DENIED",
        (404, _) => "NOT_FOUND",
        (409, _) => "ALREADY_EXISTS",
        (410, _) => "GONE",
        (412, _) => "FAILED_PRECONDITION",
        (429, _) => "RESOURCE_EXHAUSTED",
        (503, _) => "UNAVAILABLE",
        _ => "INTERNAL",
    }
}

impl<A> IntoResponse for ApiError<A> {
    fn into_response(self) -> Response {
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
                let realm = "Bearer realm=\"https://accounts.google.com/\"";
                headers.push((header::WWW_AUTHENTICATE, realm));
            }
            403 | 429 if self.domain == "usageLimits" => headers.push((header::RETRY_AFTER, "1")),
            _ => {}
        }
        let body = json!({"error": {
            "code": self.status.as_u16(),
            "message": self.message,
            "errors": [detail],
            "status": status_name(self.status, self.reason),
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
pub fn fault_body<A: GoogleApi>(status: StatusCode, _message: &str) -> Value {
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
        500.. => ("backendError", A::INTERNAL, "INTERNAL"),
        _ => ("badRequest", "Bad Request", "INVALID_ARGUMENT"),
    };
    json!({"error": {
        "code": status.as_u16(),
        "message": message,
        "errors": [{"domain": "global", "reason": reason, "message": message}],
        "status": name,
    }})
}

/// A quota fault a test arms, answered to authenticated requests before the route runs.
#[derive(Clone, Copy)]
pub enum QuotaFault {
    /// 429 `rateLimitExceeded`.
    TooMany,
    /// 403 `userRateLimitExceeded`.
    UserLimit,
    /// 403 `rateLimitExceeded`, Calendar's answer when the project's quota runs out.
    ProjectLimit,
}

/// Armed quota faults: how many requests each still answers. The first armed one in the
/// order of [`QuotaFault`]'s variants answers next.
#[derive(Default)]
pub struct Quota([u32; 3]);

impl Quota {
    pub fn arm(&mut self, fault: QuotaFault, n: u32) {
        self.0[fault as usize] = n;
    }

    pub fn take<A: GoogleApi>(&mut self) -> Option<ApiError<A>> {
        let index = self.0.iter().position(|&n| n > 0)?;
        self.0[index] -= 1;
        let faults = [
            QuotaFault::TooMany,
            QuotaFault::UserLimit,
            QuotaFault::ProjectLimit,
        ];
        let (status, reason, message) = match faults[index] {
            QuotaFault::TooMany => (
                StatusCode::TOO_MANY_REQUESTS,
                "rateLimitExceeded",
                A::too_many_message(),
            ),
            QuotaFault::UserLimit => (
                StatusCode::FORBIDDEN,
                "userRateLimitExceeded",
                "User Rate Limit Exceeded".into(),
            ),
            QuotaFault::ProjectLimit => (
                StatusCode::FORBIDDEN,
                "rateLimitExceeded",
                "Rate Limit Exceeded".into(),
            ),
        };
        let mut error = ApiError::new(status, reason, message);
        error.domain = "usageLimits";
        Some(error)
    }
}
