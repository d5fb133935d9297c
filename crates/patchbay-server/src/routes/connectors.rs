//! The connector catalog.

use crate::access::{methods::*, Access::*, Routes};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiPath;
use crate::AppState;
use axum::extract::State;
use axum::Json;
use patchbay_core::ConnectorSpec;
use patchbay_engine::EngineError;

pub fn router() -> Routes {
    Routes::new()
        .add(GET, "/v1/connectors", WorkspaceOrPrincipal, list)
        .add(GET, "/v1/connectors/{key}", WorkspaceOrPrincipal, show)
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ConnectorList {
    pub data: Vec<ConnectorSpec>,
}

/// Every connector this server knows, with its declared metadata.
#[utoipa::path(get, path = "/v1/connectors", tag = "connectors", responses((status = 200, body = ConnectorList)), security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>, _auth: Auth) -> Json<ConnectorList> {
    Json(ConnectorList {
        data: state.engine.registry().specs().cloned().collect(),
    })
}

/// One connector; 404 lists the known keys.
#[utoipa::path(get, path = "/v1/connectors/{key}", tag = "connectors", params(("key" = String, Path)),
    responses((status = 200, body = ConnectorSpec), (status = 404)), security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    _auth: Auth,
    ApiPath(key): ApiPath<String>,
) -> ApiResult<Json<ConnectorSpec>> {
    let connector = state
        .engine
        .registry()
        .get(&key)
        .map_err(|e| ApiError::from(EngineError::from(e)))?;
    Ok(Json(connector.spec().clone()))
}
