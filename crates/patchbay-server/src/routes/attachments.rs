//! Files received with webhooks (a Telegram photo, voice note or document), served as the
//! bytes with their content type. Records name them by id.

use crate::access::{methods::*, Access::*, Routes};
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::ApiPath;
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

pub fn router() -> Routes {
    Routes::new().add(
        GET,
        "/v1/connections/{id}/attachments/{attachment_id}",
        WorkspaceOrPrincipal,
        show,
    )
}

/// An attachment's bytes. Served as a download (`Content-Disposition: attachment`, no
/// sniffing, a sandboxing CSP), since its content type comes from the sender.
#[utoipa::path(get, path = "/v1/connections/{id}/attachments/{attachment_id}", tag = "webhooks",
    params(("id" = String, Path), ("attachment_id" = String, Path)),
    responses((status = 200, description = "The file's bytes, with its content type", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404)),
    security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, attachment_id)): ApiPath<(String, String)>,
) -> ApiResult<Response> {
    let a = state
        .engine
        .webhooks()
        .attachment(&caller, &id, &attachment_id)
        .await?;
    let content_type = HeaderValue::from_str(&a.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let name: String = a
        .filename
        .as_deref()
        .unwrap_or(&a.id)
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or(HeaderValue::from_static("attachment"));
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("sandbox"),
            ),
        ],
        a.data,
    )
        .into_response())
}
