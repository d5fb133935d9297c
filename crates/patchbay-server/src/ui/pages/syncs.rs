//! Sync controls of a connection page: start a full or incremental run, cancel a pending or
//! running one, and the run history with its counts. The history is also served alone as a
//! fragment, which the page refreshes while a run is in progress.

use super::{engine_error, forbidden, see_other, verified, Confirmed};
use crate::ui::render;
use crate::ui::session::SignedIn;
use crate::AppState;
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use patchbay_core::SyncMode;
use patchbay_engine::sync::{StartSync, SyncRunView};
use patchbay_engine::Caller;
use serde::Deserialize;

/// The runs shown: enough to see a pattern of failures.
const RUNS_SHOWN: i64 = 10;

#[derive(Template)]
#[template(path = "syncs.html")]
pub struct SyncsFragment {
    pub id: String,
    pub csrf: String,
    pub runs: Vec<SyncRunView>,
    /// A run is pending or running: the fragment asks to be refreshed.
    pub active: bool,
    pub error: Option<String>,
}

pub async fn fragment(state: &AppState, caller: &Caller, id: &str) -> SyncsFragment {
    let (runs, error) = match state
        .engine
        .syncs()
        .list_sync_runs(caller, id, None, Some(RUNS_SHOWN))
        .await
    {
        Ok(page) => (page.data, None),
        Err(e) => (Vec::new(), Some(crate::error::ApiError::from(e).message)),
    };
    SyncsFragment {
        id: id.to_string(),
        csrf: String::new(),
        active: runs
            .iter()
            .any(|r| matches!(r.status.as_str(), "pending" | "running")),
        runs,
        error,
    }
}

/// `GET /ui/connections/{id}/syncs`: the history alone, for refreshing in place.
pub async fn show(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    let mut f = fragment(&state, &session.caller, &id).await;
    f.csrf = session.csrf;
    render(StatusCode::OK, &f)
}

#[derive(Deserialize)]
pub struct StartForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    mode: String,
}

pub async fn start(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    form: Result<Form<StartForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return forbidden();
    };
    if !verified(&session, &form.csrf) {
        return forbidden();
    }
    let mode = match form.mode.as_str() {
        "full" => SyncMode::Full,
        _ => SyncMode::Incremental,
    };
    let body = StartSync {
        mode,
        entities: None,
    };
    match state
        .engine
        .syncs()
        .start_sync(&session.caller, &id, body)
        .await
    {
        Ok(_) => see_other(&format!("/ui/connections/{id}#syncs")),
        Err(e) => engine_error(e),
    }
}

pub async fn cancel(
    State(state): State<AppState>,
    Path((id, run)): Path<(String, String)>,
    Confirmed(session): Confirmed,
) -> Response {
    match state
        .engine
        .syncs()
        .cancel_sync_run(&session.caller, &id, &run)
        .await
    {
        Ok(_) => see_other(&format!("/ui/connections/{id}#syncs")),
        Err(e) => engine_error(e),
    }
}
