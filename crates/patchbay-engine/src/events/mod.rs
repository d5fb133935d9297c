//! Outbound events: subscriptions receive the workspace's outbox events, signed per the
//! Standard Webhooks specification (`webhook-id` = event id, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`). Deliveries retry on a
//! schedule (immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h) and every attempt is
//! logged; a subscription that keeps failing has its circuit opened so it does not hold up
//! others.

mod dispatcher;
mod outbox;
mod subscriptions;

pub use dispatcher::DISPATCH_LOOPS;
pub use subscriptions::{CreateSubscription, DeliveryView, PatchSubscription, SubscriptionView};

/// Outbound events: the outbox, subscriptions, and the dispatcher that delivers.
#[derive(Clone)]
pub struct Events {
    ctx: crate::Context,
    state: std::sync::Arc<EventState>,
}

/// The outbound side's own state: when fan-out last looked behind each subscription's cursor,
/// in this process.
#[derive(Default)]
struct EventState {
    fan_out_rechecks: std::sync::Mutex<std::collections::HashMap<String, i64>>,
}

impl Events {
    pub(crate) fn new(ctx: crate::Context) -> Self {
        Events {
            ctx,
            state: Default::default(),
        }
    }
}

/// Credentials of subscriptions (their signing secrets) are stored under this owner type.
const OWNER: &str = "subscription";
