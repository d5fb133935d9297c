//! The records browser: a connection's stored records of one entity, a page at a time in the
//! store's stable order, and one record in full.

use super::{engine_error, pretty, who};
use crate::ui::render;
use crate::ui::session::SignedIn;
use crate::AppState;
use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use patchbay_engine::sync::RecordsQuery;
use serde::Deserialize;
use serde_json::Value;

/// Rows per page: small enough that a page of large records stays light.
const PAGE: i64 = 25;
/// How much of a record the list shows before "View".
const SUMMARY_CHARS: usize = 160;

#[derive(Deserialize, Default)]
pub struct BrowseQuery {
    #[serde(default)]
    cursor: String,
    #[serde(default)]
    deleted: String,
}

struct Row {
    id: String,
    href: String,
    summary: String,
    deleted: bool,
    updated_at: String,
}

#[derive(Template)]
#[template(path = "records.html")]
struct RecordsPage {
    csrf: String,
    who: String,
    id: String,
    entity: String,
    rows: Vec<Row>,
    include_deleted: bool,
    next_page: Option<String>,
}

#[derive(Template)]
#[template(path = "record.html")]
struct RecordPage {
    csrf: String,
    who: String,
    id: String,
    entity: String,
    record_id: String,
    deleted: bool,
    created_at: String,
    updated_at: String,
    data: String,
}

/// The first fields of a record on one line, cut at a character boundary.
fn summary(data: &Value) -> String {
    let text = match data {
        Value::Object(map) => map
            .iter()
            .filter(|(_, v)| !v.is_object() && !v.is_array())
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}: {s}"),
                other => format!("{k}: {other}"),
            })
            .collect::<Vec<_>>()
            .join(" · "),
        other => other.to_string(),
    };
    match text.char_indices().nth(SUMMARY_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

pub async fn list(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path((id, entity)): Path<(String, String)>,
    query: Result<Query<BrowseQuery>, QueryRejection>,
) -> Response {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let include_deleted = q.deleted == "1";
    let rq = RecordsQuery {
        limit: Some(PAGE),
        cursor: Some(q.cursor.clone()).filter(|c| !c.is_empty()),
        modified_after: None,
        include_deleted,
    };
    // An entity the connector does not have is a 404, not an empty list.
    match state
        .engine
        .connections()
        .get_connection(&session.caller, &id)
        .await
    {
        Ok(c) => {
            let known = state
                .engine
                .registry()
                .get(&c.connector)
                .map(|k| k.spec().entity(&entity).is_some())
                .unwrap_or(false);
            if !known {
                return super::message(
                    StatusCode::NOT_FOUND,
                    "Not found",
                    "This connector has no such entity.",
                );
            }
        }
        Err(e) => return engine_error(e),
    }
    let page = match state
        .engine
        .syncs()
        .list_records(&session.caller, &id, &entity, &rq)
        .await
    {
        Ok(p) => p,
        Err(e) => return engine_error(e),
    };
    let next_page = page.next_cursor.map(|c| {
        format!(
            "/ui/connections/{id}/records/{entity}?cursor={c}{}",
            if include_deleted { "&deleted=1" } else { "" }
        )
    });
    render(
        StatusCode::OK,
        &RecordsPage {
            csrf: session.csrf,
            who: who(&session.caller),
            rows: page
                .data
                .iter()
                .map(|r| Row {
                    href: format!(
                        "/ui/connections/{id}/records/{entity}/{}",
                        super::connections::encode(&r.id)
                    ),
                    id: r.id.clone(),
                    summary: summary(&r.data),
                    deleted: r.deleted,
                    updated_at: r.updated_at.clone(),
                })
                .collect(),
            id,
            entity,
            include_deleted,
            next_page,
        },
    )
}

pub async fn show(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path((id, entity, record_id)): Path<(String, String, String)>,
) -> Response {
    let r = match state
        .engine
        .syncs()
        .get_record(&session.caller, &id, &entity, &record_id)
        .await
    {
        Ok(r) => r,
        Err(e) => return engine_error(e),
    };
    render(
        StatusCode::OK,
        &RecordPage {
            csrf: session.csrf,
            who: who(&session.caller),
            id,
            entity,
            record_id: r.id,
            deleted: r.deleted,
            created_at: r.created_at,
            updated_at: r.updated_at,
            data: pretty(&r.data),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::summary;
    use serde_json::json;

    #[test]
    fn summaries_keep_scalars_and_cut_long_text() {
        let s = summary(&json!({"a": "x", "n": 2, "nested": {"b": 1}}));
        assert_eq!(s, "a: x · n: 2");
        let long = summary(&json!({"t": "é".repeat(400)}));
        assert_eq!(long.chars().count(), 161);
        assert!(long.ends_with('…'));
    }
}
