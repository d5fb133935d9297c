//! `/ui/dashboard`: a workspace's widgets drawn by shape with their current data (or why there
//! is none, and the last data marked stale), a form to add one and a button to remove each.
//! Each widget's body is also served alone at `/ui/dashboard/widgets/{id}`, which the page's
//! script fetches every refresh interval; without the script a reload shows fresh data.

use super::alerts::{self, AlertItem};
use super::{forbidden, message};
use crate::ui::session::{background, SignedIn};
use crate::ui::widgets::{shape_name, Body, WidgetCard};
use crate::ui::{csrf, render};
use crate::AppState;
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use futures_util::future::join_all;
use patchbay_core::{Capability, FieldError, Lifecycle};
use patchbay_engine::connections::ListConnections;
use patchbay_engine::widgets::CreateWidget;
use patchbay_engine::{Caller, EngineError};
use serde::Deserialize;

/// Connections the form offers endpoints of, at most (the API's largest page).
const CONNECTIONS_SHOWN: i64 = 500;

pub struct SourceOption {
    value: String,
    label: String,
    selected: bool,
}

/// A connection's data endpoints, as a group of the form's select.
pub struct SourceGroup {
    label: String,
    options: Vec<SourceOption>,
}

/// What was typed into the form, and what the engine said of it.
#[derive(Default)]
pub struct FormState {
    source: String,
    refresh_seconds: String,
    title: String,
    errors: Vec<FieldError>,
    source_error: Option<String>,
    refresh_error: Option<String>,
    title_error: Option<String>,
    other_errors: Vec<String>,
}

impl FormState {
    fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        for e in &errors {
            let slot = match e.field.as_str() {
                "connection_id" | "endpoint" => &mut self.source_error,
                "refresh_seconds" => &mut self.refresh_error,
                "title" => &mut self.title_error,
                _ => {
                    self.other_errors.push(e.message.clone());
                    continue;
                }
            };
            match slot {
                Some(text) => text.push_str(&format!("; {}", e.message)),
                None => *slot = Some(e.message.clone()),
            }
        }
        self.errors = errors;
        self
    }
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    csrf: String,
    who: String,
    alerts: Vec<AlertItem>,
    widgets: Vec<WidgetCard>,
    sources: Vec<SourceGroup>,
    form: FormState,
}

#[derive(Template)]
#[template(path = "widget_body.html")]
struct WidgetFragment {
    w: WidgetCard,
}

#[derive(Deserialize)]
pub struct AddForm {
    #[serde(default)]
    csrf: String,
    /// `CONNECTION_ID ENDPOINT`: one choice keeps the two consistent without a script.
    #[serde(default)]
    source: String,
    #[serde(default)]
    refresh_seconds: String,
    #[serde(default)]
    title: String,
}

fn workspace_only() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "Dashboards belong to workspaces",
        "Sign in with a workspace secret key to see and arrange its dashboard.",
    )
}

/// Engine errors other than field errors, as pages; the operator is told where dashboards are.
fn engine_error(e: EngineError) -> Response {
    match e {
        EngineError::Forbidden(_) | EngineError::BadRequest(_) => workspace_only(),
        other => super::engine_error(other),
    }
}

/// Every connection of the workspace with data endpoints, as the form's choices.
async fn sources(
    state: &AppState,
    caller: &Caller,
    selected: &str,
) -> Result<Vec<SourceGroup>, EngineError> {
    let filter = ListConnections {
        limit: Some(CONNECTIONS_SHOWN),
        ..ListConnections::default()
    };
    let page = state
        .engine
        .connections()
        .list_connections(caller, &filter)
        .await?;
    let registry = state.engine.registry();
    Ok(page
        .data
        .iter()
        .filter_map(|c| {
            let connector = registry.get(&c.connector).ok()?;
            if !connector.spec().supports(Capability::Data) {
                return None;
            }
            let options: Vec<SourceOption> = connector
                .data_endpoints_for(&c.config)
                .into_iter()
                .map(|e| {
                    let value = format!("{} {}", c.id, e.key);
                    let description = if e.description.is_empty() {
                        e.key.clone()
                    } else {
                        e.description
                    };
                    SourceOption {
                        selected: value == selected,
                        label: format!("{description} ({})", shape_name(e.shape)),
                        value,
                    }
                })
                .collect();
            let state_note = if c.lifecycle == Lifecycle::Enabled {
                String::new()
            } else {
                format!(", {}", c.lifecycle.as_str())
            };
            (!options.is_empty()).then(|| SourceGroup {
                label: format!("{} ({}{state_note})", c.name, c.connector),
                options,
            })
        })
        .collect())
}

