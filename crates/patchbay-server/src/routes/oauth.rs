//! OAuth: apps per provider, connect sessions, and the browser-facing authorize and callback.

use crate::access::{methods::*, Access::*, Routes};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use patchbay_engine::oauth::apps::{OAuthAppView, PutOAuthApp};
use patchbay_engine::oauth::callback::{CallbackOutcome, CallbackQuery};
use patchbay_engine::oauth::connect::{ConnectSessionView, CreateConnectSession};
use serde::Deserialize;

pub fn router() -> Routes {
    Routes::new()
        .add(GET, "/v1/oauth-apps", Workspace, list_apps)
        .add(PUT, "/v1/oauth-apps/{provider}", Workspace, put_app)
        .add(POST, "/v1/connect-sessions", Workspace, create_session)
        .add(GET, "/v1/oauth/authorize", Public, authorize)
        .add(GET, "/v1/oauth/callback", Public, callback)
}

/// Stores the workspace's client id and secret (encrypted) for a provider.
#[utoipa::path(put, path = "/v1/oauth-apps/{provider}", tag = "oauth", params(("provider" = String, Path)), request_body = PutOAuthApp,
    responses((status = 200, body = OAuthAppView), (status = 404, description = "not an OAuth provider"), (status = 422)),
    security(("bearer" = [])))]
pub async fn put_app(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(provider): ApiPath<String>,
    ApiJson(body): ApiJson<PutOAuthApp>,
) -> ApiResult<Json<OAuthAppView>> {
    Ok(Json(
        state
            .engine
            .oauth()
            .put_oauth_app(&caller, &provider, body)
            .await?,
    ))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct OAuthAppList {
    pub data: Vec<OAuthAppView>,
}

#[utoipa::path(get, path = "/v1/oauth-apps", tag = "oauth", responses((status = 200, body = OAuthAppList)), security(("bearer" = [])))]
pub async fn list_apps(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> ApiResult<Json<OAuthAppList>> {
    Ok(Json(OAuthAppList {
        data: state.engine.oauth().list_oauth_apps(&caller).await?,
    }))
}

/// Starts connecting an account: a short-lived token, the hosted connect page to send the user
/// to, and for a single OAuth connector its authorize URL.
#[utoipa::path(post, path = "/v1/connect-sessions", tag = "oauth", request_body = CreateConnectSession,
    responses((status = 201, body = ConnectSessionView), (status = 404), (status = 422)), security(("bearer" = [])))]
pub async fn create_session(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(body): ApiJson<CreateConnectSession>,
) -> ApiResult<(StatusCode, Json<ConnectSessionView>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            state
                .engine
                .oauth()
                .create_connect_session(&caller, body)
                .await?,
        ),
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuthorizeQuery {
    /// The connect session token.
    pub session: String,
    /// The connector chosen, when the session offers several.
    pub connector: Option<String>,
}

fn redirect(to: &str) -> Response {
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, to.to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
    )
        .into_response()
}

/// Redirects the browser to the provider with a single-use state and PKCE.
#[utoipa::path(get, path = "/v1/oauth/authorize", tag = "oauth", params(AuthorizeQuery),
    responses((status = 302, description = "to the provider"), (status = 404), (status = 410, description = "session expired or used"),
        (status = 422, description = "a connector the session does not offer, not OAuth, or none chosen among several")))]
pub async fn authorize(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<AuthorizeQuery>,
) -> ApiResult<Response> {
    let url = state
        .engine
        .oauth()
        .authorize(&q.session, q.connector.as_deref())
        .await?;
    Ok(redirect(&url))
}

/// The provider sends the browser here; it goes on to the return URL with `connection_id` or
/// `error` (`access_denied`, `provider_error`, `state_expired`, `state_replayed`,
/// `exchange_failed`, `account_lookup_failed`, `connection_conflict`, `invalid_connection`).
#[utoipa::path(get, path = "/v1/oauth/callback", tag = "oauth", params(CallbackQuery),
    responses((status = 302, description = "to the return URL"), (status = 400, description = "missing or unknown state")))]
pub async fn callback(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<CallbackQuery>,
) -> ApiResult<Response> {
    match state.engine.oauth().oauth_callback(q).await? {
        CallbackOutcome::Redirect(to) => Ok(redirect(&to)),
        CallbackOutcome::Fail { code, message } => {
            Err(ApiError::new(StatusCode::BAD_REQUEST, code, message))
        }
    }
}
