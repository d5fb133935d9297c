//! The alert overlay: every raised alert of the workspace's alert-shaped data endpoints (what
//! `GET /v1/alerts` answers), shown above every planner page. Pages fetch `/ui/alerts` by
//! themselves; it answers an empty fragment when nothing is raised, for the operator, and
//! without a session.

use crate::ui::render;
use crate::ui::session::background;
use crate::ui::widgets::{self, Item};
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use patchbay_engine::Caller;

/// One raised alert.
pub struct AlertItem {
    pub level: String,
    pub message: String,
    pub source: String,
    pub items: Vec<Item>,
}

#[derive(Template)]
#[template(path = "alerts_body.html")]
struct AlertsFragment {
    alerts: Vec<AlertItem>,
}

/// Items an overlay entry lists at most; the dashboard shows the rest.
const ITEMS_SHOWN: usize = 3;

/// The raised alerts of the caller's workspace; none for the operator. A failure to read them
/// is logged and shows nothing: the overlay must never break a page.
pub async fn raised(state: &AppState, caller: &Caller) -> Vec<AlertItem> {
    if !matches!(caller, Caller::Workspace { .. }) {
        return Vec::new();
    }
    let answer = match state.engine.live().alerts(caller).await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "alerts could not be read for the overlay");
            return Vec::new();
        }
    };
    answer
        .alerts
        .iter()
        .filter_map(|a| {
            let body = widgets::alert(&a.data).ok().filter(|b| b.raised)?;
            Some(AlertItem {
                level: body.level,
                message: body.message,
                source: format!("{} · {}", a.connector, a.endpoint),
                items: body.items.into_iter().take(ITEMS_SHOWN).collect(),
            })
        })
        .collect()
}

pub async fn fragment(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let alerts = match background(&state, &headers) {
        Some(session) => raised(&state, &session.caller).await,
        None => Vec::new(),
    };
    render(StatusCode::OK, &AlertsFragment { alerts })
}
