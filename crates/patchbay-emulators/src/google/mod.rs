//! What the Gmail and Calendar emulators share as Google APIs: the gate in front of their
//! routes, which checks Bearer tokens, answers armed quota faults and counts requests per
//! route (`auth.rs`), and Google's error body (`errors.rs`). Each API says through
//! [`GoogleApi`] where it words or counts things its own way.

pub mod auth;
pub mod errors;

pub use auth::Gate;
use axum::http::Method;
pub use errors::ApiError;

/// The state behind one of Google's APIs.
pub trait GoogleApi: Send + Sync + Sized + 'static {
    /// The message of a 404 `notFound`.
    const NOT_FOUND: &'static str;
    /// The reason of a 400 for an invalid argument.
    const INVALID: &'static str;
    /// The message of an injected 500.
    const INTERNAL: &'static str;

    fn gate(&self) -> &Gate;

    /// The key a request is counted under: its method and path with the ids replaced, e.g.
    /// `GET /gmail/v1/users/{userId}/messages/{id}`.
    fn route_key(method: &Method, path: &str) -> String;

    /// The message of a 429 `rateLimitExceeded` quota fault.
    fn too_many_message() -> String {
        "Rate Limit Exceeded".into()
    }

    /// Refuses an authenticated request for `path` before it spends quota.
    fn refuse(&self, _path: &str) -> Option<ApiError<Self>> {
        None
    }
}
