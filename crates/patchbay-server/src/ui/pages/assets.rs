//! The stylesheet and the script, compiled into the binary.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;

const APP_CSS: &str = include_str!("../app.css");
const APP_JS: &str = include_str!("../app.js");

/// Cached for an hour: short enough that an upgrade shows within the hour, with no versioned
/// URL to manage.
pub async fn css() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        APP_CSS,
    )
}

/// The script that refreshes parts of pages by themselves; cached like the stylesheet.
pub async fn js() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        APP_JS,
    )
}

/// A small mark for the browser tab; without one, browsers ask for `/favicon.ico`.
const ICON: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#0b5cad"/><path d="M4 4v8M8 4v8M12 4v8M4 8h8" stroke="#fff" stroke-width="1.5"/></svg>"##;

pub async fn icon() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "image/svg+xml"),
            (CACHE_CONTROL, "public, max-age=86400"),
        ],
        ICON,
    )
}
