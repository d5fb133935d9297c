//! HTTP routes of the record source emulator.

use super::{render, RecordSource};
use crate::faults::{self, Faults};
use crate::paging::{int_param, time_param, Params};
use axum::extract::{Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::fmt::Write;
use std::sync::Arc;

type App = State<Arc<RecordSource>>;

/// An error answer: `{"error":{"type","message"}}`.
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(error_body(self.0, &self.1))).into_response()
    }
}

pub fn error_body(status: StatusCode, message: &str) -> Value {
    let kind = match status.as_u16() {
        401 | 403 => "authentication_error",
        429 => "rate_limit_error",
        500.. => "api_error",
        _ => "invalid_request_error",
    };
    json!({"error": {"type": kind, "message": message}})
}

fn error(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError(status, message.into())
}

pub fn router(source: Arc<RecordSource>, faults: Arc<Faults>) -> Router {
    Router::new()
        .route("/v1/records", get(list))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "Unrecognized request URL") })
        .with_state(source.clone())
        .layer(from_fn_with_state(source, authenticate))
        .layer(from_fn_with_state(faults, faults::apply))
}

async fn authenticate(State(source): App, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    let key = source.config.api_key.as_bytes();
    match given {
        Some(g) if g.strip_prefix(b"Bearer ") == Some(key) => next.run(req).await,
        Some(_) => error(StatusCode::UNAUTHORIZED, "Invalid API key provided").into_response(),
        None => error(StatusCode::UNAUTHORIZED, "No API key provided").into_response(),
    }
}

/// One page in id order. Without `updated_since` the live records; with it every record
/// changed after that time, deleted ones as tombstones. The cursor is the index to resume at.
async fn list(State(source): App, Query(q): Query<Params>) -> Result<Response, ApiError> {
    let bad = |m: String| error(StatusCode::BAD_REQUEST, m);
    let c = &source.config;
    let max = c.max_page_size.max(1);
    let limit = int_param(&q, "limit", c.default_page_size.clamp(1, max), max).map_err(bad)?;
    let since = time_param(&q, "updated_since")
        .map_err(bad)?
        .map(|t| t.timestamp_millis());

    let table = source.read();
    let len = table.len();
    let start = match q.get("cursor") {
        None => 0,
        Some(cursor) => cursor
            .parse::<usize>()
            .ok()
            .filter(|&i| i <= len)
            .ok_or_else(|| bad(format!("cursor '{cursor}' is not valid")))?,
    };

    let rows = limit.min(len - start);
    let mut out = String::with_capacity(rows * (c.record_bytes + 1) + 64);
    out.push_str("{\"data\":[");
    let mut written = 0;
    let mut next = None;
    for i in start..len {
        let deleted = table.deleted[i];
        let listed = match since {
            None => !deleted,
            // Record times are whole milliseconds, so comparing with the truncated time is exact.
            Some(s) => table.updated_ms[i] > s,
        };
        if !listed {
            continue;
        }
        if written == limit {
            next = Some(i);
            break;
        }
        if written > 0 {
            out.push(',');
        }
        if deleted {
            render::write_tombstone(&mut out, i, table.updated_ms[i]);
        } else {
            render::write_record(
                &mut out,
                i,
                table.version[i],
                table.updated_ms[i],
                c.record_bytes,
            );
        }
        written += 1;
    }
    drop(table);
    match next {
        Some(i) => {
            let _ = write!(out, "],\"next_cursor\":\"{i}\"}}");
        }
        None => out.push_str("],\"next_cursor\":null}"),
    }
    Ok(([(header::CONTENT_TYPE, "application/json")], out).into_response())
}
