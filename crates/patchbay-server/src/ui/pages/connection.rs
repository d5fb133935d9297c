//! `/ui/connections/{id}`: one connection: its lifecycle, health, scopes and token expiry, its
//! principal, sync controls and history, entities to browse, webhook events to replay, actions
//! to run and its activity. Each control posts to the same engine service the JSON API uses.

use super::{engine_error, forbidden, pretty, see_other, verified, who, Confirmed};
use crate::ui::render;
use crate::ui::session::SignedIn;
use crate::ui::widgets::{self, Body, WidgetCard};
use crate::AppState;
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use futures_util::future::join_all;
use patchbay_core::{ActionSpec, DataEndpointSpec, EntitySpec, Lifecycle, TestOutcome};
use patchbay_engine::connections::PatchConnection;
use patchbay_engine::views::{ActivityView, ConnectionView, PrincipalView};
use patchbay_engine::webhooks::WebhookEventView;
use serde::Deserialize;
use std::time::Duration;

/// How many of each history the page shows; the JSON API pages through the rest.
const SHOWN: i64 = 20;

#[derive(Template)]
#[template(path = "connection.html")]
struct ConnectionPage {
    csrf: String,
    who: String,
    c: ConnectionView,
    config: String,
    transitions: Vec<String>,
    principal: Option<PrincipalView>,
    entities: Vec<EntitySpec>,
    actions: Vec<ActionSpec>,
    data_endpoints: Vec<DataEndpointSpec>,
    /// The connection's data endpoints as widgets, read now (enabled connections only).
    data_widgets: Vec<WidgetCard>,
    syncs: super::syncs::SyncsFragment,
    webhook_events: Vec<WebhookEventView>,
    activity: Vec<ActivityView>,
    /// What the last control did, shown at the top.
    notice: Option<String>,
    /// A principal key shown this once after rotation.
    new_key: Option<String>,
}

#[derive(Deserialize)]
pub struct LifecycleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    to: String,
}

async fn page(
    state: &AppState,
    session: &crate::ui::session::Session,
    id: &str,
    notice: Option<String>,
    new_key: Option<String>,
) -> Response {
    let engine = &state.engine;
    let caller = &session.caller;
    let c = match engine.connections().get_connection(caller, id).await {
        Ok(c) => c,
        Err(e) => return engine_error(e),
    };
    let connector = match engine.registry().get(&c.connector) {
        Ok(connector) => connector,
        Err(e) => return engine_error(patchbay_engine::EngineError::UnknownConnector(e)),
    };
    let mut spec = connector.spec().clone();
    spec.data_endpoints = connector.data_endpoints_for(&c.config);
    let data_widgets = if c.lifecycle == Lifecycle::Enabled {
        join_all(
            spec.data_endpoints
                .iter()
                .map(|d| data_widget(state, caller, id, d)),
        )
        .await
    } else {
        Vec::new()
    };
    // The rest are side panels: one that fails leaves the page up, empty.
    let principal = engine.connections().get_principal(caller, id).await.ok();
    let mut syncs = super::syncs::fragment(state, caller, id).await;
    syncs.csrf = session.csrf.clone();
    let webhook_events = engine
        .webhooks()
        .list_webhook_events(caller, id, None, Some(SHOWN))
        .await
        .map(|p| p.data)
        .unwrap_or_default();
    let activity = engine
        .activity()
        .list_activity(caller, Some(id), None, Some(SHOWN))
        .await
        .map(|p| p.data)
        .unwrap_or_default();
    render(
        StatusCode::OK,
        &ConnectionPage {
            csrf: session.csrf.clone(),
            who: who(caller),
            config: pretty(&c.config),
            transitions: c
                .allowed_transitions
                .iter()
                .map(|l| l.as_str().to_string())
                .collect(),
            principal,
            entities: spec.entities,
            actions: spec.actions,
            data_endpoints: spec.data_endpoints,
            data_widgets,
            syncs,
            webhook_events,
            activity,
            notice,
            new_key,
            c,
        },
    )
}

/// How long a data endpoint may take before the page shows it as failed.
const DATA_TIMEOUT: Duration = Duration::from_secs(3);

