//! Domain types and the connector SDK: ids, connection lifecycle and health, the `Connector`
//! trait with its `ConnectorSpec`, field validation and the connector registry. No I/O lives here.

pub mod connection;
pub mod connector;
pub mod ids;
pub mod registry;
pub mod secret;
pub mod validation;

pub use connection::{Health, Lifecycle, TransitionError};
pub use connector::*;
pub use registry::{Registry, UnknownConnector};
pub use secret::{Secret, SecretMap};
pub use validation::FieldError;

/// Milliseconds since the Unix epoch; every stored time uses this unit on both backends.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Formats stored milliseconds as RFC 3339 for the API.
pub fn ms_to_rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
