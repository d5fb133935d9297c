//! One module per resource, each exporting its router.

pub mod activity;
pub mod admin;
pub mod attachments;
pub mod bindings;
pub mod connections;
pub mod connectors;
pub mod docs;
pub mod live;
pub mod llm_providers;
pub mod oauth;
pub mod ops;
pub mod proxy;
pub mod repos;
pub mod subscriptions;
pub mod syncs;
pub mod webhooks;
pub mod widgets;

use crate::access::Routes;
use crate::error::ApiError;
use axum::http::{Method, StatusCode, Uri};

/// Every route of the API.
pub fn all() -> Routes {
    Routes::new()
        .merge(ops::router())
        .merge(admin::router())
        .merge(repos::router())
        .merge(llm_providers::router())
        .merge(connectors::router())
        .merge(connections::router())
        .merge(proxy::router())
        .merge(live::router())
        .merge(activity::router())
        .merge(oauth::router())
        .merge(syncs::router())
        .merge(webhooks::router())
        .merge(attachments::router())
        .merge(subscriptions::router())
        .merge(widgets::router())
        .merge(bindings::router())
        .merge(docs::router())
}

/// Pagination query shared by list routes.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1 to 500 (default 50).
    #[serde(default, deserialize_with = "patchbay_engine::de_page_limit")]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// A known route asked with a method it does not serve; axum adds the `Allow` header.
pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not take {method}", uri.path()),
    )
}

pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "not_found",
        format!("no route for {}", uri.path()),
    )
}
