//! The hosted connect page (`/connect?session=…`): an application's end user picks one of the
//! connectors the connect session offers. OAuth connectors go on to the provider's consent
//! page; the others get a form generated from their secrets schema (and any required config
//! the session leaves out), whose credentials the engine checks with the provider before it
//! keeps the connection. The user signs in to nothing here: the session token is the
//! authority, and a double-submit CSRF token guards the form.

use crate::ui::session::cookie;
use crate::ui::{csrf, render, schema_form, CSP};
use crate::AppState;
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::header::{CONTENT_SECURITY_POLICY, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{middleware, Form, Router};
use patchbay_core::{FieldError, Secret, SecretMap};
use patchbay_engine::oauth::hosted::{HostedChoice, HostedSession};
use patchbay_engine::EngineError;
use serde::Deserialize;
use serde_json::Value;

/// How the engine begins a refusal by the provider.
const REFUSED: &str = "the provider did not accept these credentials: ";

/// The pre-session CSRF cookie of the connect form; scoped to `/connect`.
const CSRF_COOKIE: &str = "pb_connect_csrf";

/// The page's own routes, with the UI's security headers.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/connect", get(show).post(submit))
        .layer(middleware::map_response(headers))
}

/// The UI's headers; a page that names its form's redirect target keeps its own CSP.
async fn headers(resp: Response) -> Response {
    let own = resp.headers().get(CONTENT_SECURITY_POLICY).cloned();
    let mut resp = crate::ui::security_headers(resp).await;
    if let Some(csp) = own {
        resp.headers_mut().insert(CONTENT_SECURITY_POLICY, csp);
    }
    resp
}

/// `form-action` also allows the return URL's origin: browsers hold a form's redirect to it.
fn csp_for(cancel_url: &str) -> Option<HeaderValue> {
    let origin = url::Url::parse(cancel_url).ok()?.origin();
    if !origin.is_tuple() {
        return None;
    }
    let csp = CSP.replace(
        "form-action 'self'",
        &format!("form-action 'self' {}", origin.ascii_serialization()),
    );
    HeaderValue::from_str(&csp).ok()
}

#[derive(Template)]
#[template(path = "connect.html")]
struct ConnectPage<'a> {
    title: &'a str,
    note: Option<&'a str>,
    session: &'a str,
    csrf: &'a str,
    choices: Vec<Choice>,
    cancel_url: Option<&'a str>,
}

/// One offered connector as the page shows it.
struct Choice {
    key: String,
    name: String,
    description: String,
    /// For OAuth connectors: where the button goes.
    authorize: Option<String>,
    fields: Vec<schema_form::Field>,
    /// The provider refused the credentials: its words.
    refusal: Option<String>,
    /// Errors no control shows.
    errors: Vec<String>,
}

/// What the user typed last, and what was wrong with it, for the connector they chose.
struct Attempt<'a> {
    connector: &'a str,
    config: Value,
    errors: Vec<FieldError>,
}

fn choice(session: &str, c: &HostedChoice, attempt: Option<&Attempt>) -> Choice {
    let attempt = attempt.filter(|a| a.connector == c.key);
    let no_errors = Vec::new();
    let errors = attempt.map_or(&no_errors, |a| &a.errors);
    let config = attempt.map_or(Value::Null, |a| a.config.clone());
    let authorize = c.oauth.then(|| {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("session", session)
            .append_pair("connector", &c.key)
            .finish();
        format!("/v1/oauth/authorize?{query}")
    });
    let mut fields = Vec::new();
    if !c.oauth {
        fields = schema_form::fields(&c.config_schema, "config", &config, errors, false);
        fields.extend(schema_form::fields(
            &c.secrets_schema,
            "secrets",
            &Value::Null,
            errors,
            true,
        ));
        // Ids stay unique with several forms on the page.
        for f in &mut fields {
            f.id = format!("{}-{}", c.key, f.id);
        }
    }
    // The page's heading already says the provider refused: keep the provider's words.
    let refusal = errors
        .iter()
        .find(|e| e.code == "verification_failed")
        .map(|e| {
            let m = e.message.as_str();
            m.strip_prefix(REFUSED).unwrap_or(m).to_string()
        });
    let others: Vec<FieldError> = errors
        .iter()
        .filter(|e| e.code != "verification_failed")
        .cloned()
        .collect();
    Choice {
        key: c.key.clone(),
        name: c.name.clone(),
        description: c.description.clone(),
        authorize,
        errors: schema_form::unplaced(&others, &[&fields]),
        fields,
        refusal,
    }
}

