//! HTTP routes of the venue emulator.

use super::Venue;
use crate::faults::{self, Faults};
use crate::paging::{int_param, numbered_page, time_param, Params};
use crate::rfc3339;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;

type App = State<Arc<Venue>>;
type Answer = Result<Response, ApiError>;

/// An error answer in the partner's format.
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(error_body(self.0, &self.1))).into_response()
    }
}

pub fn error_body(status: StatusCode, detail: &str) -> Value {
    let code = match status.as_u16() {
        401 | 403 => "unauthorized",
        404 => "not_found",
        409 => "conflict",
        429 => "rate_limited",
        500.. => "internal",
        _ => "invalid_request",
    };
    json!({"code": code, "detail": detail})
}

fn error(status: StatusCode, detail: impl Into<String>) -> ApiError {
    ApiError(status, detail.into())
}

fn not_found(what: &str, id: &str) -> ApiError {
    error(StatusCode::NOT_FOUND, format!("{what} {id} does not exist"))
}

pub fn router(venue: Arc<Venue>, faults: Arc<Faults>) -> Router {
    Router::new()
        .route("/api/venues/{venue_id}", get(get_venue))
        .route("/api/venues/{venue_id}/spaces", get(list_spaces))
        .route("/api/venues/{venue_id}/bookings", get(list_bookings))
        .route("/api/venues/{venue_id}/bookings/{id}", get(get_booking))
        .route(
            "/api/venues/{venue_id}/holds",
            get(list_holds).post(create_hold),
        )
        .route("/api/venues/{venue_id}/holds/{id}", delete(release_hold))
        .route("/api/venues/{venue_id}/occupancy", get(occupancy))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such route") })
        .with_state(venue.clone())
        .layer(from_fn_with_state(venue, authenticate))
        .layer(from_fn_with_state(faults, faults::apply))
}

async fn authenticate(State(venue): App, req: Request, next: Next) -> Response {
    match req.headers().get("x-api-key").map(|v| v.as_bytes()) {
        Some(t) if t == venue.config.api_token.as_bytes() => next.run(req).await,
        Some(_) => error(StatusCode::UNAUTHORIZED, "invalid API token").into_response(),
        None => error(StatusCode::UNAUTHORIZED, "missing X-Api-Key header").into_response(),
    }
}

fn check_venue(venue: &Venue, venue_id: &str) -> Result<(), ApiError> {
    if venue_id == venue.config.venue_id {
        Ok(())
    } else {
        Err(not_found("venue", venue_id))
    }
}

async fn get_venue(State(venue): App, Path(venue_id): Path<String>) -> Answer {
    check_venue(&venue, &venue_id)?;
    let c = &venue.config;
    let body = json!({"id": c.venue_id, "name": c.venue_name, "timezone": c.timezone});
    Ok(Json(body).into_response())
}

fn page(venue: &Venue, q: &Params, items: Vec<Value>) -> Answer {
    let bad = |m: String| error(StatusCode::BAD_REQUEST, m);
    let page = int_param(q, "page", 1, 1_000_000).map_err(bad)?;
    let per_page = int_param(q, "per_page", venue.config.page_size, 100).map_err(bad)?;
    let since = time_param(q, "modified_since").map_err(bad)?;
    let items = items
        .into_iter()
        .filter(|v| {
            let modified = v["modified_at"].as_str().and_then(|t| t.parse().ok());
            since.is_none_or(|s| modified.is_some_and(|m: chrono::DateTime<chrono::Utc>| m > s))
        })
        .collect();
    Ok(Json(numbered_page(items, page, per_page)).into_response())
}

async fn list_spaces(
    State(venue): App,
    Path(venue_id): Path<String>,
    Query(q): Query<Params>,
) -> Answer {
    check_venue(&venue, &venue_id)?;
    let items = venue.data().spaces.values().cloned().collect();
    page(&venue, &q, items)
}

async fn list_bookings(
    State(venue): App,
    Path(venue_id): Path<String>,
    Query(q): Query<Params>,
) -> Answer {
    check_venue(&venue, &venue_id)?;
    let items = venue.data().bookings.values().cloned().collect();
    page(&venue, &q, items)
}

async fn list_holds(
    State(venue): App,
    Path(venue_id): Path<String>,
    Query(q): Query<Params>,
) -> Answer {
    check_venue(&venue, &venue_id)?;
    let items = venue.data().holds.values().cloned().collect();
    page(&venue, &q, items)
}

async fn get_booking(State(venue): App, Path((venue_id, id)): Path<(String, String)>) -> Answer {
    check_venue(&venue, &venue_id)?;
    match venue.data().bookings.get(&id) {
        Some(b) => Ok(Json(b.clone()).into_response()),
        None => Err(not_found("booking", &id)),
    }
}

async fn create_hold(State(venue): App, Path(venue_id): Path<String>, body: Bytes) -> Answer {
    check_venue(&venue, &venue_id)?;
    let bad = |m: &str| error(StatusCode::BAD_REQUEST, m);
    let input: Value = serde_json::from_slice(&body).map_err(|_| bad("body is not JSON"))?;
    let field = |name: &str| {
        input[name]
            .as_str()
            .ok_or_else(|| bad(&format!("{name} is required")))
    };
    let time = |name: &str| {
        chrono::DateTime::parse_from_rfc3339(field(name)?)
            .map(|t| t.to_utc())
            .map_err(|_| bad(&format!("{name} must be an RFC 3339 date-time")))
    };
    let (space_id, starts, ends) = (field("space_id")?, time("starts_at")?, time("ends_at")?);
    if ends <= starts {
        return Err(bad("ends_at must be after starts_at"));
    }
    let mut data = venue.data();
    if !data.spaces.contains_key(space_id) {
        return Err(not_found("space", space_id));
    }
    let id = format!("hold_{:06}", data.next_hold);
    data.next_hold += 1;
    let now = data.clock.tick();
    let hold = json!({
        "id": id,
        "space_id": space_id,
        "starts_at": rfc3339(starts),
        "ends_at": rfc3339(ends),
        "status": "held",
        "expires_at": rfc3339(now + chrono::Duration::hours(48)),
        "modified_at": rfc3339(now),
    });
    data.holds.insert(id, hold.clone());
    Ok((StatusCode::CREATED, Json(hold)).into_response())
}

async fn release_hold(State(venue): App, Path((venue_id, id)): Path<(String, String)>) -> Answer {
    check_venue(&venue, &venue_id)?;
    match venue.data().holds.remove(&id) {
        Some(_) => Ok(StatusCode::NO_CONTENT.into_response()),
        None => Err(not_found("hold", &id)),
    }
}

async fn occupancy(State(venue): App, Path(venue_id): Path<String>) -> Answer {
    check_venue(&venue, &venue_id)?;
    let data = venue.data();
    Ok(Json(json!({"occupied": data.occupied, "capacity": data.capacity})).into_response())
}
