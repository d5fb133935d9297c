//! Connections: create, list, read, update (config, secrets, lifecycle), delete, test,
//! principal and actions.

use crate::access::{methods::*, Access::*, Routes};
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use patchbay_core::TestOutcome;
use patchbay_engine::actions::ActionOutcome;
use patchbay_engine::connections::{CreateConnection, ListConnections, PatchConnection};
use patchbay_engine::views::{
    ConnectionView, CreatedConnection, Page, PrincipalView, RotatedPrincipal,
};

pub fn router() -> Routes {
    const ONE: &str = "/v1/connections/{id}";
    Routes::new()
        .add(GET, "/v1/connections", Workspace, list)
        .add(POST, "/v1/connections", Workspace, create)
        .add(GET, ONE, WorkspaceOrPrincipal, show)
        .add(PATCH, ONE, Workspace, update)
        .add(DELETE, ONE, Workspace, remove)
        .add(POST, "/v1/connections/{id}/test", Workspace, test)
        .add(
            GET,
            "/v1/connections/{id}/principal",
            WorkspaceOrPrincipal,
            principal,
        )
        .add(
            POST,
            "/v1/connections/{id}/principal/rotate",
            Workspace,
            rotate_principal,
        )
        .add(
            POST,
            "/v1/connections/{id}/actions/{action}",
            WorkspaceOrPrincipal,
            run_action,
        )
}

/// Creates a connection (a draft unless `enable` is true and validation passes). The answer
/// carries the integration principal key once.
#[utoipa::path(post, path = "/v1/connections", tag = "connections", request_body = CreateConnection,
    responses((status = 201, body = CreatedConnection), (status = 400), (status = 404, description = "unknown connector"),
        (status = 409, description = "duplicate"), (status = 422, description = "field errors")),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(body): ApiJson<CreateConnection>,
) -> ApiResult<(StatusCode, Json<CreatedConnection>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            state
                .engine
                .connections()
                .create_connection(&caller, body)
                .await?,
        ),
    ))
}

#[utoipa::path(get, path = "/v1/connections", tag = "connections", params(ListConnections),
    responses((status = 200, body = Page<ConnectionView>)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiQuery(q): ApiQuery<ListConnections>,
) -> ApiResult<Json<Page<ConnectionView>>> {
    Ok(Json(
        state
            .engine
            .connections()
            .list_connections(&caller, &q)
            .await?,
    ))
}

#[utoipa::path(get, path = "/v1/connections/{id}", tag = "connections", params(("id" = String, Path)),
    responses((status = 200, body = ConnectionView), (status = 404)), security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ConnectionView>> {
    Ok(Json(
        state
            .engine
            .connections()
            .get_connection(&caller, &id)
            .await?,
    ))
}

/// Updates name and config (merge patch), rotates or removes secrets, and moves the lifecycle.
#[utoipa::path(patch, path = "/v1/connections/{id}", tag = "connections", params(("id" = String, Path)), request_body = PatchConnection,
    responses((status = 200, body = ConnectionView), (status = 404), (status = 409, description = "invalid transition"), (status = 422)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<PatchConnection>,
) -> ApiResult<Json<ConnectionView>> {
    Ok(Json(
        state
            .engine
            .connections()
            .patch_connection(&caller, &id, body)
            .await?,
    ))
}

/// Deletes the connection with its credentials and principal; its activity stays.
#[utoipa::path(delete, path = "/v1/connections/{id}", tag = "connections", params(("id" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state
        .engine
        .connections()
        .delete_connection(&caller, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Checks the stored credentials against the provider and records the result in health.
#[utoipa::path(post, path = "/v1/connections/{id}/test", tag = "connections", params(("id" = String, Path)),
    responses((status = 200, body = TestOutcome), (status = 404), (status = 422)), security(("bearer" = [])))]
pub async fn test(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<TestOutcome>> {
    Ok(Json(
        state
            .engine
            .connections()
            .test_connection(&caller, &id)
            .await?,
    ))
}

#[utoipa::path(get, path = "/v1/connections/{id}/principal", tag = "connections", params(("id" = String, Path)),
    responses((status = 200, body = PrincipalView), (status = 404)), security(("bearer" = [])))]
pub async fn principal(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<PrincipalView>> {
    Ok(Json(
        state
            .engine
            .connections()
            .get_principal(&caller, &id)
            .await?,
    ))
}

/// Issues a new principal key id and key; the old key stops working.
#[utoipa::path(post, path = "/v1/connections/{id}/principal/rotate", tag = "connections", params(("id" = String, Path)),
    responses((status = 200, body = RotatedPrincipal), (status = 404), (status = 409)), security(("bearer" = [])))]
pub async fn rotate_principal(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<RotatedPrincipal>> {
    Ok(Json(
        state
            .engine
            .connections()
            .rotate_principal(&caller, &id)
            .await?,
    ))
}

/// Runs a connector action; integration principals may run only their allowed actions. With an
/// `Idempotency-Key` header, a retry with the same key and input returns the first result
/// (`replayed: true`) without calling the provider again; the same key with another input is
/// a 409.
#[utoipa::path(post, path = "/v1/connections/{id}/actions/{action}", tag = "connections",
    params(("id" = String, Path), ("action" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "makes retries safe: 1 to 255 visible ASCII characters", min_length = 1, max_length = 255, pattern = r"^[!-~]{1,255}$")),
    request_body = Object,
    responses((status = 200, body = ActionOutcome), (status = 403), (status = 404), (status = 409), (status = 422), (status = 502)),
    security(("bearer" = [])))]
pub async fn run_action(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, action)): ApiPath<(String, String)>,
    headers: axum::http::HeaderMap,
    ApiJson(input): ApiJson<serde_json::Value>,
) -> ApiResult<Json<ActionOutcome>> {
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| {
            crate::error::ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "Idempotency-Key must be visible ASCII",
            )
        })?),
    };
    Ok(Json(
        state
            .engine
            .actions()
            .run_action_idempotent(&caller, &id, &action, input, key)
            .await?,
    ))
}
