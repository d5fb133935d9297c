//! Built-in connectors and the outbound HTTP client they share.

pub mod http;

pub use http::{HttpClient, NetworkPolicy};
