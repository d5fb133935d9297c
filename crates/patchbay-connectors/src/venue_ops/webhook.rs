//! Booking callbacks from the venue partner.

use crate::common::{callback_json, payload_str, verify_shared_secret};
use patchbay_core::{ConnectorContext, ConnectorError, Record, WebhookOutcome, WebhookRequest};

pub fn handle(
    ctx: &ConnectorContext,
    req: &WebhookRequest,
) -> Result<WebhookOutcome, ConnectorError> {
    // Verify before parsing, so unauthenticated senders learn nothing about the format.
    verify_shared_secret(ctx, req, "callback_secret")?;
    let event = callback_json(&req.body)?;
    let delivery_id = payload_str(&event, "/event_id")?.to_string();
    let event_type = payload_str(&event, "/event")?.to_string();
    let booking = event
        .get("booking")
        .filter(|b| b.is_object())
        .ok_or_else(|| ConnectorError::BadPayload("missing booking".into()))?;
    let booking_id = payload_str(booking, "/id")?.to_string();
    let mut outcome = WebhookOutcome {
        delivery_id: Some(delivery_id),
        event_type,
        ..Default::default()
    };
    match outcome.event_type.as_str() {
        "booking.created" | "booking.updated" => outcome.upserts.push(Record {
            entity: "bookings".into(),
            id: booking_id,
            data: booking.clone(),
        }),
        "booking.cancelled" => outcome.deletions.push(("bookings".into(), booking_id)),
        other => {
            return Err(ConnectorError::BadPayload(format!(
                "unknown event type '{other}'"
            )))
        }
    }
    Ok(outcome)
}