/// The page listing the session's connectors.
fn offer(
    status: StatusCode,
    session: &str,
    csrf: &str,
    hosted: &HostedSession,
    attempt: Option<&Attempt>,
) -> Response {
    let page = ConnectPage {
        title: "Connect an account",
        note: (hosted.choices.len() > 1).then_some("Choose the service to connect."),
        session,
        csrf,
        choices: hosted
            .choices
            .iter()
            .map(|c| choice(session, c, attempt))
            .collect(),
        cancel_url: Some(&hosted.cancel_url),
    };
    let mut resp = render(status, &page);
    if let Some(csp) = csp_for(&hosted.cancel_url) {
        resp.headers_mut().insert(CONTENT_SECURITY_POLICY, csp);
    }
    resp
}

fn notice(status: StatusCode, title: &str, note: &str) -> Response {
    render(
        status,
        &ConnectPage {
            title,
            note: Some(note),
            session: "",
            csrf: "",
            choices: Vec::new(),
            cancel_url: None,
        },
    )
}

/// The page for a session that cannot be used, or a failure.
fn refused(e: &EngineError) -> Response {
    match e {
        EngineError::NotFound(_) => notice(
            StatusCode::NOT_FOUND,
            "Link not valid",
            "This connect link is not valid. Go back to the application and start again.",
        ),
        EngineError::Expired(message) => notice(
            StatusCode::GONE,
            "Link no longer valid",
            &format!("This connect link can no longer be used: {message}."),
        ),
        other => {
            tracing::error!(error = %other, "connect page failed");
            notice(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The server could not load this page. Try again in a moment.",
            )
        }
    }
}

fn forbidden() -> Response {
    notice(
        StatusCode::FORBIDDEN,
        "Form expired",
        "This form could not be verified. Go back, reload the page and try again.",
    )
}

#[derive(Deserialize)]
pub struct ShowQuery {
    session: Option<String>,
}

/// The cookie lives as long as a connect session may.
const CSRF_COOKIE_AGE: u64 = 60 * 60;

fn csrf_cookie(state: &AppState, token: &str) -> HeaderValue {
    let secure = if crate::ui::session::secure(state) {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{CSRF_COOKIE}={token}; Path=/connect; Max-Age={CSRF_COOKIE_AGE}; HttpOnly; SameSite=Strict{secure}"
    ))
    .expect("tokens are hex")
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ShowQuery>,
) -> Response {
    let Some(session) = q.session.filter(|s| !s.is_empty()) else {
        return refused(&EngineError::NotFound("connect session"));
    };
    let hosted = match state.engine.oauth().hosted_session(&session).await {
        Ok(h) => h,
        Err(e) => return refused(&e),
    };
    let (token, fresh) = match cookie(&headers, CSRF_COOKIE).filter(|t| csrf::well_formed(t)) {
        Some(t) => (t.to_string(), false),
        None => (csrf::new_token(), true),
    };
    let page = offer(StatusCode::OK, &session, &token, &hosted, None);
    if !fresh {
        return page;
    }
    (
        AppendHeaders([(SET_COOKIE, csrf_cookie(&state, &token))]),
        page,
    )
        .into_response()
}

/// The posted pairs; no `Debug`: they hold secrets.
type Pairs = Vec<(String, String)>;

fn value<'a>(pairs: &'a Pairs, name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<Pairs>, FormRejection>,
) -> Response {
    let Ok(Form(pairs)) = form else {
        return forbidden();
    };
    let Some(expected) = cookie(&headers, CSRF_COOKIE) else {
        return forbidden();
    };
    if !csrf::matches(expected, value(&pairs, "csrf")) {
        return forbidden();
    }
    let session = value(&pairs, "session");
    let connector = value(&pairs, "connector");
    let oauth = state.engine.oauth();
    let hosted = match oauth.hosted_session(session).await {
        Ok(h) => h,
        Err(e) => return refused(&e),
    };
    let Some(chosen) = hosted
        .choices
        .iter()
        .find(|c| c.key == connector && !c.oauth)
    else {
        return notice(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Choose a service",
            "This connect link does not offer that service through a form. Go back and choose again.",
        );
    };
    let (config, mut errors) = schema_form::read(&chosen.config_schema, "config", &pairs);
    let (typed, secret_errors) = schema_form::read(&chosen.secrets_schema, "secrets", &pairs);
    errors.extend(secret_errors);
    let retry = |config: Value, errors: Vec<FieldError>| {
        let attempt = Attempt {
            connector,
            config,
            errors,
        };
        offer(
            StatusCode::UNPROCESSABLE_ENTITY,
            session,
            expected,
            &hosted,
            Some(&attempt),
        )
    };
    if !errors.is_empty() {
        return retry(config, errors);
    }
    let secrets: SecretMap = typed
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            (k.clone(), Secret::new(text))
        })
        .collect();
    match oauth
        .connect_with_credentials(session, connector, config.clone(), secrets)
        .await
    {
        Ok(to) => Redirect::to(&to).into_response(),
        Err(EngineError::Validation(errors)) => retry(config, errors),
        Err(EngineError::Conflict(message)) => retry(
            config,
            vec![FieldError::new("", "conflict", message.clone())],
        ),
        Err(e) => refused(&e),
    }
}
