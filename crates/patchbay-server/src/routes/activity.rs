//! The activity log and the event outbox of a workspace.

use crate::access::{methods::*, Access::*, Routes};
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::ApiQuery;
use crate::AppState;
use axum::extract::State;
use axum::Json;
use patchbay_engine::views::{ActivityView, EventView, Page};
use serde::Deserialize;

pub fn router() -> Routes {
    Routes::new()
        .add(GET, "/v1/activity", WorkspaceOrPrincipal, activity)
        .add(GET, "/v1/events", Workspace, events)
        .add(GET, "/v1/events/stream", Workspace, stream)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Start after this event id (the `Last-Event-ID` header wins when both are sent).
    pub cursor: Option<String>,
}

/// The outbox as Server-Sent Events, oldest first, each with its event id; reconnect with
/// `Last-Event-ID` to resume after the last event received.
#[utoipa::path(get, path = "/v1/events/stream", tag = "activity", params(StreamQuery),
    responses((status = 200, description = "events as Server-Sent Events: `id`, `event` (the type) and `data` (the event as JSON)", content_type = "text/event-stream", body = String)), security(("bearer" = [])))]
pub async fn stream(
    State(state): State<AppState>,
    Auth(caller): Auth,
    headers: axum::http::HeaderMap,
    ApiQuery(q): ApiQuery<StreamQuery>,
) -> crate::error::ApiResult<
    axum::response::sse::Sse<
        impl futures_util::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>,
    >,
> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or(q.cursor);
    // Checks the caller may read events at all before the stream starts.
    state
        .engine
        .events()
        .list_events(&caller, last.as_deref(), Some(1))
        .await?;
    let engine = state.engine.clone();
    let start = (
        engine,
        caller,
        last,
        std::collections::VecDeque::<EventView>::new(),
    );
    let events = futures_util::stream::unfold(
        start,
        |(engine, caller, mut cursor, mut buffer)| async move {
            loop {
                if let Some(ev) = buffer.pop_front() {
                    let data = serde_json::to_string(&ev).unwrap_or_default();
                    let event = Event::default()
                        .id(ev.id.clone())
                        .event(ev.event_type.clone())
                        .data(data);
                    return Some((Ok(event), (engine, caller, cursor, buffer)));
                }
                match engine
                    .events()
                    .list_events(&caller, cursor.as_deref(), Some(100))
                    .await
                {
                    Ok(page) if !page.data.is_empty() => {
                        cursor = page.data.last().map(|e| e.id.clone());
                        buffer.extend(page.data);
                    }
                    Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(250)).await,
                    Err(e) => {
                        tracing::warn!(error = %e, "event stream read failed");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
            }
        },
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActivityQuery {
    pub connection_id: Option<String>,
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[serde(default, deserialize_with = "patchbay_engine::de_page_limit")]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// Activity newest first: lifecycle changes, secret and principal rotations, tests, key use.
#[utoipa::path(get, path = "/v1/activity", tag = "activity", params(ActivityQuery),
    responses((status = 200, body = Page<ActivityView>), (status = 404, description = "no such connection")), security(("bearer" = [])))]
pub async fn activity(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiQuery(q): ApiQuery<ActivityQuery>,
) -> ApiResult<Json<Page<ActivityView>>> {
    Ok(Json(
        state
            .engine
            .activity()
            .list_activity(
                &caller,
                q.connection_id.as_deref(),
                q.cursor.as_deref(),
                q.limit,
            )
            .await?,
    ))
}

/// Outbox events oldest first; pass the last `next_cursor` to continue.
#[utoipa::path(get, path = "/v1/events", tag = "activity", params(crate::routes::PageQuery),
    responses((status = 200, body = Page<EventView>)), security(("bearer" = [])))]
pub async fn events(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiQuery(q): ApiQuery<crate::routes::PageQuery>,
) -> ApiResult<Json<Page<EventView>>> {
    Ok(Json(
        state
            .engine
            .events()
            .list_events(&caller, q.cursor.as_deref(), q.limit)
            .await?,
    ))
}
