//! Custom OpenAI-compatible LLM providers: operators keep them under
//! `/v1/admin/llm-providers`; applications read the enabled ones under `/v1/llm-providers`.

use crate::access::{methods::*, Access::*, Routes};
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::PageQuery;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use patchbay_engine::llm_providers::{
    LlmProviderTest, LlmProviderView, PutLlmProvider, WorkspaceLlmProvider,
};
use patchbay_engine::views::Page;
use patchbay_engine::Caller;

pub fn router() -> Routes {
    Routes::new()
        .add(GET, "/v1/admin/llm-providers", Admin, admin_list)
        .add(GET, "/v1/admin/llm-providers/{id}", Admin, admin_show)
        .add(PUT, "/v1/admin/llm-providers/{id}", Admin, put)
        .add(DELETE, "/v1/admin/llm-providers/{id}", Admin, remove)
        .add(POST, "/v1/admin/llm-providers/{id}/test", Admin, test)
        .add(GET, "/v1/llm-providers", Workspace, list)
        .add(GET, "/v1/llm-providers/{id}", Workspace, show)
}

/// Creates (201) or replaces (200) a provider. The id is lower-case letters, digits and
/// hyphens (1–63, no hyphen at either end) and not a built-in name (`anthropic`, `openai`,
/// `google`, `parallel`). Without `api_key` or `extra_headers` the stored ones stay.
#[utoipa::path(put, path = "/v1/admin/llm-providers/{id}", tag = "llm-providers",
    params(("id" = String, Path, description = "the provider id, such as `in-house-llm`")),
    request_body = PutLlmProvider,
    responses((status = 200, body = LlmProviderView, description = "replaced"),
        (status = 201, body = LlmProviderView, description = "created"),
        (status = 403), (status = 409), (status = 422)),
    security(("bearer" = [])))]
pub async fn put(
    State(state): State<AppState>,
    _admin: Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<PutLlmProvider>,
) -> ApiResult<(StatusCode, Json<LlmProviderView>)> {
    let (view, created) = state
        .engine
        .llm_providers()
        .put(&Caller::Admin, &id, body)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)))
}

/// Every provider, by id, with key hints and header names (never their values).
#[utoipa::path(get, path = "/v1/admin/llm-providers", tag = "llm-providers", params(PageQuery),
    responses((status = 200, body = Page<LlmProviderView>), (status = 403)), security(("bearer" = [])))]
pub async fn admin_list(
    State(state): State<AppState>,
    _admin: Auth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<LlmProviderView>>> {
    Ok(Json(
        state
            .engine
            .llm_providers()
            .list(&Caller::Admin, q.cursor.as_deref(), q.limit)
            .await?,
    ))
}

#[utoipa::path(get, path = "/v1/admin/llm-providers/{id}", tag = "llm-providers",
    params(("id" = String, Path)),
    responses((status = 200, body = LlmProviderView), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn admin_show(
    State(state): State<AppState>,
    _admin: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<LlmProviderView>> {
    Ok(Json(
        state
            .engine
            .llm_providers()
            .get(&Caller::Admin, &id)
            .await?,
    ))
}

/// Removes a provider and its stored key and headers.
#[utoipa::path(delete, path = "/v1/admin/llm-providers/{id}", tag = "llm-providers",
    params(("id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)), security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    _admin: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state
        .engine
        .llm_providers()
        .delete(&Caller::Admin, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lists the provider's models (`GET {base_url}/models` with its key and headers) and stores
/// them as `discovered_models`. A refused key answers 502 `provider_unauthorized`, a rate
/// limit 429 `provider_rate_limited`, any other failure 502 `provider_error`.
#[utoipa::path(post, path = "/v1/admin/llm-providers/{id}/test", tag = "llm-providers",
    params(("id" = String, Path)),
    responses((status = 200, body = LlmProviderTest), (status = 403), (status = 404),
        (status = 429, description = "the provider is rate limiting"),
        (status = 502, description = "the provider refused the key, failed or could not be reached")),
    security(("bearer" = [])))]
pub async fn test(
    State(state): State<AppState>,
    _admin: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<LlmProviderTest>> {
    Ok(Json(
        state
            .engine
            .llm_providers()
            .test(&Caller::Admin, &id)
            .await?,
    ))
}

/// The enabled providers, for any workspace; no keys or headers.
#[utoipa::path(get, path = "/v1/llm-providers", tag = "llm-providers", params(PageQuery),
    responses((status = 200, body = Page<WorkspaceLlmProvider>), (status = 403)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<WorkspaceLlmProvider>>> {
    Ok(Json(
        state
            .engine
            .llm_providers()
            .workspace_list(&caller, q.cursor.as_deref(), q.limit)
            .await?,
    ))
}

/// One enabled provider; a disabled or unknown one answers 404.
#[utoipa::path(get, path = "/v1/llm-providers/{id}", tag = "llm-providers",
    params(("id" = String, Path)),
    responses((status = 200, body = WorkspaceLlmProvider), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<WorkspaceLlmProvider>> {
    Ok(Json(
        state
            .engine
            .llm_providers()
            .workspace_get(&caller, &id)
            .await?,
    ))
}
