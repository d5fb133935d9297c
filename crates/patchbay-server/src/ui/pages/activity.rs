//! `/ui/activity`: the activity log newest first, the workspace's own for a planner and every
//! workspace's for the operator (the calls behind `GET /v1/activity` and
//! `GET /v1/admin/activity`), filtered by connection like the API, with cursor paging.
//! Entries hold ids, names and states, never a secret.

use super::outcome::{self, encode};
use crate::ui::render;
use crate::ui::session::SignedIn;
use crate::AppState;
use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use patchbay_engine::views::ActivityView;
use patchbay_engine::Caller;
use serde::Deserialize;

/// Plain strings: an empty field from the form means no filter.
#[derive(Deserialize, Default)]
pub struct ActivityQuery {
    #[serde(default)]
    connection_id: String,
    #[serde(default)]
    cursor: String,
}

/// One entry as the table shows it.
struct Entry {
    view: ActivityView,
    /// The details as compact JSON.
    details: String,
}

#[derive(Template)]
#[template(path = "activity.html")]
struct ActivityPage {
    csrf: String,
    who: String,
    all_workspaces: bool,
    connection_id: String,
    entries: Vec<Entry>,
    /// The newest page, when this is an older one.
    first_page: Option<String>,
    next_page: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    query: Result<Query<ActivityQuery>, QueryRejection>,
) -> Response {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let connection_id = q.connection_id.trim().to_string();
    let page = match state
        .engine
        .activity()
        .list_activity(
            &session.caller,
            Some(connection_id.as_str()).filter(|c| !c.is_empty()),
            Some(q.cursor.as_str()).filter(|c| !c.is_empty()),
            None,
        )
        .await
    {
        Ok(page) => page,
        Err(e) => return outcome::refused(&e),
    };
    let first = if connection_id.is_empty() {
        String::from("/ui/activity")
    } else {
        format!("/ui/activity?connection_id={}", encode(&connection_id))
    };
    let next_page = page.next_cursor.map(|cursor| {
        let join = if connection_id.is_empty() { '?' } else { '&' };
        format!("{first}{join}cursor={}", encode(&cursor))
    });
    let entries = page
        .data
        .into_iter()
        .map(|view| Entry {
            details: serde_json::to_string(&view.details).unwrap_or_default(),
            view,
        })
        .collect();
    render(
        StatusCode::OK,
        &ActivityPage {
            who: outcome::who(&session.caller),
            all_workspaces: matches!(session.caller, Caller::Admin),
            csrf: session.csrf,
            connection_id,
            entries,
            first_page: (!q.cursor.is_empty()).then_some(first),
            next_page,
        },
    )
}
