//! Inbound webhooks from providers, and the stored events of a connection.

use crate::access::{methods::*, Access::*, Routes};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery};
use crate::routes::PageQuery;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use patchbay_engine::views::Page;
use patchbay_engine::webhooks::{WebhookAck, WebhookEventView, WebhookReply};
use std::collections::BTreeMap;

pub fn router() -> Routes {
    Routes::new()
        .add(POST, "/v1/webhooks/{connector}", Public, receive_routed)
        .add(
            POST,
            "/v1/webhooks/{connector}/{connection_id}",
            Public,
            receive,
        )
        .add(
            POST,
            "/v1/integrations/callbacks/{connector}/{connection_id}",
            Public,
            receive_legacy,
        )
        .add(
            GET,
            "/v1/connections/{id}/webhook-events",
            WorkspaceOrPrincipal,
            list,
        )
        .add(POST, "/v1/webhook-events/{id}/replay", Workspace, replay)
}

/// Content types providers send webhooks with.
fn acceptable(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|ct| {
            ct == "application/json"
                || ct == "application/x-www-form-urlencoded"
                || ct.ends_with("+json")
        })
}

/// The raw body and the headers of a delivery, once its size and content type passed. Takes
/// the whole request so the headers are read in place rather than copied by an extractor.
async fn accept(req: Request) -> ApiResult<(BTreeMap<String, String>, Vec<u8>)> {
    let headers: BTreeMap<String, String> = req
        .headers()
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_string(), v.to_string()))
        })
        .collect();
    let typed = acceptable(req.headers());
    let body = Bytes::from_request(req, &()).await.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the webhook body is larger than the limit",
            )
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "bad_request", r.body_text())
        }
    })?;
    // Notifications that carry everything in headers (Google Calendar's) may have no body and
    // no type.
    if !typed && !body.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "webhooks are accepted as application/json or application/x-www-form-urlencoded",
        ));
    }
    Ok((headers, body.to_vec()))
}

/// 202 for a new event, 200 for a redelivery or an answered handshake.
fn reply(reply: WebhookReply, routed: bool) -> Response {
    match reply {
        WebhookReply::Handshake(answer) => (StatusCode::OK, Json(answer)).into_response(),
        WebhookReply::Stored(acks) => {
            let status = if acks.iter().all(|a| a.duplicate) {
                StatusCode::OK
            } else {
                StatusCode::ACCEPTED
            };
            if routed {
                (status, Json(RoutedAck { events: acks })).into_response()
            } else {
                let ack = acks.into_iter().next();
                (status, Json(ack)).into_response()
            }
        }
    }
}

/// The events a payload-routed delivery was stored as, one per connection it verified for.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct RoutedAck {
    pub events: Vec<WebhookAck>,
}

/// Verifies the delivery over its raw bytes and stores it before answering: a 2xx means it is
/// durable. A redelivery (same delivery id) answers 200 and is not processed again; handshakes
/// (Discord PING, Slack URL verification) are answered after verification and not stored.
#[utoipa::path(post, path = "/v1/webhooks/{connector}/{connection_id}", tag = "webhooks",
    params(("connector" = String, Path), ("connection_id" = String, Path)),
    request_body(description = "the provider's payload as it sent it; verified over its raw bytes",
        content((Object = "application/json"), (Object = "application/x-www-form-urlencoded"))),
    responses((status = 202, body = WebhookAck), (status = 200, description = "duplicate, or a handshake's answer", body = WebhookAck), (status = 401, description = "verification failed or no secret configured"),
        (status = 404), (status = 413), (status = 415)))]
pub async fn receive(
    State(state): State<AppState>,
    ApiPath((connector, connection_id)): ApiPath<(String, String)>,
    req: Request,
) -> ApiResult<Response> {
    let (headers, body) = accept(req).await?;
    let answer = state
        .engine
        .webhooks()
        .receive_webhook(&connector, &connection_id, headers, body)
        .await?;
    Ok(reply(answer, false))
}

/// The earlier spelling of `POST /v1/webhooks/{connector}/{connection_id}`, kept for senders
/// configured with it.
#[utoipa::path(post, path = "/v1/integrations/callbacks/{connector}/{connection_id}", tag = "webhooks",
    params(("connector" = String, Path, description = "the connector key"), ("connection_id" = String, Path)),
    request_body(description = "the provider's payload as it sent it; verified over its raw bytes",
        content((Object = "application/json"), (Object = "application/x-www-form-urlencoded"))),
    responses((status = 202, body = WebhookAck), (status = 200, description = "duplicate, or a handshake's answer", body = WebhookAck), (status = 401, description = "verification failed or no secret configured"),
        (status = 404), (status = 413), (status = 415)))]
pub async fn receive_legacy(
    state: State<AppState>,
    path: ApiPath<(String, String)>,
    req: Request,
) -> ApiResult<Response> {
    receive(state, path, req).await
}

/// For providers that name the account in the payload (GitHub App `installation.id`, Slack
/// `team_id`): the delivery is stored for every connection to that account whose secret
/// verifies it.
#[utoipa::path(post, path = "/v1/webhooks/{connector}", tag = "webhooks",
    params(("connector" = String, Path)),
    request_body(description = "the provider's payload as it sent it; verified over its raw bytes",
        content((Object = "application/json"), (Object = "application/x-www-form-urlencoded"))),
    responses((status = 202, body = RoutedAck), (status = 200, description = "duplicate, or a handshake's answer", body = RoutedAck),
        (status = 400, description = "the payload names no account"), (status = 401), (status = 404), (status = 413), (status = 415)))]
pub async fn receive_routed(
    State(state): State<AppState>,
    ApiPath(connector): ApiPath<String>,
    req: Request,
) -> ApiResult<Response> {
    let (headers, body) = accept(req).await?;
    let answer = state
        .engine
        .webhooks()
        .receive_routed_webhook(&connector, headers, body)
        .await?;
    Ok(reply(answer, true))
}

#[utoipa::path(get, path = "/v1/connections/{id}/webhook-events", tag = "webhooks", params(("id" = String, Path), PageQuery),
    responses((status = 200, body = Page<WebhookEventView>)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<WebhookEventView>>> {
    Ok(Json(
        state
            .engine
            .webhooks()
            .list_webhook_events(&caller, &id, q.cursor.as_deref(), q.limit)
            .await?,
    ))
}

/// Processes a stored event again.
#[utoipa::path(post, path = "/v1/webhook-events/{id}/replay", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 200, body = WebhookEventView), (status = 404), (status = 409)), security(("bearer" = [])))]
pub async fn replay(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<WebhookEventView>> {
    Ok(Json(
        state
            .engine
            .webhooks()
            .replay_webhook_event(&caller, &id)
            .await?,
    ))
}
