//! The organisation's repository registry: operators keep it under `/v1/admin/repos`;
//! applications read their workspace's enabled repositories under `/v1/repos`.

use crate::access::{methods::*, Access::*, Routes};
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use patchbay_engine::repos::{CreateRepository, PatchRepository, RepositoryView};
use patchbay_engine::views::Page;
use patchbay_engine::Caller;
use serde::Deserialize;

pub fn router() -> Routes {
    Routes::new()
        .add(GET, "/v1/admin/repos", Admin, admin_list)
        .add(POST, "/v1/admin/repos", Admin, create)
        .add(GET, "/v1/admin/repos/{id}", Admin, admin_show)
        .add(PATCH, "/v1/admin/repos/{id}", Admin, update)
        .add(DELETE, "/v1/admin/repos/{id}", Admin, remove)
        .add(GET, "/v1/repos", Workspace, list)
        .add(GET, "/v1/repos/{id}", Workspace, show)
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AdminRepoQuery {
    /// Only this workspace's repositories (all workspaces when absent).
    pub workspace_id: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[serde(default, deserialize_with = "patchbay_engine::de_page_limit")]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RepoQuery {
    /// Page size, 1 to 500 (default 50).
    #[serde(default, deserialize_with = "patchbay_engine::de_page_limit")]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Registers a repository in a workspace; the name is normalised to `owner/name`.
#[utoipa::path(post, path = "/v1/admin/repos", tag = "repositories", request_body = CreateRepository,
    responses((status = 201, body = RepositoryView), (status = 403), (status = 404), (status = 409), (status = 422)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    _admin: Auth,
    ApiJson(body): ApiJson<CreateRepository>,
) -> ApiResult<(StatusCode, Json<RepositoryView>)> {
    let repo = state
        .engine
        .repositories()
        .create_repository(&Caller::Admin, body)
        .await?;
    Ok((StatusCode::CREATED, Json(repo)))
}

#[utoipa::path(get, path = "/v1/admin/repos", tag = "repositories", params(AdminRepoQuery),
    responses((status = 200, body = Page<RepositoryView>), (status = 403)), security(("bearer" = [])))]
pub async fn admin_list(
    State(state): State<AppState>,
    _admin: Auth,
    ApiQuery(q): ApiQuery<AdminRepoQuery>,
) -> ApiResult<Json<Page<RepositoryView>>> {
    Ok(Json(
        state
            .engine
            .repositories()
            .list_repositories(
                &Caller::Admin,
                q.workspace_id.as_deref(),
                q.cursor.as_deref(),
                q.limit,
            )
            .await?,
    ))
}

#[utoipa::path(get, path = "/v1/admin/repos/{id}", tag = "repositories", params(("id" = String, Path)),
    responses((status = 200, body = RepositoryView), (status = 403), (status = 404)), security(("bearer" = [])))]
pub async fn admin_show(
    State(state): State<AppState>,
    _admin: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<RepositoryView>> {
    Ok(Json(
        state
            .engine
            .repositories()
            .get_repository(&Caller::Admin, &id)
            .await?,
    ))
}

/// Enables or disables a repository, or sets (`null` clears) its default branch.
#[utoipa::path(patch, path = "/v1/admin/repos/{id}", tag = "repositories", params(("id" = String, Path)),
    request_body = PatchRepository,
    responses((status = 200, body = RepositoryView), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    _admin: Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<PatchRepository>,
) -> ApiResult<Json<RepositoryView>> {
    Ok(Json(
        state
            .engine
            .repositories()
            .patch_repository(&Caller::Admin, &id, body)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/v1/admin/repos/{id}", tag = "repositories", params(("id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)), security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    _admin: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state
        .engine
        .repositories()
        .delete_repository(&Caller::Admin, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The enabled repositories of the caller's workspace (workspace secret key).
#[utoipa::path(get, path = "/v1/repos", tag = "repositories", params(RepoQuery),
    responses((status = 200, body = Page<RepositoryView>), (status = 400), (status = 403)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiQuery(q): ApiQuery<RepoQuery>,
) -> ApiResult<Json<Page<RepositoryView>>> {
    Ok(Json(
        state
            .engine
            .repositories()
            .workspace_repositories(&caller, q.cursor.as_deref(), q.limit)
            .await?,
    ))
}

/// One enabled repository of the caller's workspace; any other answers 404.
#[utoipa::path(get, path = "/v1/repos/{id}", tag = "repositories", params(("id" = String, Path)),
    responses((status = 200, body = RepositoryView), (status = 404)), security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<RepositoryView>> {
    Ok(Json(
        state
            .engine
            .repositories()
            .workspace_repository(&caller, &id)
            .await?,
    ))
}
