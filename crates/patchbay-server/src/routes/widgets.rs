//! Dashboard widgets of the caller's workspace: which data endpoint of which connection, how
//! often to refresh it and where it sits. The data itself is read with
//! `GET /v1/connections/{id}/data/{endpoint}`.

use crate::access::{methods::*, Access::*, Routes};
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use patchbay_engine::views::Page;
use patchbay_engine::widgets::{CreateWidget, WidgetView};

pub fn router() -> Routes {
    Routes::new()
        .add(GET, "/v1/widgets", Workspace, list)
        .add(POST, "/v1/widgets", Workspace, create)
        .add(GET, "/v1/widgets/{id}", Workspace, show)
        .add(DELETE, "/v1/widgets/{id}", Workspace, remove)
}

/// Adds a widget to the workspace's dashboard. The connection must be the workspace's (404
/// otherwise), the endpoint one of its connector's data endpoints, the refresh interval 10 to
/// 3600 seconds (the endpoint's cache TTL by default); each field that does not hold is a 422
/// field error.
#[utoipa::path(post, path = "/v1/widgets", tag = "widgets", request_body = CreateWidget,
    responses((status = 201, body = WidgetView), (status = 404), (status = 409), (status = 422)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(body): ApiJson<CreateWidget>,
) -> ApiResult<(StatusCode, Json<WidgetView>)> {
    let widget = state.engine.widgets().create(&caller, body).await?;
    Ok((StatusCode::CREATED, Json(widget)))
}

/// The workspace's widgets in dashboard order. A dashboard holds at most 50 widgets, so the
/// answer is always one page.
#[utoipa::path(get, path = "/v1/widgets", tag = "widgets",
    responses((status = 200, body = Page<WidgetView>)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> ApiResult<Json<Page<WidgetView>>> {
    Ok(Json(state.engine.widgets().list(&caller).await?))
}

#[utoipa::path(get, path = "/v1/widgets/{id}", tag = "widgets", params(("id" = String, Path)),
    responses((status = 200, body = WidgetView), (status = 404)), security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<WidgetView>> {
    Ok(Json(state.engine.widgets().get(&caller, &id).await?))
}

/// Removes a widget from the dashboard (its connection stays).
#[utoipa::path(delete, path = "/v1/widgets/{id}", tag = "widgets", params(("id" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.engine.widgets().remove(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
