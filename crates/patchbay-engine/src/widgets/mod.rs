//! Dashboard widgets: a workspace's choice of data endpoints to watch, each naming one of its
//! connections, an endpoint of that connection's connector, how often to refresh it and where
//! it sits. Reading a widget goes through the live data cache (see [`read`]).

mod read;

pub use read::WidgetRead;

use crate::auth::Caller;
use crate::error::{EngineError, Result};
use crate::live::Live;
use crate::oauth::apps::workspace_of;
use crate::views::Page;
use crate::Context;
use patchbay_core::{ids, ms_to_rfc3339, now_ms, Capability, DataEndpointSpec, FieldError};
use patchbay_store::{ConnectionRow, WidgetRow};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Widgets one workspace may hold; the whole set is one page.
pub const MAX_WIDGETS: i64 = 50;
/// Bounds of a widget's refresh interval, in seconds.
pub const MIN_REFRESH: u32 = 10;
pub const MAX_REFRESH: u32 = 3600;
const MAX_TITLE: usize = 100;
const MAX_POSITION: i32 = 10_000;

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWidget {
    /// A connection of the caller's workspace.
    #[schema(min_length = 1, max_length = 100)]
    pub connection_id: String,
    /// One of the connection's data endpoints (`data_endpoints` of its connector).
    #[schema(min_length = 1, max_length = 200)]
    pub endpoint: String,
    /// Seconds between refreshes, 10 to 3600; the endpoint's cache TTL when absent.
    #[schema(minimum = 10, maximum = 3600)]
    pub refresh_seconds: Option<u32>,
    /// Shown instead of the data's own label; at most 100 characters.
    #[schema(max_length = 100)]
    pub title: Option<String>,
    /// Place on the dashboard, 0 to 10000, smallest first; after the last widget when absent.
    #[schema(minimum = 0, maximum = 10000)]
    pub position: Option<i32>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WidgetView {
    pub id: String,
    pub workspace_id: String,
    pub connection_id: String,
    pub endpoint: String,
    pub title: Option<String>,
    pub refresh_seconds: u32,
    pub position: i32,
    pub created_at: String,
}

impl From<&WidgetRow> for WidgetView {
    fn from(r: &WidgetRow) -> Self {
        WidgetView {
            id: r.id.clone(),
            workspace_id: r.workspace_id.clone(),
            connection_id: r.connection_id.clone(),
            endpoint: r.endpoint.clone(),
            title: r.title.clone(),
            refresh_seconds: u32::try_from(r.refresh_seconds).unwrap_or(MIN_REFRESH),
            position: r.position,
            created_at: ms_to_rfc3339(r.created_at),
        }
    }
}

/// The widgets of each workspace's dashboard.
#[derive(Clone)]
pub struct Widgets {
    ctx: Context,
    live: Live,
}

impl Widgets {
    pub(crate) fn new(ctx: Context, live: Live) -> Self {
        Widgets { ctx, live }
    }

    /// The data endpoint `key` of a connection, when its connector serves data endpoints.
    fn endpoint_of(&self, row: &ConnectionRow, key: &str) -> Option<DataEndpointSpec> {
        let connector = self.ctx.connector_for(row).ok()?;
        if !connector.spec().supports(Capability::Data) {
            return None;
        }
        let config: Value = serde_json::from_str(&row.config).unwrap_or(Value::Null);
        connector
            .data_endpoints_for(&config)
            .into_iter()
            .find(|e| e.key == key)
    }

    /// Adds a widget to the caller's dashboard. Every field that does not hold is reported.
    pub async fn create(&self, caller: &Caller, req: CreateWidget) -> Result<WidgetView> {
        let ws = workspace_of(caller)?.to_string();
        let mut errors = Vec::new();
        // A connection the caller cannot see is a 404, like every other reference to one.
        let connection = self.ctx.load_connection(caller, &req.connection_id).await?;
        let endpoint = self.endpoint_of(&connection, &req.endpoint);
        if endpoint.is_none() {
            errors.push(FieldError::new(
                "endpoint",
                "unknown",
                format!("the connection has no data endpoint '{}'", req.endpoint),
            ));
        }
        if let Some(n) = req.refresh_seconds {
            if !(MIN_REFRESH..=MAX_REFRESH).contains(&n) {
                errors.push(FieldError::new(
                    "refresh_seconds",
                    "range",
                    format!("must be from {MIN_REFRESH} to {MAX_REFRESH} seconds"),
                ));
            }
        }
        let title = req
            .title
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        if title.is_some_and(|t| t.chars().count() > MAX_TITLE || t.chars().any(char::is_control)) {
            errors.push(FieldError::new(
                "title",
                "invalid",
                format!("must be at most {MAX_TITLE} characters, without control characters"),
            ));
        }
        if req
            .position
            .is_some_and(|p| !(0..=MAX_POSITION).contains(&p))
        {
            errors.push(FieldError::new(
                "position",
                "range",
                format!("must be from 0 to {MAX_POSITION}"),
            ));
        }
        // Every failed check above pushed an error, so no error means an endpoint was found.
        let Some(endpoint) = endpoint.filter(|_| errors.is_empty()) else {
            return Err(EngineError::Validation(errors));
        };
        let existing = self.ctx.store().list_widgets(&ws, MAX_WIDGETS).await?;
        if existing.len() as i64 >= MAX_WIDGETS {
            return Err(EngineError::Conflict(format!(
                "a dashboard holds at most {MAX_WIDGETS} widgets; remove one first"
            )));
        }
        let refresh = req
            .refresh_seconds
            .unwrap_or_else(|| endpoint.ttl_seconds.clamp(MIN_REFRESH, MAX_REFRESH));
        let position = req.position.unwrap_or_else(|| {
            existing
                .iter()
                .map(|w| w.position + 1)
                .max()
                .unwrap_or(0)
                .min(MAX_POSITION)
        });
        let now = now_ms();
        let row = WidgetRow {
            id: ids::new_id(ids::IdKind::Widget),
            workspace_id: ws,
            connection_id: req.connection_id,
            endpoint: endpoint.key,
            title: title.map(str::to_string),
            refresh_seconds: i32::try_from(refresh).unwrap_or(i32::MAX),
            position,
            created_at: now,
            updated_at: now,
            last_data: None,
            last_fetched_at: None,
        };
        self.ctx.store().insert_widget(&row).await?;
        Ok(WidgetView::from(&row))
    }

    /// The caller's dashboard, in order: every widget, in one page.
    pub async fn list(&self, caller: &Caller) -> Result<Page<WidgetView>> {
        let ws = workspace_of(caller)?;
        let rows = self.ctx.store().list_widgets(ws, MAX_WIDGETS).await?;
        Ok(Page {
            data: rows.iter().map(WidgetView::from).collect(),
            next_cursor: None,
        })
    }

    pub async fn get(&self, caller: &Caller, id: &str) -> Result<WidgetView> {
        Ok(WidgetView::from(&self.row(caller, id).await?))
    }

    async fn row(&self, caller: &Caller, id: &str) -> Result<WidgetRow> {
        let ws = workspace_of(caller)?;
        if !ids::is_id(ids::IdKind::Widget, id) {
            return Err(EngineError::NotFound("widget"));
        }
        self.ctx
            .store()
            .get_widget(ws, id)
            .await?
            .ok_or(EngineError::NotFound("widget"))
    }

    pub async fn remove(&self, caller: &Caller, id: &str) -> Result<()> {
        let ws = workspace_of(caller)?;
        if !ids::is_id(ids::IdKind::Widget, id) || !self.ctx.store().delete_widget(ws, id).await? {
            return Err(EngineError::NotFound("widget"));
        }
        Ok(())
    }
}
