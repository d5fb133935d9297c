//! `/ui/connections`: a workspace's connections, or every workspace's for the operator, with
//! the filters and cursor paging of `GET /v1/connections`. Secrets are not shown at all, not
//! even their redacted hints. A page holds at most [`MAX_ROWS`] connections (`limit` asks for
//! fewer), which keeps it under 100 KB with the longest names.

use super::message;
use crate::ui::render;
use crate::ui::session::SignedIn;
use crate::AppState;
use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use patchbay_core::{Health, Lifecycle};
use patchbay_engine::connections::ListConnections;
use patchbay_engine::views::ConnectionView;
use patchbay_engine::Caller;
use serde::Deserialize;

/// The page's query. Every field is a plain string: the form's "Any" option sends an empty
/// value, which means no filter rather than a malformed one.
#[derive(Deserialize, Default)]
pub struct ConnectionsQuery {
    #[serde(default)]
    connector: String,
    #[serde(default)]
    lifecycle: String,
    #[serde(default)]
    health: String,
    #[serde(default)]
    cursor: String,
    #[serde(default)]
    limit: String,
}

/// The most rows a page shows, and how many it shows unless asked for fewer.
pub const MAX_ROWS: i64 = 100;

/// One option of a filter select.
struct Choice {
    value: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "connections.html")]
struct ConnectionsPage {
    csrf: String,
    who: String,
    /// The operator sees every workspace, so the table names each row's workspace.
    all_workspaces: bool,
    connectors: Vec<Choice>,
    lifecycles: Vec<Choice>,
    healths: Vec<Choice>,
    filtered: bool,
    connections: Vec<ConnectionView>,
    next_page: Option<String>,
}

fn choices<'a>(values: impl Iterator<Item = &'a str>, current: &str) -> Vec<Choice> {
    values
        .map(|v| Choice {
            value: v.to_string(),
            selected: v == current,
        })
        .collect()
}

/// Percent-encodes a query value, so a filter typed into the URL cannot add parameters to the
/// "Next page" link.
pub(crate) fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn bad_filter() -> Response {
    message(
        StatusCode::BAD_REQUEST,
        "Unknown filter",
        "That lifecycle or health filter is not one patchbay knows. Go back and pick one from the list.",
    )
}

fn bad_limit() -> Response {
    message(
        StatusCode::BAD_REQUEST,
        "Unknown page size",
        "A page shows 1 to 100 connections.",
    )
}

pub async fn list(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    query: Result<Query<ConnectionsQuery>, QueryRejection>,
) -> Response {
    // A query that does not parse (a repeated parameter, say) shows the unfiltered first page.
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let lifecycle = match q.lifecycle.as_str() {
        "" => None,
        s => match s.parse::<Lifecycle>() {
            Ok(l) => Some(l),
            Err(_) => return bad_filter(),
        },
    };
    let health = match q.health.as_str() {
        "" => None,
        s => match s.parse::<Health>() {
            Ok(h) => Some(h),
            Err(_) => return bad_filter(),
        },
    };
    let limit = match q.limit.as_str() {
        "" => MAX_ROWS,
        s => match s.parse::<i64>() {
            Ok(n) if (1..=MAX_ROWS).contains(&n) => n,
            _ => return bad_limit(),
        },
    };
    let filter = ListConnections {
        connector: Some(q.connector.clone()).filter(|c| !c.is_empty()),
        lifecycle,
        health,
        cursor: Some(q.cursor.clone()).filter(|c| !c.is_empty()),
        limit: Some(limit),
        ..ListConnections::default()
    };
    // The admin caller lists across workspaces, as `GET /v1/admin/connections` does.
    let page = match state
        .engine
        .connections()
        .list_connections(&session.caller, &filter)
        .await
    {
        Ok(page) => page,
        Err(e) => return super::failed(&e),
    };
    let (who, all_workspaces) = match &session.caller {
        Caller::Admin => ("Operator".to_string(), true),
        Caller::Workspace { workspace_id, .. } | Caller::Integration { workspace_id, .. } => {
            (format!("Workspace {workspace_id}"), false)
        }
    };
    // The cursor is a connection id; the link repeats the filters so the next page is of the
    // same list.
    let next_page = page.next_cursor.map(|cursor| {
        let mut url = String::from("/ui/connections?");
        for (name, value) in [
            ("connector", &q.connector),
            ("lifecycle", &q.lifecycle),
            ("health", &q.health),
            ("limit", &q.limit),
        ] {
            if !value.is_empty() {
                url.push_str(&format!("{name}={}&", encode(value)));
            }
        }
        url.push_str(&format!("cursor={}", encode(&cursor)));
        url
    });
    render(
        StatusCode::OK,
        &ConnectionsPage {
            csrf: session.csrf,
            who,
            all_workspaces,
            connectors: choices(
                state.engine.registry().specs().map(|s| s.key.as_str()),
                &q.connector,
            ),
            lifecycles: choices(Lifecycle::ALL.iter().map(|l| l.as_str()), &q.lifecycle),
            healths: choices(Health::ALL.iter().map(|h| h.as_str()), &q.health),
            filtered: lifecycle.is_some() || health.is_some() || !q.connector.is_empty(),
            connections: page.data,
            next_page,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode("google-mail"), "google-mail");
        assert_eq!(encode("a&b=c d"), "a%26b%3Dc%20d");
    }
}
