//! Bearer authentication: resolves `Authorization: Bearer KEY` to a caller.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use patchbay_engine::Caller;

/// The authenticated caller; rejects with 401 when the key is missing or unknown.
pub struct Auth(pub Caller);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <key> header"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be 'Bearer <key>'")
            })?;
        match state.engine.authenticate(token).await? {
            Some(caller) => Ok(Auth(caller)),
            None => Err(ApiError::unauthorized("invalid API key")),
        }
    }
}

/// An operator holding the admin key.
pub struct AdminAuth;

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match Auth::from_request_parts(parts, state).await?.0 {
            Caller::Admin => Ok(AdminAuth),
            _ => Err(ApiError::forbidden("this route needs the admin key")),
        }
    }
}
