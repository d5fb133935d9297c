//! The UI's pages, one module per concern.

pub mod actions;
pub mod activity;
pub mod alerts;
pub mod assets;
pub mod connect;
pub mod connection;
pub mod connections;
pub mod dashboard;
pub mod edit_connection;
pub mod home;
pub mod new_connection;
pub mod operator;
pub mod outcome;
pub mod records;
pub mod repositories;
pub mod sign_in;
pub mod subscriptions;
pub mod syncs;

use crate::error::ApiError;
use crate::ui::render;
use crate::ui::session::Session;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Redirect, Response};
use patchbay_engine::{Caller, EngineError};

/// A page that only says something (refused forms, failures).
#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    title: &'a str,
    message: &'a str,
}

fn message(status: StatusCode, title: &str, message: &str) -> Response {
    render(status, &MessagePage { title, message })
}

/// The answer to a form without a valid CSRF token.
pub fn forbidden() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "Form expired",
        "This form could not be verified. Go back, reload the page and try again.",
    )
}

/// The answer when an engine service fails; the detail goes to the log only.
pub fn failed(error: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %error, "UI page failed");
    message(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "The server could not load this page. Try again in a moment.",
    )
}

/// An engine refusal as a page with the API's status and message; failures of patchbay itself
/// keep their detail in the log.
pub fn engine_error(error: EngineError) -> Response {
    let api = ApiError::from(error);
    if api.status.is_server_error() && api.status != StatusCode::BAD_GATEWAY {
        return failed(&api.message);
    }
    let title = match api.status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::CONFLICT => "Not possible now",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::GONE => "Expired",
        StatusCode::BAD_GATEWAY => "The provider did not answer",
        _ => "Refused",
    };
    message(api.status, title, &api.message)
}

/// Who the page header names.
pub fn who(caller: &Caller) -> String {
    match caller {
        Caller::Admin => "Operator".into(),
        Caller::Workspace { workspace_id, .. } | Caller::Integration { workspace_id, .. } => {
            format!("Workspace {workspace_id}")
        }
    }
}

/// A form that carries only the session's CSRF token (a button), posted by a signed-in
/// browser: no session sends it to sign in; a missing or wrong token is refused with 403.
pub struct Confirmed(pub Session);

#[derive(serde::Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

impl axum::extract::FromRequest<crate::AppState> for Confirmed {
    type Rejection = Response;

    async fn from_request(
        req: axum::extract::Request,
        state: &crate::AppState,
    ) -> Result<Self, Response> {
        use axum::extract::FromRequestParts;
        use axum::response::IntoResponse;
        let (mut parts, body) = req.into_parts();
        let crate::ui::session::SignedIn(session) =
            crate::ui::session::SignedIn::from_request_parts(&mut parts, state)
                .await
                .map_err(IntoResponse::into_response)?;
        let req = axum::extract::Request::from_parts(parts, body);
        match axum::Form::<CsrfOnly>::from_request(req, state).await {
            Ok(axum::Form(f)) if verified(&session, &f.csrf) => Ok(Confirmed(session)),
            _ => Err(forbidden()),
        }
    }
}

/// Whether a posted form carries the session's CSRF token.
pub fn verified(session: &Session, token: &str) -> bool {
    crate::ui::csrf::matches(&session.csrf, token)
}

/// After a successful form: back to a page (post/redirect/get).
pub fn see_other(to: &str) -> Response {
    axum::response::IntoResponse::into_response(Redirect::to(to))
}

/// A JSON value as indented text for a `<pre>`.
pub fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}
