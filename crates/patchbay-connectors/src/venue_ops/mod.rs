//! Venue operations: an API-token venue system with page-numbered spaces and bookings,
//! booking callbacks, space holds and a live occupancy gauge.

mod client;
mod spec;
mod webhook;

pub use spec::KEY;

use crate::common::{checkpoint, object_id, page_number, unknown_entity};
use crate::http::HttpClient;
use async_trait::async_trait;
use client::Api;
use patchbay_core::{
    Connector, ConnectorContext, ConnectorError, ConnectorSpec, DataPayload, DataShape, FieldError,
    Record, SyncMode, SyncPage, SyncRequest, TestOutcome, ValidationInput, WebhookOutcome,
    WebhookRequest,
};
use serde_json::{json, Value};

/// Largest page the partner serves.
const DEFAULT_PAGE_SIZE: u32 = 100;

pub struct VenueOps {
    spec: ConnectorSpec,
    http: HttpClient,
    page_size: u32,
}

impl VenueOps {
    pub fn new(http: HttpClient) -> Self {
        VenueOps {
            spec: spec::spec(),
            http,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }

    /// Items requested per page (1..=100).
    pub fn with_page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size.clamp(1, DEFAULT_PAGE_SIZE);
        self
    }

    async fn hold_space(
        &self,
        ctx: &ConnectorContext,
        input: Value,
    ) -> Result<Value, ConnectorError> {
        let time = |field: &str| {
            let raw = input[field].as_str().unwrap_or_default();
            chrono::DateTime::parse_from_rfc3339(raw).map_err(|_| {
                ConnectorError::InvalidInput(vec![FieldError::new(
                    format!("input.{field}"),
                    "format",
                    "must be an RFC 3339 date-time such as 2025-06-01T18:00:00Z",
                )])
            })
        };
        if time("ends_at")? <= time("starts_at")? {
            return Err(ConnectorError::InvalidInput(vec![FieldError::new(
                "input.ends_at",
                "range",
                "must be after starts_at",
            )]));
        }
        Api::new(&self.http, ctx)?.create_hold(&input).await
    }

    async fn occupancy(&self, ctx: &ConnectorContext) -> Result<DataPayload, ConnectorError> {
        let v = Api::new(&self.http, ctx)?.occupancy().await?;
        let count = |field: &str| {
            v.get(field).and_then(Value::as_u64).ok_or_else(|| {
                ConnectorError::BadResponse(format!("occupancy answer has no '{field}'"))
            })
        };
        let (occupied, capacity) = (count("occupied")?, count("capacity")?);
        let percent = occupied
            .saturating_mul(100)
            .checked_div(capacity)
            .unwrap_or(0);
        let threshold = ctx
            .config
            .get("capacity_alert_percent")
            .and_then(Value::as_u64);
        Ok(DataPayload {
            shape: DataShape::Gauge,
            data: json!({
                "label": "Occupancy",
                "value": occupied,
                "min": 0,
                "max": capacity,
                "percent": percent,
                "unit": "people",
                "alert": threshold.is_some_and(|t| percent >= t),
            }),
        })
    }
}

#[async_trait]
impl Connector for VenueOps {
    fn spec(&self) -> &ConnectorSpec {
        &self.spec
    }

    fn validate_rules(&self, input: &ValidationInput<'_>) -> Vec<FieldError> {
        spec::validate_rules(input)
    }

    async fn test_connection(&self, ctx: &ConnectorContext) -> Result<TestOutcome, ConnectorError> {
        let venue = Api::new(&self.http, ctx)?.venue().await?;
        let id = object_id(&venue)?;
        let name = venue.get("name").and_then(Value::as_str).unwrap_or(&id);
        Ok(TestOutcome {
            ok: true,
            message: format!("connected to venue {name}"),
            account: Some(id.clone()),
        })
    }

    async fn sync(
        &self,
        ctx: &ConnectorContext,
        req: SyncRequest,
    ) -> Result<SyncPage, ConnectorError> {
        let incremental = match req.entity.as_str() {
            "bookings" => true,
            "spaces" => false,
            other => return Err(unknown_entity(other)),
        };
        let since = match req.mode {
            SyncMode::Incremental if incremental => req.since.as_deref(),
            _ => None,
        };
        let page = page_number(req.page_cursor.as_deref())?;
        let list = Api::new(&self.http, ctx)?
            .list(&req.entity, page, self.page_size, since)
            .await?;
        let mut out = SyncPage::default();
        for item in &list.items {
            let id = object_id(item)?;
            if item.get("status").and_then(Value::as_str) == Some("cancelled") {
                out.deleted_ids.push(id);
            } else {
                out.records.push(Record {
                    entity: req.entity.clone(),
                    id,
                    data: item.clone(),
                });
            }
        }
        // Trust our own page number over the echo, so a sloppy echo cannot loop forever.
        if page < list.total_pages && !list.items.is_empty() {
            out.next_page_cursor = Some((page + 1).to_string());
        }
        if list.page != page {
            tracing::warn!(
                asked = page,
                got = list.page,
                "venue partner echoed another page"
            );
        }
        if incremental {
            out.checkpoint = checkpoint(since, &list.items, "modified_at");
        }
        Ok(out)
    }

    async fn fetch_entity(
        &self,
        ctx: &ConnectorContext,
        entity: &str,
        id: &str,
    ) -> Result<Record, ConnectorError> {
        match entity {
            "bookings" => {
                let booking = Api::new(&self.http, ctx)?.booking(id).await?;
                Ok(Record {
                    entity: entity.into(),
                    id: object_id(&booking)?,
                    data: booking,
                })
            }
            // The partner has no single-space endpoint; spaces come from sync.
            "spaces" => Err(ConnectorError::unsupported(
                &self.spec,
                "fetch_entity for spaces",
            )),
            other => Err(unknown_entity(other)),
        }
    }

    async fn run_action(
        &self,
        ctx: &ConnectorContext,
        action: &str,
        input: Value,
    ) -> Result<Value, ConnectorError> {
        match action {
            "hold_space" => self.hold_space(ctx, input).await,
            "release_hold" => {
                let id = input["hold_id"].as_str().unwrap_or_default();
                Api::new(&self.http, ctx)?.release_hold(id).await?;
                Ok(json!({"hold_id": id, "released": true}))
            }
            other => Err(ConnectorError::Unknown {
                kind: "action",
                key: other.into(),
            }),
        }
    }

    async fn handle_webhook(
        &self,
        ctx: &ConnectorContext,
        req: &WebhookRequest,
    ) -> Result<WebhookOutcome, ConnectorError> {
        webhook::handle(ctx, req)
    }

    async fn fetch_data(
        &self,
        ctx: &ConnectorContext,
        endpoint: &str,
    ) -> Result<DataPayload, ConnectorError> {
        match endpoint {
            "occupancy" => self.occupancy(ctx).await,
            other => Err(ConnectorError::Unknown {
                kind: "data endpoint",
                key: other.into(),
            }),
        }
    }
}