/// The page, with `form` as typed (and its errors) when it comes back from a failed add.
async fn page(
    state: &AppState,
    csrf: String,
    caller: &Caller,
    status: StatusCode,
    form: FormState,
) -> Response {
    let Caller::Workspace { workspace_id, .. } = caller else {
        return workspace_only();
    };
    let widgets = match state.engine.widgets().list(caller).await {
        Ok(page) => page.data,
        Err(e) => return engine_error(e),
    };
    let widgets_svc = state.engine.widgets();
    let reads = join_all(widgets.iter().map(|w| widgets_svc.read(caller, &w.id))).await;
    let (sources, alerts) = tokio::join!(
        sources(state, caller, &form.source),
        alerts::raised(state, caller)
    );
    let sources = match sources {
        Ok(s) => s,
        Err(e) => return engine_error(e),
    };
    render(
        status,
        &DashboardPage {
            who: format!("Workspace {workspace_id}"),
            csrf,
            alerts,
            // A widget removed meanwhile is left out.
            widgets: reads
                .iter()
                .filter_map(|r| r.as_ref().ok())
                .map(WidgetCard::from_read)
                .collect(),
            sources,
            form,
        },
    )
}

pub async fn show(State(state): State<AppState>, SignedIn(session): SignedIn) -> Response {
    page(
        &state,
        session.csrf,
        &session.caller,
        StatusCode::OK,
        FormState::default(),
    )
    .await
}

pub async fn add(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    form: Result<Form<AddForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return forbidden();
    };
    if !csrf::matches(&session.csrf, &form.csrf) {
        return forbidden();
    }
    let (connection_id, endpoint) = form
        .source
        .split_once(' ')
        .unwrap_or((form.source.as_str(), ""));
    let refresh = form.refresh_seconds.trim();
    let typed = FormState {
        source: form.source.clone(),
        refresh_seconds: form.refresh_seconds.clone(),
        title: form.title.clone(),
        ..FormState::default()
    };
    let refresh_seconds = match refresh {
        "" => None,
        n => match n.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                let e = FieldError::new(
                    "refresh_seconds",
                    "type",
                    "must be a whole number of seconds",
                );
                return page(
                    &state,
                    session.csrf,
                    &session.caller,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    typed.with_errors(vec![e]),
                )
                .await;
            }
        },
    };
    let req = CreateWidget {
        connection_id: connection_id.to_string(),
        endpoint: endpoint.to_string(),
        refresh_seconds,
        title: Some(form.title.clone()),
        position: None,
    };
    match state.engine.widgets().create(&session.caller, req).await {
        Ok(w) => Redirect::to(&format!("/ui/dashboard#widget-{}", w.id)).into_response(),
        Err(EngineError::Validation(errors)) => {
            page(
                &state,
                session.csrf,
                &session.caller,
                StatusCode::UNPROCESSABLE_ENTITY,
                typed.with_errors(errors),
            )
            .await
        }
        Err(EngineError::NotFound(_)) => {
            let e = FieldError::new(
                "connection_id",
                "not_found",
                "no such connection in this workspace",
            );
            page(
                &state,
                session.csrf,
                &session.caller,
                StatusCode::UNPROCESSABLE_ENTITY,
                typed.with_errors(vec![e]),
            )
            .await
        }
        Err(e) => engine_error(e),
    }
}

pub async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
    super::Confirmed(session): super::Confirmed,
) -> Response {
    match state.engine.widgets().remove(&session.caller, &id).await {
        Ok(()) => Redirect::to("/ui/dashboard").into_response(),
        Err(e) => engine_error(e),
    }
}

/// One widget's body, for the page's script. A background fetch: it does not keep the
/// session alive, and answers 401 rather than the sign-in page when there is none.
pub async fn fragment(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Some(session) = background(&state, &headers) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    match state.engine.widgets().read(&session.caller, &id).await {
        Ok(read) => render(
            StatusCode::OK,
            &WidgetFragment {
                w: WidgetCard::from_read(&read),
            },
        ),
        Err(EngineError::NotFound(_) | EngineError::BadRequest(_) | EngineError::Forbidden(_)) => {
            StatusCode::NOT_FOUND.into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "a widget could not be read");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
