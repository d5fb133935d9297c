//! Built-in connectors (GitHub, Gmail, Google Calendar, the printing partner, Slack, Telegram bots, Todoist and venue
//! operations integrations, and a generic JSON API connector), the outbound HTTP client they share,
//! which enforces the private-network policy, and inbound webhook verification.

mod common;
pub mod gcal;
pub mod github;
pub mod gmail;
pub mod google;
pub mod http;
pub mod http_json;
pub mod mail;
pub mod oauth;
pub mod printing_partner;
pub mod providers;
pub mod slack;
pub mod telegram;
pub mod todoist;
pub mod venue_ops;
pub mod webhooks;

use std::sync::Arc;

pub use common::SHARED_SECRET_HEADER;
pub use github::Github;
pub use http::{HttpClient, NetworkPolicy};
pub use http_json::HttpJson;
pub use printing_partner::PrintingPartner;
pub use venue_ops::VenueOps;

/// A registry holding every built-in connector, all sharing `http`; connectors that talk to a
/// catalog provider take its entry (with the operator's overrides) from `catalog`.
pub fn builtin(http: HttpClient, catalog: &providers::Catalog) -> patchbay_core::Registry {
    let mut registry = patchbay_core::Registry::new();
    registry
        .register(Arc::new(HttpJson::new(http.clone())))
        .register(Arc::new(Github::new(
            http.clone(),
            catalog.get(github::KEY).cloned(),
        )))
        .register(Arc::new(PrintingPartner::new(http.clone())))
        .register(Arc::new(gmail::Gmail::new(
            http.clone(),
            catalog.get(gmail::KEY).cloned(),
        )))
        .register(Arc::new(gcal::GoogleCalendar::new(
            http.clone(),
            catalog.get(gcal::KEY).cloned(),
        )))
        .register(Arc::new(todoist::Todoist::new(
            http.clone(),
            catalog.get(todoist::KEY).cloned(),
        )))
        .register(Arc::new(slack::Slack::new(
            http.clone(),
            catalog.get(slack::KEY).cloned(),
        )))
        .register(Arc::new(telegram::Telegram::new(
            http.clone(),
            catalog.get(telegram::KEY).cloned(),
        )))
        .register(Arc::new(VenueOps::new(http)));
    registry
}
