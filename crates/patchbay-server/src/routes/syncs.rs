//! Sync runs and the record store.

use crate::access::{methods::*, Access::*, Routes};
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::PageQuery;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use patchbay_engine::sync::{RecordView, RecordsQuery, StartSync, SyncRunView};
use patchbay_engine::views::Page;

pub fn router() -> Routes {
    const RUNS: &str = "/v1/connections/{id}/syncs";
    Routes::new()
        .add(GET, RUNS, WorkspaceOrPrincipal, list)
        .add(POST, RUNS, Workspace, start)
        .add(
            GET,
            "/v1/connections/{id}/syncs/{sync_id}",
            WorkspaceOrPrincipal,
            show,
        )
        .add(
            POST,
            "/v1/connections/{id}/syncs/{sync_id}/cancel",
            Workspace,
            cancel,
        )
        .add(
            GET,
            "/v1/connections/{id}/records/{entity}",
            WorkspaceOrPrincipal,
            records,
        )
}

/// Queues a sync (202); 409 while one is pending or running.
#[utoipa::path(post, path = "/v1/connections/{id}/syncs", tag = "syncs", params(("id" = String, Path)), request_body = StartSync,
    responses((status = 202, body = SyncRunView), (status = 404), (status = 409), (status = 422)), security(("bearer" = [])))]
pub async fn start(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<StartSync>,
) -> ApiResult<(StatusCode, Json<SyncRunView>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(state.engine.syncs().start_sync(&caller, &id, body).await?),
    ))
}

/// Sync runs, newest first, with their counts.
#[utoipa::path(get, path = "/v1/connections/{id}/syncs", tag = "syncs", params(("id" = String, Path), PageQuery),
    responses((status = 200, body = Page<SyncRunView>)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<SyncRunView>>> {
    Ok(Json(
        state
            .engine
            .syncs()
            .list_sync_runs(&caller, &id, q.cursor.as_deref(), q.limit)
            .await?,
    ))
}

#[utoipa::path(get, path = "/v1/connections/{id}/syncs/{sync_id}", tag = "syncs", params(("id" = String, Path), ("sync_id" = String, Path)),
    responses((status = 200, body = SyncRunView), (status = 404)), security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, sync_id)): ApiPath<(String, String)>,
) -> ApiResult<Json<SyncRunView>> {
    Ok(Json(
        state
            .engine
            .syncs()
            .get_sync_run(&caller, &id, &sync_id)
            .await?,
    ))
}

/// Cancels a pending run, or stops a running one at its next page; it deletes nothing.
#[utoipa::path(post, path = "/v1/connections/{id}/syncs/{sync_id}/cancel", tag = "syncs", params(("id" = String, Path), ("sync_id" = String, Path)),
    responses((status = 200, body = SyncRunView), (status = 404), (status = 409)), security(("bearer" = [])))]
pub async fn cancel(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, sync_id)): ApiPath<(String, String)>,
) -> ApiResult<Json<SyncRunView>> {
    Ok(Json(
        state
            .engine
            .syncs()
            .cancel_sync_run(&caller, &id, &sync_id)
            .await?,
    ))
}

/// Stored records ordered by (updated_at, id): paging stays complete and stable while a sync
/// writes.
#[utoipa::path(get, path = "/v1/connections/{id}/records/{entity}", tag = "syncs", params(("id" = String, Path), ("entity" = String, Path), RecordsQuery),
    responses((status = 200, body = Page<RecordView>), (status = 400), (status = 404)), security(("bearer" = [])))]
pub async fn records(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, entity)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<RecordsQuery>,
) -> ApiResult<Json<Page<RecordView>>> {
    Ok(Json(
        state
            .engine
            .syncs()
            .list_records(&caller, &id, &entity, &q)
            .await?,
    ))
}
