//! HTTP routes of the Todoist emulator: Bearer authentication, call counting, cursor pages
//! and Todoist's error bodies.

use super::model::{parse_due_string, timestamp, tz_info, Due, Filter, When};
use super::Account;
use crate::faults::{self, Faults};
use crate::paging::{cursor_page, int_param, Params};
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::NaiveDate;
use serde_json::{json, Value};
use std::sync::Arc;

type App = State<Arc<Account>>;
type Answer = Result<Response, ApiError>;

/// Todoist's largest page.
const MAX_LIMIT: usize = 200;

/// An error answer in Todoist's format.
pub struct ApiError {
    status: StatusCode,
    tag: &'static str,
    code: u32,
    message: String,
    extra: Value,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = body(self.status, self.tag, self.code, &self.message, self.extra);
        (self.status, Json(body)).into_response()
    }
}

fn body(status: StatusCode, tag: &str, code: u32, message: &str, extra: Value) -> Value {
    let mut error_extra = json!({"event_id": format!("{:032x}", rand::random::<u128>())});
    if status == StatusCode::TOO_MANY_REQUESTS {
        error_extra["retry_after"] = 1.into();
    }
    if let (Some(all), Value::Object(more)) = (error_extra.as_object_mut(), extra) {
        all.extend(more);
    }
    json!({
        "error": message,
        "error_code": code,
        "error_extra": error_extra,
        "error_tag": tag,
        "http_code": status.as_u16(),
    })
}

/// The body for an injected fault or any status without a more specific error.
pub fn error_body(status: StatusCode, message: &str) -> Value {
    let (tag, code) = match status.as_u16() {
        401 => ("UNAUTHORIZED", 477),
        404 => ("NOT_FOUND", 478),
        429 => ("TOO_MANY_REQUESTS", 429),
        500.. => ("INTERNAL_SERVER_ERROR", 500),
        _ => ("BAD_REQUEST", 42),
    };
    body(status, tag, code, message, json!({}))
}

fn error(status: StatusCode, message: &str) -> ApiError {
    let (tag, code) = match status.as_u16() {
        401 => ("UNAUTHORIZED", 477),
        404 => ("NOT_FOUND", 478),
        _ => ("BAD_REQUEST", 42),
    };
    ApiError {
        status,
        tag,
        code,
        message: message.into(),
        extra: json!({}),
    }
}

fn missing(argument: &str) -> ApiError {
    ApiError {
        status: StatusCode::BAD_REQUEST,
        tag: "ARGUMENT_MISSING",
        code: 19,
        message: "Required argument is missing".into(),
        extra: json!({"argument": argument}),
    }
}

fn invalid(argument: &str, expected: &str) -> ApiError {
    ApiError {
        status: StatusCode::BAD_REQUEST,
        tag: "INVALID_ARGUMENT_VALUE",
        code: 20,
        message: "Invalid argument value".into(),
        extra: json!({"argument": argument, "expected": expected}),
    }
}

fn bad_date() -> ApiError {
    error(StatusCode::BAD_REQUEST, "Invalid date format")
}

pub fn router(account: Arc<Account>, faults: Arc<Faults>) -> Router {
    Router::new()
        .route("/api/v1/user", get(user))
        .route("/api/v1/projects", get(list_projects))
        .route("/api/v1/projects/{id}", get(get_project))
        .route("/api/v1/tasks", get(list_tasks).post(create_task))
        .route("/api/v1/tasks/filter", get(filter_tasks))
        .route("/api/v1/tasks/{id}", get(get_task))
        .route("/api/v1/tasks/{id}/close", post(close_task))
        .route("/api/v1/tasks/{id}/reopen", post(reopen_task))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "Not found") })
        .with_state(account.clone())
        .layer(from_fn_with_state(account.clone(), authenticate))
        .layer(from_fn_with_state(faults, faults::apply))
        .layer(from_fn_with_state(account, count))
}

async fn count(State(account): App, req: Request, next: Next) -> Response {
    account.count_call(req.uri().path());
    next.run(req).await
}

async fn authenticate(State(account): App, req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match token {
        Some(t) if !t.is_empty() && account.tokens.valid(t) => next.run(req).await,
        _ => error(StatusCode::UNAUTHORIZED, "Unauthorized").into_response(),
    }
}

async fn user(State(account): App) -> Response {
    let c = &account.config;
    Json(json!({
        "id": c.user_id,
        "email": c.email,
        "full_name": c.full_name,
        "inbox_project_id": account.inbox_id(),
        "tz_info": tz_info(&c.timezone, account.tz),
        "lang": "en",
        "start_day": 1,
        "time_format": 0,
        "date_format": 0,
        "is_premium": false,
        "premium_status": "not_premium",
    }))
    .into_response()
}

fn encode_cursor(last_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("after:{last_id}"))
}

fn decode_cursor(cursor: &str) -> Option<String> {
    let raw = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("after:")
        .map(str::to_string)
}

/// `{"results", "next_cursor"}` over `items` sorted by id.
fn page(account: &Account, q: &Params, items: Vec<(String, Value)>) -> Answer {
    let limit = int_param(q, "limit", account.config.page_size, MAX_LIMIT)
        .map_err(|_| invalid("limit", "an integer between 1 and 200"))?;
    let after = match q.get("cursor").filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(decode_cursor(c).ok_or_else(|| invalid("cursor", "a cursor"))?),
    };
    let (results, more) = cursor_page(items, limit, after.as_deref());
    let next = results
        .last()
        .and_then(|v| v["id"].as_str())
        .filter(|_| more)
        .map(encode_cursor);
    Ok(Json(json!({"results": results, "next_cursor": next})).into_response())
}

