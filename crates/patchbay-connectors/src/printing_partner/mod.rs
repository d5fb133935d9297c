//! Printing partner: an API-key print shop with cursor-paginated orders and products,
//! order callbacks, order actions, and dashboard data (orders by status, shipping progress,
//! service notices).

mod client;
mod data;
mod spec;
mod webhook;

pub use spec::KEY;

use crate::common::{checkpoint, object_id, unknown_entity};
use crate::http::HttpClient;
use async_trait::async_trait;
use client::Api;
use patchbay_core::{
    Connector, ConnectorContext, ConnectorError, ConnectorSpec, DataPayload, FieldError, Record,
    SyncMode, SyncPage, SyncRequest, TestOutcome, ValidationInput, WebhookOutcome, WebhookRequest,
};
use serde_json::{json, Value};

/// Largest page the partner serves.
const DEFAULT_PAGE_SIZE: u32 = 100;

pub struct PrintingPartner {
    spec: ConnectorSpec,
    http: HttpClient,
    page_size: u32,
}

impl PrintingPartner {
    pub fn new(http: HttpClient) -> Self {
        PrintingPartner {
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

    async fn submit_order(
        &self,
        ctx: &ConnectorContext,
        input: Value,
    ) -> Result<Value, ConnectorError> {
        let mut body = json!({
            "product_id": input["product_id"],
            "quantity": input["quantity"],
        });
        let paper = input
            .get("paper")
            .and_then(Value::as_str)
            .or_else(|| ctx.config_str("default_paper"));
        if let Some(paper) = paper {
            body["paper"] = paper.into();
        }
        Api::new(&self.http, ctx)?.create_order(&body).await
    }
}

#[async_trait]
impl Connector for PrintingPartner {
    fn spec(&self) -> &ConnectorSpec {
        &self.spec
    }

    fn validate_rules(&self, input: &ValidationInput<'_>) -> Vec<FieldError> {
        spec::validate_rules(input)
    }

    async fn test_connection(&self, ctx: &ConnectorContext) -> Result<TestOutcome, ConnectorError> {
        let shop = Api::new(&self.http, ctx)?.shop().await?;
        let id = object_id(&shop)?;
        let name = shop.get("name").and_then(Value::as_str).unwrap_or(&id);
        Ok(TestOutcome {
            ok: true,
            message: format!("connected to shop {name}"),
            account: Some(id.clone()),
        })
    }

    async fn sync(
        &self,
        ctx: &ConnectorContext,
        req: SyncRequest,
    ) -> Result<SyncPage, ConnectorError> {
        let incremental = match req.entity.as_str() {
            "orders" => true,
            "products" => false,
            other => return Err(unknown_entity(other)),
        };
        let since = match req.mode {
            SyncMode::Incremental if incremental => req.since.as_deref(),
            _ => None,
        };
        let page = Api::new(&self.http, ctx)?
            .list(
                &req.entity,
                self.page_size,
                req.page_cursor.as_deref(),
                since,
            )
            .await?;
        let mut out = SyncPage::default();
        let mut last_id = None;
        for item in &page.data {
            let id = object_id(item)?;
            last_id = Some(id.clone());
            if item.get("deleted").and_then(Value::as_bool) == Some(true) {
                out.deleted_ids.push(id);
            } else {
                out.records.push(Record {
                    entity: req.entity.clone(),
                    id,
                    data: item.clone(),
                });
            }
        }
        if page.has_more {
            out.next_page_cursor = Some(last_id.ok_or_else(|| {
                ConnectorError::BadResponse("an empty page claims there is more".into())
            })?);
        }
        if incremental {
            out.checkpoint = checkpoint(since, &page.data, "updated_at");
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
            "orders" => {
                let order = Api::new(&self.http, ctx)?.order(id).await?;
                Ok(Record {
                    entity: entity.into(),
                    id: object_id(&order)?,
                    data: order,
                })
            }
            // The partner has no single-product endpoint; products come from sync.
            "products" => Err(ConnectorError::unsupported(
                &self.spec,
                "fetch_entity for products",
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
            "submit_order" => self.submit_order(ctx, input).await,
            "cancel_order" => {
                let id = input["order_id"].as_str().unwrap_or_default();
                Api::new(&self.http, ctx)?.cancel_order(id).await
            }
            other => Err(ConnectorError::Unknown {
                kind: "action",
                key: other.into(),
            }),
        }
    }

    async fn fetch_data(
        &self,
        ctx: &ConnectorContext,
        endpoint: &str,
    ) -> Result<DataPayload, ConnectorError> {
        let api = Api::new(&self.http, ctx)?;
        match endpoint {
            "orders_by_status" => data::orders_by_status(&api.stats().await?),
            "orders_shipped" => data::orders_shipped(&api.stats().await?),
            "service_notices" => data::service_notices(&api.notices().await?),
            other => Err(ConnectorError::Unknown {
                kind: "data endpoint",
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
}
