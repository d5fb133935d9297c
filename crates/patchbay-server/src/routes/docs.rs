//! `/openapi.json` generated from the handlers, and `/docs`: a self-contained page that renders
//! it (no assets from elsewhere, so it works offline).

use crate::AppState;
use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/docs", get(docs))
}

pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(crate::openapi::document())
}

pub async fn docs() -> Html<&'static str> {
    Html(include_str!("docs.html"))
}
