//! `/ui/subscriptions`: a workspace's event subscriptions, with the calls behind
//! `/v1/subscriptions`: create (the signing secret shown once, on the answer), enable and
//! disable, rotate the secret (the new one shown once), remove; and per subscription its
//! deliveries with a retry for the failed ones.

use super::outcome::{self, encode, FieldErrors};
use super::Confirmed;
use crate::ui::session::{Session, SignedIn};
use crate::ui::{csrf, pages::forbidden, render};
use crate::AppState;
use askama::Template;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use patchbay_engine::events::{
    CreateSubscription, DeliveryView, PatchSubscription, SubscriptionView,
};
use patchbay_engine::{Caller, EngineError};
use serde::Deserialize;

/// Event types the form suggests; patterns like `connection.*` work too.
const EVENT_TYPES: &[&str] = &[
    "connection.*",
    "connection.created",
    "connection.updated",
    "connection.enabled",
    "connection.disabled",
    "connection.revoked",
    "connection.deleted",
    "connection.health_changed",
    "connection.token_expired",
    "sync.started",
    "sync.completed",
    "sync.failed",
    "records.changed",
    "action.completed",
    "action.failed",
    "webhook.received",
];

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    url: String,
    /// Comma- or space-separated; empty means every event.
    #[serde(default)]
    event_types: String,
    #[serde(default)]
    description: String,
    enabled: Option<String>,
}

#[derive(Deserialize)]
pub struct EnabledForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    enabled: String,
}

#[derive(Deserialize, Default)]
pub struct DeliveriesQuery {
    #[serde(default)]
    cursor: String,
}

/// The create form as sent, to show it again beside its errors.
struct Draft {
    url: String,
    event_types: String,
    description: String,
    enabled: bool,
}

#[derive(Template)]
#[template(path = "subscriptions.html")]
struct ListPage {
    csrf: String,
    who: String,
    subscriptions: Vec<SubscriptionView>,
    event_types: &'static [&'static str],
    draft: Draft,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "subscription.html")]
struct ShowPage {
    csrf: String,
    who: String,
    sub: SubscriptionView,
    deliveries: Vec<DeliveryRow>,
    first_page: Option<String>,
    next_page: Option<String>,
}

/// A delivery and whether it failed (dead, or waiting after a failed attempt).
struct DeliveryRow {
    d: DeliveryView,
    failed: bool,
}

#[derive(Template)]
#[template(path = "subscription_secret.html")]
struct SecretPage {
    csrf: String,
    who: String,
    /// Created, or given a new secret.
    created: bool,
    sub: SubscriptionView,
    secret: String,
}

/// Subscriptions belong to a workspace: the operator is told so.
fn not_planner(session: &Session) -> Option<Response> {
    match session.caller {
        Caller::Workspace { .. } => None,
        _ => Some(outcome::workspace_only()),
    }
}

/// Why a form is refused (a wrong token, the operator's session), if it is.
fn refusal(session: &Session, token: &str) -> Option<Response> {
    if !csrf::matches(&session.csrf, token) {
        return Some(forbidden());
    }
    not_planner(session)
}

/// `url` without a user name or password, so a refused URL is shown again without them.
fn without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

fn parse_types(raw: &str) -> Vec<String> {
    raw.split([',', ' ', '\n', '\r', '\t'])
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

async fn list_page(
    state: &AppState,
    session: Session,
    status: StatusCode,
    draft: Draft,
    errors: FieldErrors,
) -> Response {
    let subscriptions = match state
        .engine
        .events()
        .list_subscriptions(&session.caller)
        .await
    {
        Ok(s) => s,
        Err(e) => return outcome::refused(&e),
    };
    render(
        status,
        &ListPage {
            who: outcome::who(&session.caller),
            csrf: session.csrf,
            subscriptions,
            event_types: EVENT_TYPES,
            draft,
            errors,
        },
    )
}

pub async fn list(State(state): State<AppState>, SignedIn(session): SignedIn) -> Response {
    if let Some(refusal) = not_planner(&session) {
        return refusal;
    }
    let draft = Draft {
        url: String::new(),
        event_types: String::new(),
        description: String::new(),
        enabled: true,
    };
    list_page(
        &state,
        session,
        StatusCode::OK,
        draft,
        FieldErrors::default(),
    )
    .await
}

fn secret_page(session: Session, created: bool, mut sub: SubscriptionView) -> Response {
    let Some(secret) = sub.signing_secret.take() else {
        return super::failed(&"the engine answered no signing secret");
    };
    render(
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        &SecretPage {
            who: outcome::who(&session.caller),
            csrf: session.csrf,
            created,
            sub,
            secret,
        },
    )
}

pub async fn create(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    form: Result<Form<CreateForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return forbidden();
    };
    if let Some(refusal) = refusal(&session, &form.csrf) {
        return refusal;
    }
    let description = form.description.trim();
    let req = CreateSubscription {
        url: form.url.trim().to_string(),
        event_types: parse_types(&form.event_types),
        description: (!description.is_empty()).then(|| description.to_string()),
        enabled: form.enabled.is_some(),
    };
    match state
        .engine
        .events()
        .create_subscription(&session.caller, req)
        .await
    {
        Ok(sub) => secret_page(session, true, sub),
        Err(EngineError::Validation(errors)) => {
            let draft = Draft {
                url: without_userinfo(&form.url),
                event_types: form.event_types,
                description: form.description,
                enabled: form.enabled.is_some(),
            };
            list_page(
                &state,
                session,
                StatusCode::UNPROCESSABLE_ENTITY,
                draft,
                FieldErrors::new(errors),
            )
            .await
        }
        Err(e) => outcome::refused(&e),
    }
}

