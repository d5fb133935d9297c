//! The one error type at the HTTP edge: `{"error": {"code", "message", "details"}}`. Client
//! errors say what was wrong; internal errors are logged with their cause and answered with a
//! bare 500.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use patchbay_core::ConnectorError;
use patchbay_engine::EngineError;
use serde_json::{json, Value};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<Value>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    fn internal(cause: &dyn std::error::Error) -> Self {
        let mut chain = cause.to_string();
        let mut source = cause.source();
        while let Some(s) = source {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            source = s.source();
        }
        tracing::error!(error = %chain, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::NotFound(what) => ApiError::not_found(what),
            EngineError::UnknownConnector(u) => {
                ApiError::new(StatusCode::NOT_FOUND, "unknown_connector", u.to_string())
                    .with_details(json!({"known": u.known}))
            }
            EngineError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            EngineError::InvalidTransition(t) => {
                ApiError::new(StatusCode::CONFLICT, "invalid_transition", t.to_string())
                    .with_details(
                        json!({"from": t.from, "to": t.to, "allowed": t.from.next_states()}),
                    )
            }
            EngineError::Validation(errors) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "validation failed",
            )
            .with_details(json!({"fields": errors})),
            EngineError::BadRequest(m) => ApiError::new(StatusCode::BAD_REQUEST, "bad_request", m),
            EngineError::Forbidden(m) => ApiError::forbidden(m),
            EngineError::Unauthorized(m) => ApiError::unauthorized(m),
            EngineError::Unsupported(m) => ApiError::new(StatusCode::NOT_FOUND, "unsupported", m),
            EngineError::Incapable(m) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unsupported", m)
            }
            EngineError::Connector(c) => from_connector(c),
            EngineError::Expired(m) => ApiError::new(StatusCode::GONE, "expired", m),
            EngineError::NeedsReconnect(m) => {
                ApiError::new(StatusCode::CONFLICT, "needs_reconnect", m)
            }
            EngineError::ProviderUnavailable(m) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "provider_unavailable", m)
            }
            EngineError::Store(s) => ApiError::internal(&s),
            EngineError::Vault(v) => ApiError::internal(&v),
        }
    }
}

/// A provider's failure as the caller of patchbay sees it.
fn from_connector(e: ConnectorError) -> ApiError {
    let message = e.to_string();
    match e {
        ConnectorError::InvalidInput(fields) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            message,
        )
        .with_details(json!({"fields": fields})),
        ConnectorError::Unsupported { .. } | ConnectorError::Unknown { .. } => {
            ApiError::new(StatusCode::NOT_FOUND, "unsupported", message)
        }
        ConnectorError::NotFound(_) => {
            ApiError::new(StatusCode::NOT_FOUND, "provider_not_found", message)
        }
        ConnectorError::RateLimited { retry_after_secs } => {
            let mut err = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "provider_rate_limited",
                message,
            );
            err.retry_after = retry_after_secs;
            err
        }
        ConnectorError::Provider { status: 409, .. } => {
            ApiError::new(StatusCode::CONFLICT, "provider_conflict", message)
        }
        ConnectorError::Provider { status, .. } if (400..500).contains(&status) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "provider_rejected",
            message,
        ),
        ConnectorError::Config(_)
        | ConnectorError::Verification(_)
        | ConnectorError::BadPayload(_) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "provider_rejected",
            message,
        ),
        ConnectorError::Unauthorized { .. } => {
            ApiError::new(StatusCode::BAD_GATEWAY, "provider_unauthorized", message)
        }
        ConnectorError::Provider { .. }
        | ConnectorError::BadResponse(_)
        | ConnectorError::Network(_) => {
            ApiError::new(StatusCode::BAD_GATEWAY, "provider_error", message)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"error": {"code": self.code, "message": self.message}});
        if let Some(d) = self.details {
            body["error"]["details"] = d;
        }
        let mut resp = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
