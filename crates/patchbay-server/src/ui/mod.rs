//! The web UI under `/ui`: server-rendered pages from templates compiled into the binary, with
//! the stylesheet embedded, so a browser never fetches anything from another origin. Pages call
//! the same engine services as the JSON API. The UI sits outside the API's bearer auth and its
//! OpenAPI document: a key is typed into the sign-in form once and exchanged for a server-side
//! session (see [`session`]); every form carries a CSRF token (see [`csrf`]).

mod csrf;
mod pages;
mod schema_form;
mod session;
mod svg;
mod widgets;

pub use session::UiSessions;

use crate::AppState;
use askama::Template;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Router};

/// Where a browser without a session is sent.
const SIGN_IN: &str = "/ui/sign-in";

/// `default-src 'self'` is the rule; the others cover what `default-src` does not (framing,
/// form targets, `<base>`).
const CSP: &str = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Every page of the UI.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ui", get(pages::home::show))
        .route("/ui/connections", get(pages::connections::list))
        .route("/ui/workspaces", post(pages::operator::create))
        .route("/ui/activity", get(pages::activity::list))
        .route(
            "/ui/repositories",
            get(pages::repositories::list).post(pages::repositories::register),
        )
        .route("/ui/repositories/{id}", post(pages::repositories::update))
        .route(
            "/ui/repositories/{id}/remove",
            post(pages::repositories::remove),
        )
        .route(
            "/ui/subscriptions",
            get(pages::subscriptions::list).post(pages::subscriptions::create),
        )
        .route("/ui/subscriptions/{id}", get(pages::subscriptions::show))
        .route(
            "/ui/subscriptions/{id}/enabled",
            post(pages::subscriptions::set_enabled),
        )
        .route(
            "/ui/subscriptions/{id}/rotate",
            post(pages::subscriptions::rotate),
        )
        .route(
            "/ui/subscriptions/{id}/remove",
            post(pages::subscriptions::remove),
        )
        .route(
            "/ui/deliveries/{id}/retry",
            post(pages::subscriptions::retry),
        )
        .route(
            "/ui/connections/new",
            get(pages::new_connection::form).post(pages::new_connection::create),
        )
        .route(
            "/ui/connections/connected",
            get(pages::new_connection::connected),
        )
        .route("/ui/connections/{id}", get(pages::connection::show))
        .route(
            "/ui/connections/{id}/lifecycle",
            post(pages::connection::lifecycle),
        )
        .route("/ui/connections/{id}/test", post(pages::connection::test))
        .route(
            "/ui/connections/{id}/edit",
            get(pages::edit_connection::form).post(pages::edit_connection::save),
        )
        .route(
            "/ui/connections/{id}/delete",
            get(pages::edit_connection::confirm_delete).post(pages::edit_connection::delete),
        )
        .route(
            "/ui/connections/{id}/principal/rotate",
            post(pages::connection::rotate),
        )
        .route(
            "/ui/connections/{id}/webhook-events/{event}/replay",
            post(pages::connection::replay),
        )
        .route(
            "/ui/connections/{id}/syncs",
            get(pages::syncs::show).post(pages::syncs::start),
        )
        .route(
            "/ui/connections/{id}/syncs/{run}/cancel",
            post(pages::syncs::cancel),
        )
        .route(
            "/ui/connections/{id}/records/{entity}",
            get(pages::records::list),
        )
        .route(
            "/ui/connections/{id}/records/{entity}/{record}",
            get(pages::records::show),
        )
        .route(
            "/ui/connections/{id}/actions/{action}",
            get(pages::actions::form).post(pages::actions::run),
        )
        .route(
            SIGN_IN,
            get(pages::sign_in::form).post(pages::sign_in::submit),
        )
        .route("/ui/sign-out", post(pages::sign_in::sign_out))
        .route("/ui/assets/app.css", get(pages::assets::css))
        .route("/ui/assets/app.js", get(pages::assets::js))
        .route("/ui/alerts", get(pages::alerts::fragment))
        .route("/ui/dashboard", get(pages::dashboard::show))
        .route("/ui/dashboard/widgets", post(pages::dashboard::add))
        .route(
            "/ui/dashboard/widgets/{id}",
            get(pages::dashboard::fragment),
        )
        .route(
            "/ui/dashboard/widgets/{id}/remove",
            post(pages::dashboard::remove),
        )
        .route("/ui/assets/icon.svg", get(pages::assets::icon))
        .layer(middleware::map_response(security_headers))
        .merge(pages::connect::router())
}

/// Headers on every UI answer. Pages are never cached (they show per-session data); an answer
/// that chose its own caching (the stylesheet) keeps it.
async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.entry(CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    resp
}

/// Renders a page; a template that fails to render is a bug, answered with a bare 500.
fn render<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "UI template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}
