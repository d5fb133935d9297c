//! `/openapi.json` generated from the handlers, and `/docs`: a self-contained page that renders
//! it (no assets from elsewhere, so it works offline).

use crate::access::{methods::*, Access::*, Routes};
use axum::response::Html;
use axum::Json;

pub fn router() -> Routes {
    Routes::new()
        .add(GET, "/openapi.json", Public, openapi)
        .add(GET, "/docs", Public, docs)
}

/// This document (OpenAPI 3.1).
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "the OpenAPI document", content_type = "application/json", body = Object)))]
pub async fn openapi() -> Json<&'static serde_json::Value> {
    Json(crate::openapi::document())
}

/// A page that renders this document.
#[utoipa::path(get, path = "/docs", tag = "operations", responses((status = 200, description = "HTML", content_type = "text/html", body = String)))]
pub async fn docs() -> Html<&'static str> {
    Html(include_str!("docs.html"))
}
