//! Channel bindings and message routing: bind scope keys to targets, set the workspace's
//! default target, route messages with `POST /v1/prompt`, reply through a binding's channel.

use crate::access::{methods::*, Access::*, Routes};
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use patchbay_engine::bindings::{
    BindingView, CreateBinding, DefaultTarget, PatchBinding, PromptRequest, ReplyOutcome,
    ReplyRequest, RouteDecision,
};
use patchbay_engine::views::Page;
use serde::{Deserialize, Serialize};

pub fn router() -> Routes {
    Routes::new()
        .add(GET, "/v1/bindings", Workspace, list)
        .add(POST, "/v1/bindings", Workspace, create)
        .add(DELETE, "/v1/bindings", Workspace, remove_target)
        .add(GET, "/v1/bindings/{id}", Workspace, show)
        .add(PATCH, "/v1/bindings/{id}", Workspace, update)
        .add(DELETE, "/v1/bindings/{id}", Workspace, remove)
        .add(POST, "/v1/bindings/{id}/reply", Workspace, reply)
        .add(GET, "/v1/routing/default", Workspace, show_default)
        .add(PUT, "/v1/routing/default", Workspace, set_default)
        .add(DELETE, "/v1/routing/default", Workspace, clear_default)
        .add(POST, "/v1/prompt", Workspace, prompt)
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BindingQuery {
    /// Only the bindings of this target.
    pub target: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[serde(default, deserialize_with = "patchbay_engine::de_page_limit")]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TargetQuery {
    /// Every binding of this target is removed.
    pub target: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Removed {
    pub deleted: u64,
}

/// Binds a scope key to a target. The key is computed from the channel (telegram: connection
/// and chat; slack: team, channel and thread; github: repository and issue; web: owner and
/// session; api: any id) unless `scope_key` is given. 409 when the key is bound already.
#[utoipa::path(post, path = "/v1/bindings", tag = "bindings", request_body = CreateBinding,
    responses((status = 201, body = BindingView), (status = 404), (status = 409), (status = 422)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(body): ApiJson<CreateBinding>,
) -> ApiResult<(StatusCode, Json<BindingView>)> {
    let b = state.engine.bindings().create(&caller, body).await?;
    Ok((StatusCode::CREATED, Json(b)))
}

#[utoipa::path(get, path = "/v1/bindings", tag = "bindings", params(BindingQuery),
    responses((status = 200, body = Page<BindingView>)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiQuery(q): ApiQuery<BindingQuery>,
) -> ApiResult<Json<Page<BindingView>>> {
    let page = state
        .engine
        .bindings()
        .list(&caller, q.target.as_deref(), q.cursor.as_deref(), q.limit)
        .await?;
    Ok(Json(page))
}

/// Removes every binding of a target in one call (a session that ended).
#[utoipa::path(delete, path = "/v1/bindings", tag = "bindings", params(TargetQuery),
    responses((status = 200, body = Removed)), security(("bearer" = [])))]
pub async fn remove_target(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiQuery(q): ApiQuery<TargetQuery>,
) -> ApiResult<Json<Removed>> {
    let deleted = state
        .engine
        .bindings()
        .delete_target(&caller, &q.target)
        .await?;
    Ok(Json(Removed { deleted }))
}

#[utoipa::path(get, path = "/v1/bindings/{id}", tag = "bindings", params(("id" = String, Path)),
    responses((status = 200, body = BindingView), (status = 404)), security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<BindingView>> {
    Ok(Json(state.engine.bindings().get(&caller, &id).await?))
}

/// Changes a binding's target, queue mode, collect timings or enabled flag (its scope stays).
#[utoipa::path(patch, path = "/v1/bindings/{id}", tag = "bindings", params(("id" = String, Path)),
    request_body = PatchBinding,
    responses((status = 200, body = BindingView), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<PatchBinding>,
) -> ApiResult<Json<BindingView>> {
    Ok(Json(
        state.engine.bindings().update(&caller, &id, body).await?,
    ))
}

#[utoipa::path(delete, path = "/v1/bindings/{id}", tag = "bindings", params(("id" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.engine.bindings().delete(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends text back to the binding's channel through its connection: a Telegram message, a
/// Slack message in the thread, a GitHub comment. 422 for web and api bindings, which have no
/// channel of their own.
#[utoipa::path(post, path = "/v1/bindings/{id}/reply", tag = "bindings",
    params(("id" = String, Path)), request_body = ReplyRequest,
    responses((status = 200, body = ReplyOutcome), (status = 404), (status = 409), (status = 422),
        (status = 429), (status = 502)),
    security(("bearer" = [])))]
pub async fn reply(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ReplyRequest>,
) -> ApiResult<Json<ReplyOutcome>> {
    Ok(Json(
        state.engine.bindings().reply(&caller, &id, body).await?,
    ))
}

#[utoipa::path(get, path = "/v1/routing/default", tag = "bindings",
    responses((status = 200, body = DefaultTarget), (status = 404)), security(("bearer" = [])))]
pub async fn show_default(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> ApiResult<Json<DefaultTarget>> {
    Ok(Json(state.engine.bindings().default_target(&caller).await?))
}

/// Where messages go when their scope key is not bound.
#[utoipa::path(put, path = "/v1/routing/default", tag = "bindings", request_body = DefaultTarget,
    responses((status = 200, body = DefaultTarget), (status = 422)), security(("bearer" = [])))]
pub async fn set_default(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(body): ApiJson<DefaultTarget>,
) -> ApiResult<Json<DefaultTarget>> {
    Ok(Json(
        state
            .engine
            .bindings()
            .set_default_target(&caller, body)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/v1/routing/default", tag = "bindings",
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn clear_default(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> ApiResult<StatusCode> {
    state
        .engine
        .bindings()
        .clear_default_target(&caller)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Routes a message to the target bound to its scope key, or to the workspace's default, and
/// answers the decision. The application receives it as a `message.routed` event (followup and
/// steer at once; collect when the batch closes). 409 when nothing is bound and no default is
/// set.
#[utoipa::path(post, path = "/v1/prompt", tag = "bindings", request_body = PromptRequest,
    responses((status = 200, body = RouteDecision), (status = 404), (status = 409), (status = 422)),
    security(("bearer" = [])))]
pub async fn prompt(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(body): ApiJson<PromptRequest>,
) -> ApiResult<Json<RouteDecision>> {
    Ok(Json(state.engine.bindings().prompt(&caller, body).await?))
}
