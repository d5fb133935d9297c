//! `/ui/repositories`: the operator's repository registry, with the calls behind
//! `/v1/admin/repos`: the list (by workspace, cursor paging), register, enable or disable,
//! set or clear the default branch, and remove.

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
use patchbay_engine::repos::{CreateRepository, PatchRepository, RepositoryView};
use patchbay_engine::views::WorkspaceView;
use patchbay_engine::{Caller, EngineError};
use serde::Deserialize;

const HERE: &str = "/ui/repositories";

#[derive(Deserialize, Default)]
pub struct RepoQuery {
    #[serde(default)]
    workspace_id: String,
    #[serde(default)]
    cursor: String,
}

#[derive(Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    workspace_id: String,
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    default_branch: String,
    /// A checkbox: present when ticked.
    enabled: Option<String>,
}

/// One of a row's forms: the toggle sends `enabled`, the branch form `default_branch`
/// (empty clears it).
#[derive(Deserialize)]
pub struct UpdateForm {
    #[serde(default)]
    csrf: String,
    enabled: Option<String>,
    default_branch: Option<String>,
}

/// What the register form was sent with, to show it again beside its errors.
#[derive(Default)]
struct Draft {
    workspace_id: String,
    full_name: String,
    default_branch: String,
    enabled: bool,
}

#[derive(Template)]
#[template(path = "repositories.html")]
struct RepositoriesPage {
    csrf: String,
    who: String,
    workspaces: Vec<WorkspaceView>,
    filter: String,
    repositories: Vec<RepositoryView>,
    first_page: Option<String>,
    next_page: Option<String>,
    draft: Draft,
    errors: FieldErrors,
    row_error: Option<RowError>,
}

/// A row's form that came back.
struct RowError {
    id: String,
    message: String,
}

/// Renders the registry page; a form that came back brings its draft and errors.
async fn page(
    state: &AppState,
    session: Session,
    q: RepoQuery,
    status: StatusCode,
    draft: Draft,
    errors: FieldErrors,
    row_error: Option<RowError>,
) -> Response {
    let filter = q.workspace_id.trim().to_string();
    let repos = state.engine.repositories();
    let listed = repos
        .list_repositories(
            &Caller::Admin,
            Some(filter.as_str()).filter(|w| !w.is_empty()),
            Some(q.cursor.as_str()).filter(|c| !c.is_empty()),
            None,
        )
        .await;
    let listed = match listed {
        Ok(p) => p,
        Err(e) => return outcome::refused(&e),
    };
    let workspaces = match state.engine.workspaces().list_workspaces(None, 500).await {
        Ok(p) => p.data,
        Err(e) => return outcome::refused(&e),
    };
    let first = if filter.is_empty() {
        HERE.to_string()
    } else {
        format!("{HERE}?workspace_id={}", encode(&filter))
    };
    let next_page = listed.next_cursor.map(|c| {
        let join = if filter.is_empty() { '?' } else { '&' };
        format!("{first}{join}cursor={}", encode(&c))
    });
    render(
        status,
        &RepositoriesPage {
            csrf: session.csrf,
            who: "Operator".into(),
            workspaces,
            repositories: listed.data,
            first_page: (!q.cursor.is_empty()).then_some(first),
            next_page,
            filter,
            draft,
            errors,
            row_error,
        },
    )
}

fn fresh_draft() -> Draft {
    Draft {
        enabled: true,
        ..Draft::default()
    }
}

pub async fn list(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    query: Result<Query<RepoQuery>, QueryRejection>,
) -> Response {
    if !matches!(session.caller, Caller::Admin) {
        return outcome::operator_only();
    }
    let q = query.map(|Query(q)| q).unwrap_or_default();
    page(
        &state,
        session,
        q,
        StatusCode::OK,
        fresh_draft(),
        FieldErrors::default(),
        None,
    )
    .await
}

/// Why a registry form is refused (a wrong token, a workspace's session), if it is.
fn refusal(session: &Session, token: &str) -> Option<Response> {
    if !csrf::matches(&session.csrf, token) {
        return Some(forbidden());
    }
    (!matches!(session.caller, Caller::Admin)).then(outcome::operator_only)
}

pub async fn register(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    form: Result<Form<RegisterForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return forbidden();
    };
    if let Some(refusal) = refusal(&session, &form.csrf) {
        return refusal;
    }
    let branch = form.default_branch.trim();
    let req = CreateRepository {
        workspace_id: form.workspace_id.clone(),
        provider: "github".into(),
        full_name: form.full_name.clone(),
        enabled: form.enabled.is_some(),
        default_branch: (!branch.is_empty()).then(|| branch.to_string()),
    };
    let (status, errors) = match state
        .engine
        .repositories()
        .create_repository(&Caller::Admin, req)
        .await
    {
        Ok(_) => return Redirect::to(HERE).into_response(),
        Err(EngineError::Validation(errors)) => {
            (StatusCode::UNPROCESSABLE_ENTITY, FieldErrors::new(errors))
        }
        Err(EngineError::NotFound("workspace")) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            FieldErrors::one("workspace_id", "Pick one of the workspaces."),
        ),
        Err(EngineError::Conflict(m)) => (StatusCode::CONFLICT, FieldErrors::one("full_name", m)),
        Err(e) => return outcome::refused(&e),
    };
    let draft = Draft {
        workspace_id: form.workspace_id,
        full_name: form.full_name,
        default_branch: form.default_branch,
        enabled: form.enabled.is_some(),
    };
    page(
        &state,
        session,
        RepoQuery::default(),
        status,
        draft,
        errors,
        None,
    )
    .await
}

pub async fn update(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    form: Result<Form<UpdateForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return forbidden();
    };
    if let Some(refusal) = refusal(&session, &form.csrf) {
        return refusal;
    }
    let enabled = match form.enabled.as_deref() {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            return outcome::refused(&EngineError::BadRequest("enabled is true or false".into()))
        }
    };
    let req = PatchRepository {
        enabled,
        default_branch: form.default_branch.map(|b| {
            let b = b.trim().to_string();
            (!b.is_empty()).then_some(b)
        }),
    };
    match state
        .engine
        .repositories()
        .patch_repository(&Caller::Admin, &id, req)
        .await
    {
        Ok(_) => Redirect::to(HERE).into_response(),
        Err(EngineError::Validation(errors)) => {
            let message = errors
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            page(
                &state,
                session,
                RepoQuery::default(),
                StatusCode::UNPROCESSABLE_ENTITY,
                fresh_draft(),
                FieldErrors::default(),
                Some(RowError { id, message }),
            )
            .await
        }
        Err(e) => outcome::refused(&e),
    }
}

pub async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Confirmed(session): Confirmed,
) -> Response {
    if !matches!(session.caller, Caller::Admin) {
        return outcome::operator_only();
    }
    match state
        .engine
        .repositories()
        .delete_repository(&Caller::Admin, &id)
        .await
    {
        Ok(()) => Redirect::to(HERE).into_response(),
        Err(e) => outcome::refused(&e),
    }
}
