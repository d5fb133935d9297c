//! Order callbacks from the printing partner.

use crate::common::{callback_json, payload_str, verify_shared_secret};
use patchbay_core::{ConnectorContext, ConnectorError, Record, WebhookOutcome, WebhookRequest};
use serde_json::Value;

pub fn handle(
    ctx: &ConnectorContext,
    req: &WebhookRequest,
) -> Result<WebhookOutcome, ConnectorError> {
    // Verify before parsing, so unauthenticated senders learn nothing about the format.
    verify_shared_secret(ctx, req, "callback_secret")?;
    let event = callback_json(&req.body)?;
    let delivery_id = payload_str(&event, "/id")?.to_string();
    let event_type = payload_str(&event, "/type")?.to_string();
    let order = event
        .pointer("/data/order")
        .filter(|o| o.is_object())
        .ok_or_else(|| ConnectorError::BadPayload("missing data.order".into()))?;
    let order_id = payload_str(order, "/id")?.to_string();
    let deleted = order.get("deleted").and_then(Value::as_bool) == Some(true);
    let mut outcome = WebhookOutcome {
        delivery_id: Some(delivery_id),
        event_type,
        ..Default::default()
    };
    match outcome.event_type.as_str() {
        "order.updated" if !deleted => outcome.upserts.push(Record {
            entity: "orders".into(),
            id: order_id,
            data: order.clone(),
        }),
        "order.updated" | "order.deleted" => outcome.deletions.push(("orders".into(), order_id)),
        other => {
            return Err(ConnectorError::BadPayload(format!(
                "unknown event type '{other}'"
            )))
        }
    }
    Ok(outcome)
}
