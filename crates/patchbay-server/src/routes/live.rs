//! Live reads: an owner's signals across sources, data endpoints for widgets, and the alerts
//! roll-up.

use crate::access::{methods::*, Access::*, Routes};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use patchbay_engine::live::{AlertsAnswer, DataView, SignalsAnswer, SIGNAL_TIMEOUT};
use serde::Deserialize;
use std::time::Duration;

pub fn router() -> Routes {
    Routes::new()
        .add(GET, "/v1/signals", Workspace, signals)
        .add(
            GET,
            "/v1/connections/{id}/data/{endpoint}",
            WorkspaceOrPrincipal,
            data,
        )
        .add(GET, "/v1/alerts", Workspace, alerts)
        .add(POST, "/v1/available-slots", Workspace, shared_slots)
}

/// Free slots shared by several people's calendar connections: the `available_slots` input
/// (`duration_minutes`, `time_zone` (required here), `working_hours`, buffers, step, horizon)
/// plus `connection_ids`. Each connection runs `available_slots` on the same grid; a slot is
/// answered when every connection has it free.
#[utoipa::path(post, path = "/v1/available-slots", tag = "live", request_body = patchbay_engine::actions::SharedSlotsRequest,
    responses((status = 200, body = Object), (status = 403), (status = 404), (status = 422), (status = 502)),
    security(("bearer" = [])))]
pub async fn shared_slots(
    State(state): State<AppState>,
    Auth(caller): Auth,
    crate::extract::ApiJson(input): crate::extract::ApiJson<serde_json::Value>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(
        state.engine.actions().shared_slots(&caller, input).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SignalsQuery {
    #[param(min_length = 1, max_length = 200)]
    pub owner_id: String,
    /// Per-source timeout in milliseconds (default 5000, at most 30000).
    #[param(minimum = 1, maximum = 30000)]
    pub timeout_ms: Option<u64>,
}

/// Every enabled signal source of the owner, asked in parallel. A source that fails or is
/// slower than the timeout is reported under `sources` and leaves the rest of the answer whole.
#[utoipa::path(get, path = "/v1/signals", tag = "live", params(SignalsQuery),
    responses((status = 200, body = SignalsAnswer), (status = 400)), security(("bearer" = [])))]
pub async fn signals(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiQuery(q): ApiQuery<SignalsQuery>,
) -> ApiResult<Json<SignalsAnswer>> {
    if q.owner_id.is_empty() || q.owner_id.chars().count() > 200 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "owner_id must be 1 to 200 characters",
        ));
    }
    let timeout = match q.timeout_ms {
        None => SIGNAL_TIMEOUT,
        Some(ms) if (1..=30_000).contains(&ms) => Duration::from_millis(ms),
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                "timeout_ms must be between 1 and 30000",
            ))
        }
    };
    Ok(Json(
        state
            .engine
            .live()
            .signals(&caller, &q.owner_id, timeout)
            .await?,
    ))
}

/// A data endpoint's value for a widget, from a cache kept for the endpoint's TTL; concurrent
/// misses share one provider call.
#[utoipa::path(get, path = "/v1/connections/{id}/data/{endpoint}", tag = "live",
    params(("id" = String, Path), ("endpoint" = String, Path)),
    responses((status = 200, body = DataView), (status = 404), (status = 409), (status = 502)), security(("bearer" = [])))]
pub async fn data(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, endpoint)): ApiPath<(String, String)>,
) -> ApiResult<Json<DataView>> {
    Ok(Json(
        state.engine.live().data(&caller, &id, &endpoint).await?,
    ))
}

/// Alerts raised by any `alert`-shaped data endpoint of the workspace's enabled connections.
#[utoipa::path(get, path = "/v1/alerts", tag = "live",
    responses((status = 200, body = AlertsAnswer)), security(("bearer" = [])))]
pub async fn alerts(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> ApiResult<Json<AlertsAnswer>> {
    Ok(Json(state.engine.live().alerts(&caller).await?))
}
