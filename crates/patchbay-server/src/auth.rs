//! Bearer authentication: resolves `Authorization: Bearer KEY` to a caller and holds it to the
//! route's [`Access`] rule.

use crate::access::Access;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use patchbay_engine::Caller;

/// The authenticated caller; rejects with 401 when the key is missing or unknown, and with 403
/// when the route does not take this kind of key (a route without a rule takes none).
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
        let Some(caller) = state.engine.auth().authenticate(token).await? else {
            return Err(ApiError::unauthorized("invalid API key"));
        };
        match parts.extensions.get::<Access>() {
            Some(access) if access.allows(&caller) => Ok(Auth(caller)),
            Some(access) => Err(ApiError::forbidden(format!(
                "this route takes {}",
                access.describe()
            ))),
            None => Err(ApiError::forbidden("this route takes no key")),
        }
    }
}
