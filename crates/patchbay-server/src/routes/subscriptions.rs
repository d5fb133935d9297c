//! Subscriptions to the workspace's events, and their deliveries.

use crate::access::{methods::*, Access::*, Routes};
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::PageQuery;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use patchbay_engine::events::{
    CreateSubscription, DeliveryView, PatchSubscription, SubscriptionView,
};
use patchbay_engine::views::Page;

pub fn router() -> Routes {
    const ONE: &str = "/v1/subscriptions/{id}";
    Routes::new()
        .add(GET, "/v1/subscriptions", Workspace, list)
        .add(POST, "/v1/subscriptions", Workspace, create)
        .add(GET, ONE, Workspace, show)
        .add(PATCH, ONE, Workspace, update)
        .add(DELETE, ONE, Workspace, remove)
        .add(
            GET,
            "/v1/subscriptions/{id}/deliveries",
            Workspace,
            deliveries,
        )
        .add(POST, "/v1/deliveries/{id}/retry", Workspace, retry)
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct SubscriptionList {
    pub data: Vec<SubscriptionView>,
}

/// Creates a subscription; the answer carries its signing secret, this once.
#[utoipa::path(post, path = "/v1/subscriptions", tag = "events", request_body = CreateSubscription,
    responses((status = 201, body = SubscriptionView), (status = 422)), security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(body): ApiJson<CreateSubscription>,
) -> ApiResult<(StatusCode, Json<SubscriptionView>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            state
                .engine
                .events()
                .create_subscription(&caller, body)
                .await?,
        ),
    ))
}

#[utoipa::path(get, path = "/v1/subscriptions", tag = "events", responses((status = 200, body = SubscriptionList)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> ApiResult<Json<SubscriptionList>> {
    Ok(Json(SubscriptionList {
        data: state.engine.events().list_subscriptions(&caller).await?,
    }))
}

#[utoipa::path(get, path = "/v1/subscriptions/{id}", tag = "events", params(("id" = String, Path)),
    responses((status = 200, body = SubscriptionView), (status = 404)), security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<SubscriptionView>> {
    Ok(Json(
        state.engine.events().get_subscription(&caller, &id).await?,
    ))
}

/// Changes URL, event types, description or enabled; `rotate_secret` issues a new secret.
#[utoipa::path(patch, path = "/v1/subscriptions/{id}", tag = "events", params(("id" = String, Path)), request_body = PatchSubscription,
    responses((status = 200, body = SubscriptionView), (status = 404), (status = 422)), security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<PatchSubscription>,
) -> ApiResult<Json<SubscriptionView>> {
    Ok(Json(
        state
            .engine
            .events()
            .patch_subscription(&caller, &id, body)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/v1/subscriptions/{id}", tag = "events", params(("id" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state
        .engine
        .events()
        .delete_subscription(&caller, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deliveries newest first, with the last attempt's status, latency and response.
#[utoipa::path(get, path = "/v1/subscriptions/{id}/deliveries", tag = "events", params(("id" = String, Path), PageQuery),
    responses((status = 200, body = Page<DeliveryView>)), security(("bearer" = [])))]
pub async fn deliveries(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<DeliveryView>>> {
    Ok(Json(
        state
            .engine
            .events()
            .list_deliveries(&caller, &id, q.cursor.as_deref(), q.limit)
            .await?,
    ))
}

/// Sends a delivery again now.
#[utoipa::path(post, path = "/v1/deliveries/{id}/retry", tag = "events", params(("id" = String, Path)),
    responses((status = 200, body = DeliveryView), (status = 404)), security(("bearer" = [])))]
pub async fn retry(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<DeliveryView>> {
    Ok(Json(
        state.engine.events().retry_delivery(&caller, &id).await?,
    ))
}
