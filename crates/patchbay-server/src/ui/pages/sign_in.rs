//! Signing in (a key exchanged for a session) and signing out (the session revoked).

use super::forbidden;
use crate::ui::session::{self, cookie, set_cookie};
use crate::ui::{csrf, render};
use crate::AppState;
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use axum::Form;
use patchbay_engine::Caller;
use serde::Deserialize;
use std::time::Duration;

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage<'a> {
    csrf: &'a str,
    error: Option<&'a str>,
}

/// The sign-in form. No `Debug`: the key must not reach a log.
#[derive(Deserialize)]
pub struct SignInForm {
    // Missing fields parse as empty so that a form without a token gets 403, not 422.
    #[serde(default)]
    key: String,
    #[serde(default)]
    csrf: String,
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// The pre-session CSRF cookie lives as long as a form may sit open.
const CSRF_COOKIE_AGE: Duration = Duration::from_secs(60 * 60);

pub async fn form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (token, fresh) = match cookie(&headers, csrf::COOKIE).filter(|t| csrf::well_formed(t)) {
        Some(t) => (t.to_string(), false),
        None => (csrf::new_token(), true),
    };
    let page = render(
        StatusCode::OK,
        &SignInPage {
            csrf: &token,
            error: None,
        },
    );
    if !fresh {
        return page;
    }
    let set = set_cookie(
        csrf::COOKIE,
        &token,
        CSRF_COOKIE_AGE,
        session::secure(&state),
    );
    (AppendHeaders([(SET_COOKIE, set)]), page).into_response()
}

pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return forbidden();
    };
    let Some(expected) = cookie(&headers, csrf::COOKIE) else {
        return forbidden();
    };
    if !csrf::matches(expected, &form.csrf) {
        return forbidden();
    }
    let key = form.key.trim();
    let caller = if key.is_empty() {
        None
    } else {
        match state.engine.auth().authenticate(key).await {
            Ok(caller) => caller,
            Err(e) => return super::failed(&e),
        }
    };
    // Integration principal keys belong to programs, not people: they do not sign in here.
    let caller =
        match caller {
            Some(c @ (Caller::Admin | Caller::Workspace { .. })) => c,
            _ => return render(
                StatusCode::UNAUTHORIZED,
                &SignInPage {
                    csrf: expected,
                    error: Some(
                        "That key was not accepted. Use the admin key or a workspace secret key.",
                    ),
                },
            ),
        };
    // A browser that signs in again leaves no older session behind.
    if let Some(old) = cookie(&headers, session::COOKIE_NAME) {
        state.ui_sessions.revoke(old);
    }
    let token = state.ui_sessions.create(caller);
    let secure = session::secure(&state);
    (
        AppendHeaders([
            (
                SET_COOKIE,
                set_cookie(session::COOKIE_NAME, &token, session::ABSOLUTE, secure),
            ),
            (
                SET_COOKIE,
                set_cookie(csrf::COOKIE, "", Duration::ZERO, secure),
            ),
        ]),
        Redirect::to("/ui"),
    )
        .into_response()
}

pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let token = cookie(&headers, session::COOKIE_NAME);
    let live = token.and_then(|t| state.ui_sessions.get(t));
    let valid = match (&live, &form) {
        (Some(s), Ok(Form(f))) => csrf::matches(&s.csrf, &f.csrf),
        _ => false,
    };
    let (true, Some(token)) = (valid, token) else {
        return forbidden();
    };
    state.ui_sessions.revoke(token);
    let clear = set_cookie(
        session::COOKIE_NAME,
        "",
        Duration::ZERO,
        session::secure(&state),
    );
    (
        AppendHeaders([(SET_COOKIE, clear)]),
        Redirect::to(crate::ui::SIGN_IN),
    )
        .into_response()
}
