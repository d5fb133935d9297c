//! The UI's pages, one module per concern.

pub mod activity;
pub mod assets;
pub mod connections;
pub mod home;
pub mod operator;
pub mod outcome;
pub mod repositories;
pub mod sign_in;
pub mod subscriptions;

use crate::ui::render;
use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

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
