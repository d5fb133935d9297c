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