async fn list_projects(State(account): App, Query(q): Query<Params>) -> Answer {
    let items = {
        let data = account.data();
        let projects = data.projects.values();
        projects
            .map(|p| (p.id.clone(), account.render_project(p)))
            .collect()
    };
    page(&account, &q, items)
}

async fn get_project(State(account): App, Path(id): Path<String>) -> Answer {
    let data = account.data();
    match data.projects.get(&id) {
        Some(p) => Ok(Json(account.render_project(p)).into_response()),
        None => Err(error(StatusCode::NOT_FOUND, "Project not found")),
    }
}

async fn list_tasks(State(account): App, Query(q): Query<Params>) -> Answer {
    let ids: Option<Vec<&str>> = q.get("ids").map(|s| s.split(',').map(str::trim).collect());
    let project = q.get("project_id");
    let items = {
        let data = account.data();
        let tasks = data.tasks.values().filter(|t| {
            t.is_active()
                && project.is_none_or(|p| &t.project_id == p)
                && ids.as_ref().is_none_or(|ids| ids.contains(&t.id.as_str()))
        });
        tasks
            .map(|t| (t.id.clone(), account.render_task(t)))
            .collect()
    };
    page(&account, &q, items)
}

async fn filter_tasks(State(account): App, Query(q): Query<Params>) -> Answer {
    let query = q.get("query").ok_or_else(|| missing("query"))?;
    let filter = Filter::parse(query).ok_or_else(|| invalid("query", "a valid filter"))?;
    let items = {
        let data = account.data();
        let at = data.moment(account.tz);
        let tasks = data.tasks.values();
        let matching = tasks.filter(|t| t.is_active() && filter.matches(t, at));
        matching
            .map(|t| (t.id.clone(), account.render_task(t)))
            .collect()
    };
    page(&account, &q, items)
}

async fn get_task(State(account): App, Path(id): Path<String>) -> Answer {
    let data = account.data();
    match data.tasks.get(&id).filter(|t| !t.is_deleted) {
        Some(t) => Ok(Json(account.render_task(t)).into_response()),
        None => Err(error(StatusCode::NOT_FOUND, "Task not found")),
    }
}

async fn close_task(State(account): App, Path(id): Path<String>) -> Answer {
    if account.data().close(&id, account.tz) {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(error(StatusCode::NOT_FOUND, "Task not found"))
    }
}

async fn reopen_task(State(account): App, Path(id): Path<String>) -> Answer {
    if account.data().reopen(&id) {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(error(StatusCode::NOT_FOUND, "Task not found"))
    }
}

/// The due date of a create request: at most one of `due_string`, `due_date`,
/// `due_datetime`.
fn requested_due(input: &Value, today: NaiveDate) -> Result<Option<Due>, ApiError> {
    let field = |name: &str| match input.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(invalid(name, "a string")),
    };
    let given = (
        field("due_string")?,
        field("due_date")?,
        field("due_datetime")?,
    );
    let due = match given {
        (None, None, None) => None,
        (Some(s), None, None) => Some(parse_due_string(s, today).ok_or_else(bad_date)?),
        (None, Some(d), None) => {
            let day = NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| bad_date())?;
            Some(Due {
                when: When::Day(day),
                string: d.to_string(),
                every: None,
            })
        }
        (None, None, Some(t)) => {
            let at = chrono::DateTime::parse_from_rfc3339(t).map_err(|_| bad_date())?;
            Some(Due {
                when: When::At(at.to_utc()),
                string: timestamp(at.to_utc()),
                every: None,
            })
        }
        _ => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "Only one of due_string, due_date and due_datetime can be set",
            ))
        }
    };
    Ok(due)
}

async fn create_task(State(account): App, body: Bytes) -> Answer {
    let input: Value = serde_json::from_slice(&body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, "Invalid JSON"))?;
    let content = match input.get("content") {
        None | Some(Value::Null) => return Err(missing("content")),
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(_) => return Err(invalid("content", "minlen")),
    };
    let priority = match input.get("priority") {
        None | Some(Value::Null) => 1,
        Some(p) => {
            p.as_u64()
                .filter(|p| (1..=4).contains(p))
                .ok_or_else(|| invalid("priority", "an integer between 1 and 4"))? as u8
        }
    };
    let text = |name: &str| input.get(name).and_then(Value::as_str).map(str::to_string);
    let labels: Vec<String> = match input.get("labels") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => {
            serde_json::from_value(v.clone()).map_err(|_| invalid("labels", "a list of strings"))?
        }
    };
    let mut data = account.data();
    let project_id = text("project_id").unwrap_or_else(|| account.inbox_id());
    if !data.projects.contains_key(&project_id) {
        return Err(invalid("project_id", "an existing project"));
    }
    let due = requested_due(&input, data.moment(account.tz).today())?;
    let task = data.add_task(project_id, content);
    task.priority = priority;
    task.description = text("description").unwrap_or_default();
    task.labels = labels;
    task.due = due;
    Ok(Json(account.render_task(task)).into_response())
}
