//! One module per resource, each exporting its router.

pub mod activity;
pub mod admin;
pub mod connections;
pub mod connectors;
pub mod docs;
pub mod live;
pub mod oauth;
pub mod ops;
pub mod proxy;
pub mod repos;
pub mod subscriptions;
pub mod syncs;
pub mod webhooks;

use crate::error::ApiError;
use axum::http::Uri;

/// Pagination query shared by list routes.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
pub struct PageQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "not_found",
        format!("no route for {}", uri.path()),
    )
}
