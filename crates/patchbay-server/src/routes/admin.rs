//! Operator routes: workspaces, every connection, stats and activity across workspaces.

use crate::access::{methods::*, Access::*, Routes};
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery};
use crate::routes::PageQuery;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use patchbay_engine::connections::ListConnections;
use patchbay_engine::views::{ActivityView, ConnectionView, CreatedWorkspace, Page, WorkspaceView};
use serde::Deserialize;

pub fn router() -> Routes {
    Routes::new()
        .add(GET, "/v1/admin/workspaces", Admin, list_workspaces)
        .add(POST, "/v1/admin/workspaces", Admin, create_workspace)
        .add(GET, "/v1/admin/connections", Admin, list_connections)
        .add(GET, "/v1/admin/stats", Admin, stats)
        .add(GET, "/v1/stats", Workspace, workspace_stats)
        .add(GET, "/v1/admin/activity", Admin, activity)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkspace {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: String,
}

/// Creates a workspace; its secret key is in the answer and nowhere else.
#[utoipa::path(post, path = "/v1/admin/workspaces", tag = "admin", request_body = CreateWorkspace,
    responses((status = 201, body = CreatedWorkspace), (status = 401), (status = 403)), security(("bearer" = [])))]
pub async fn create_workspace(
    State(state): State<AppState>,
    _admin: Auth,
    ApiJson(body): ApiJson<CreateWorkspace>,
) -> ApiResult<(StatusCode, Json<CreatedWorkspace>)> {
    let created = state
        .engine
        .workspaces()
        .create_workspace(&body.name, "admin")
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(get, path = "/v1/admin/workspaces", tag = "admin", params(PageQuery),
    responses((status = 200, body = Page<WorkspaceView>)), security(("bearer" = [])))]
pub async fn list_workspaces(
    State(state): State<AppState>,
    _admin: Auth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<WorkspaceView>>> {
    let limit = patchbay_engine::page_limit(q.limit);
    Ok(Json(
        state
            .engine
            .workspaces()
            .list_workspaces(q.cursor.as_deref(), limit)
            .await?,
    ))
}

/// Connections of every workspace.
#[utoipa::path(get, path = "/v1/admin/connections", tag = "admin", params(ListConnections),
    responses((status = 200, body = Page<ConnectionView>)), security(("bearer" = [])))]
pub async fn list_connections(
    State(state): State<AppState>,
    _admin: Auth,
    ApiQuery(q): ApiQuery<ListConnections>,
) -> ApiResult<Json<Page<ConnectionView>>> {
    Ok(Json(
        state
            .engine
            .connections()
            .list_connections(&patchbay_engine::Caller::Admin, &q)
            .await?,
    ))
}

/// Connection counts, across workspaces.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documents the answer `stats` builds
pub struct Stats {
    pub connections: i64,
    /// Lifecycle → count.
    pub by_lifecycle: std::collections::BTreeMap<String, i64>,
    /// Health → count.
    pub by_health: std::collections::BTreeMap<String, i64>,
    /// Connections failing, degraded or needing a reconnect.
    pub failing_connections: i64,
}

/// Connection counts by lifecycle and health, and how many are failing.
#[utoipa::path(get, path = "/v1/admin/stats", tag = "admin", responses((status = 200, body = Stats)), security(("bearer" = [])))]
pub async fn stats(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(state.engine.connections().stats(&caller).await?))
}

/// The same counts for the caller's workspace.
#[utoipa::path(get, path = "/v1/stats", tag = "connections", responses((status = 200, body = Stats)), security(("bearer" = [])))]
pub async fn workspace_stats(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(state.engine.connections().stats(&caller).await?))
}

#[utoipa::path(get, path = "/v1/admin/activity", tag = "admin", params(PageQuery),
    responses((status = 200, body = Page<ActivityView>)), security(("bearer" = [])))]
pub async fn activity(
    State(state): State<AppState>,
    _admin: Auth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<ActivityView>>> {
    Ok(Json(
        state
            .engine
            .activity()
            .list_activity(
                &patchbay_engine::Caller::Admin,
                None,
                q.cursor.as_deref(),
                q.limit,
            )
            .await?,
    ))
}
