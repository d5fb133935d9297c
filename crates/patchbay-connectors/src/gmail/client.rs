//! Gmail's API address and its path (`/gmail/v1/users/me/…`) on Google's client.

use crate::providers::Provider;
use patchbay_core::{ConnectorContext, ConnectorError};
use url::Url;

pub use crate::google::Api;

/// Gmail's API address when neither the connection nor the catalog names one.
pub const DEFAULT_API_BASE: &str = "https://gmail.googleapis.com";

/// The API base: the connection's `base_url`, else the catalog entry's `api_base_url`.
pub fn api_base(
    ctx: &ConnectorContext,
    provider: Option<&Provider>,
) -> Result<Url, ConnectorError> {
    crate::common::provider_api_base(ctx, provider, DEFAULT_API_BASE, "Gmail")
}

/// The client for a connection's mailbox.
pub fn api<'a>(
    http: &'a crate::http::HttpClient,
    ctx: &'a ConnectorContext,
    provider: Option<&Provider>,
) -> Result<Api<'a>, ConnectorError> {
    Api::new(
        http,
        ctx,
        api_base(ctx, provider)?,
        &["gmail", "v1", "users", "me"],
    )
}
