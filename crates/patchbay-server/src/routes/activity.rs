//! The activity log and the event outbox of a workspace.

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::ApiQuery;
use crate::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use patchbay_engine::views::{ActivityView, EventView, Page};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/activity", get(activity))
        .route("/v1/events", get(events))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ActivityQuery {
    pub connection_id: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// Activity newest first: lifecycle changes, secret and principal rotations, tests, key use.
#[utoipa::path(get, path = "/v1/activity", tag = "activity", params(ActivityQuery),
    responses((status = 200, body = Page<ActivityView>)), security(("bearer" = [])))]
pub async fn activity(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiQuery(q): ApiQuery<ActivityQuery>,
) -> ApiResult<Json<Page<ActivityView>>> {
    Ok(Json(
        state
            .engine
            .list_activity(
                &caller,
                q.connection_id.as_deref(),
                q.cursor.as_deref(),
                q.limit,
            )
            .await?,
    ))
}

/// Outbox events oldest first; pass the last `next_cursor` to continue.
#[utoipa::path(get, path = "/v1/events", tag = "activity", params(crate::routes::PageQuery),
    responses((status = 200, body = Page<EventView>)), security(("bearer" = [])))]
pub async fn events(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiQuery(q): ApiQuery<crate::routes::PageQuery>,
) -> ApiResult<Json<Page<EventView>>> {
    Ok(Json(
        state
            .engine
            .list_events(&caller, q.cursor.as_deref(), q.limit)
            .await?,
    ))
}