pub async fn show(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    query: Result<Query<DeliveriesQuery>, QueryRejection>,
) -> Response {
    if let Some(refusal) = not_planner(&session) {
        return refusal;
    }
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let events = state.engine.events();
    let sub = match events.get_subscription(&session.caller, &id).await {
        Ok(s) => s,
        Err(e) => return outcome::refused(&e),
    };
    let cursor = Some(q.cursor.as_str()).filter(|c| !c.is_empty());
    let page = match events
        .list_deliveries(&session.caller, &id, cursor, None)
        .await
    {
        Ok(p) => p,
        Err(e) => return outcome::refused(&e),
    };
    let here = format!("/ui/subscriptions/{}", encode(&sub.id));
    let next_page = page
        .next_cursor
        .map(|c| format!("{here}?cursor={}", encode(&c)));
    let deliveries = page
        .data
        .into_iter()
        .map(|d| DeliveryRow {
            failed: d.status == "dead" || (d.status == "pending" && d.attempts > 0),
            d,
        })
        .collect();
    render(
        StatusCode::OK,
        &ShowPage {
            who: outcome::who(&session.caller),
            csrf: session.csrf,
            sub,
            deliveries,
            first_page: cursor.is_some().then_some(here),
            next_page,
        },
    )
}

fn back_to(id: &str) -> Response {
    Redirect::to(&format!("/ui/subscriptions/{}", encode(id))).into_response()
}

pub async fn set_enabled(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    form: Result<Form<EnabledForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return forbidden();
    };
    if let Some(refusal) = refusal(&session, &form.csrf) {
        return refusal;
    }
    let enabled = match form.enabled.as_str() {
        "true" => true,
        "false" => false,
        _ => return outcome::refused(&EngineError::BadRequest("enabled is true or false".into())),
    };
    let req = PatchSubscription {
        enabled: Some(enabled),
        ..PatchSubscription::default()
    };
    match state
        .engine
        .events()
        .patch_subscription(&session.caller, &id, req)
        .await
    {
        Ok(sub) => back_to(&sub.id),
        Err(e) => outcome::refused(&e),
    }
}

/// `rotate_secret` of `PATCH /v1/subscriptions/{id}`; the answer shows the new secret once.
pub async fn rotate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Confirmed(session): Confirmed,
) -> Response {
    if let Some(refusal) = not_planner(&session) {
        return refusal;
    }
    let req = PatchSubscription {
        rotate_secret: true,
        ..PatchSubscription::default()
    };
    match state
        .engine
        .events()
        .patch_subscription(&session.caller, &id, req)
        .await
    {
        Ok(sub) => secret_page(session, false, sub),
        Err(e) => outcome::refused(&e),
    }
}

pub async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Confirmed(session): Confirmed,
) -> Response {
    if let Some(refusal) = not_planner(&session) {
        return refusal;
    }
    match state
        .engine
        .events()
        .delete_subscription(&session.caller, &id)
        .await
    {
        Ok(()) => Redirect::to("/ui/subscriptions").into_response(),
        Err(e) => outcome::refused(&e),
    }
}

/// Sends a delivery again now, then shows its subscription.
pub async fn retry(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Confirmed(session): Confirmed,
) -> Response {
    if let Some(refusal) = not_planner(&session) {
        return refusal;
    }
    match state
        .engine
        .events()
        .retry_delivery(&session.caller, &id)
        .await
    {
        Ok(d) => back_to(&d.subscription_id),
        Err(e) => outcome::refused(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_types, without_userinfo};

    #[test]
    fn a_refused_url_comes_back_without_its_password() {
        assert_eq!(
            without_userinfo("https://user:pw@example.com/a@b?c"),
            "https://example.com/a@b?c"
        );
        assert_eq!(
            without_userinfo("https://example.com/x"),
            "https://example.com/x"
        );
        assert_eq!(without_userinfo("not a url"), "not a url");
    }

    #[test]
    fn event_types_split_on_commas_and_spaces() {
        assert_eq!(
            parse_types(" records.changed, connection.*\nsync.failed,,"),
            ["records.changed", "connection.*", "sync.failed"]
        );
        assert!(parse_types("  ").is_empty());
    }
}
