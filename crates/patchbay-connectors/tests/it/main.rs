//! Connectors against the local partner emulators, over loopback.

mod github;
mod http_json;
mod invites;
mod mail_context;
mod network;
mod oauth;
mod printing;
mod slack;
mod support;
mod telegram;
mod telegram_markdown;
mod todoist;
mod venue;

use patchbay_connectors::{builtin, NetworkPolicy};

#[test]
fn builtin_registers_every_connector() {
    let registry = builtin(
        support::http(),
        &patchbay_connectors::providers::Catalog::load(None).unwrap(),
    );
    assert_eq!(
        registry.keys(),
        vec![
            "github",
            "google-calendar",
            "google-mail",
            "http_json",
            "printing_partner",
            "slack",
            "telegram",
            "todoist",
            "venue_ops"
        ]
    );
    assert_eq!(registry.get("venue_ops").unwrap().spec().category, "venues");
    assert_eq!(
        registry.get("http_json").unwrap().spec().category,
        "generic"
    );
    assert!(registry.get("nope").is_err());
    assert_eq!(NetworkPolicy::default(), NetworkPolicy::DenyPrivate);
}