/// One data endpoint read now, drawn as the dashboard draws it.
async fn data_widget(
    state: &AppState,
    caller: &patchbay_engine::Caller,
    id: &str,
    d: &DataEndpointSpec,
) -> WidgetCard {
    let read = tokio::time::timeout(DATA_TIMEOUT, state.engine.live().data(caller, id, &d.key));
    let (body, error, fetched_at) = match read.await {
        Ok(Ok(view)) => (
            widgets::body(view.shape, &view.data).unwrap_or_else(Body::Malformed),
            None,
            Some(view.fetched_at),
        ),
        Ok(Err(e)) => (
            Body::Empty,
            Some(crate::error::ApiError::from(e).message),
            None,
        ),
        Err(_) => (
            Body::Empty,
            Some("the provider did not answer in time".into()),
            None,
        ),
    };
    WidgetCard {
        id: format!("data-{}", d.key),
        title: if d.description.is_empty() {
            d.key.clone()
        } else {
            d.description.clone()
        },
        source: d.key.clone(),
        refresh_seconds: d.ttl_seconds,
        error,
        stale: false,
        fetched_at,
        age: None,
        body,
    }
}

pub async fn show(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    page(&state, &session, &id, None, None).await
}

/// Moves the lifecycle; the engine refuses a transition that is not allowed (409) or a
/// connection that does not validate (422, its errors shown on the page).
pub async fn lifecycle(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    form: Result<Form<LifecycleForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return forbidden();
    };
    if !verified(&session, &form.csrf) {
        return forbidden();
    }
    let Ok(to) = form.to.parse::<Lifecycle>() else {
        return super::message(
            StatusCode::BAD_REQUEST,
            "Unknown state",
            "That lifecycle state is not one patchbay knows.",
        );
    };
    let patch = PatchConnection {
        lifecycle: Some(to),
        ..PatchConnection::default()
    };
    match state
        .engine
        .connections()
        .patch_connection(&session.caller, &id, patch)
        .await
    {
        Ok(_) => see_other(&format!("/ui/connections/{id}")),
        Err(patchbay_engine::EngineError::Validation(errors)) => {
            let list: Vec<String> = errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect();
            let notice = format!("Not {}: {}", to.as_str(), list.join("; "));
            let mut resp = page(&state, &session, &id, Some(notice), None).await;
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            resp
        }
        Err(e) => engine_error(e),
    }
}

/// Checks the credentials with the provider; the outcome is shown and recorded in health.
pub async fn test(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Confirmed(session): Confirmed,
) -> Response {
    match state
        .engine
        .connections()
        .test_connection(&session.caller, &id)
        .await
    {
        Ok(TestOutcome { ok, message, .. }) => {
            let notice = if ok {
                format!("Test passed: {message}")
            } else {
                format!("Test failed: {message}")
            };
            page(&state, &session, &id, Some(notice), None).await
        }
        Err(e) => engine_error(e),
    }
}

/// Issues a new principal key, shown on this answer only.
pub async fn rotate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Confirmed(session): Confirmed,
) -> Response {
    match state
        .engine
        .connections()
        .rotate_principal(&session.caller, &id)
        .await
    {
        Ok(rotated) => {
            let notice = "A new principal key was issued; the previous key no longer works.";
            page(
                &state,
                &session,
                &id,
                Some(notice.into()),
                Some(rotated.principal_key),
            )
            .await
        }
        Err(e) => engine_error(e),
    }
}

/// Replays a stored webhook event, then shows the connection again.
pub async fn replay(
    State(state): State<AppState>,
    Path((id, event_id)): Path<(String, String)>,
    Confirmed(session): Confirmed,
) -> Response {
    // The event must belong to this connection, which the engine's workspace check alone does
    // not say.
    match state
        .engine
        .webhooks()
        .replay_webhook_event(&session.caller, &event_id)
        .await
    {
        Ok(event) if event.connection_id == id => {
            let notice = format!("Event {} replayed: {}", event.delivery_id, event.status);
            page(&state, &session, &id, Some(notice), None).await
        }
        Ok(event) => see_other(&format!("/ui/connections/{}", event.connection_id)),
        Err(e) => engine_error(e),
    }
}
