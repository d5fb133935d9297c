//! The router and what Calendar adds to the shared Google gate: its wording of common
//! errors, its own errors and its request-count keys.

use super::{calendars, events, freebusy, list, push, Calendars};
use crate::faults::Faults;
use crate::google::{self, Gate, GoogleApi};
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

pub type App = State<Arc<Calendars>>;
pub type ApiError = google::ApiError<Calendars>;
pub type Answer = Result<Response, ApiError>;

impl GoogleApi for Calendars {
    const NOT_FOUND: &'static str = "Not Found";
    const INVALID: &'static str = "invalid";
    const INTERNAL: &'static str = "Backend Error";

    fn gate(&self) -> &Gate {
        &self.gate
    }

    fn route_key(method: &Method, path: &str) -> String {
        route_key(method, path)
    }
}

impl ApiError {
    pub fn required(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "required", message)
    }

    pub fn invalid_parameter(name: &str, message: impl Into<String>) -> Self {
        let mut error = ApiError::invalid(message);
        error.parameter = Some(name.to_string());
        error
    }

    /// 410 for a sync token that is expired or not one.
    pub fn full_sync_required() -> Self {
        let message = "Sync token is no longer valid, a full sync is required.";
        ApiError::new(StatusCode::GONE, "fullSyncRequired", message)
    }
}

pub fn router(calendars: Arc<Calendars>, faults: Arc<Faults>) -> Router {
    let v3 = Router::new()
        .route("/users/me/calendarList", get(calendars::list))
        .route("/users/me/calendarList/{calendar}", get(calendars::entry))
        .route("/calendars/{calendar}", get(calendars::get))
        .route(
            "/calendars/{calendar}/events",
            get(list::events).post(events::insert),
        )
        .route(
            "/calendars/{calendar}/events/quickAdd",
            post(events::quick_add),
        )
        .route("/calendars/{calendar}/events/watch", post(push::watch))
        .route(
            "/calendars/{calendar}/events/{event}",
            get(events::get)
                .put(events::update)
                .patch(events::patch)
                .delete(events::delete),
        )
        .route(
            "/calendars/{calendar}/events/{event}/instances",
            get(list::instances),
        )
        .route("/freeBusy", post(freebusy::query))
        .route("/channels/stop", post(push::stop));
    let api = Router::new()
        .nest("/calendar/v3", v3)
        .fallback(|| async { ApiError::not_found() })
        .with_state(calendars.clone());
    google::auth::guard(api, Router::new(), calendars, faults)
}

/// `GET /calendar/v3/calendars/{calendarId}/events/{eventId}`: the path with its ids
/// replaced.
fn route_key(method: &Method, path: &str) -> String {
    let verbs = ["quickAdd", "watch", "instances", "stop"];
    let mut out = Vec::new();
    let mut previous = "";
    for segment in path.split('/') {
        let shown = match previous {
            "calendars" | "calendarList" if !verbs.contains(&segment) => "{calendarId}",
            "events" if !verbs.contains(&segment) => "{eventId}",
            _ => segment,
        };
        out.push(shown);
        previous = segment;
    }
    format!("{method} {}", out.join("/"))
}
