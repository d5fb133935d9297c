//! Connectors against the local partner emulators, over loopback.

mod network;
mod oauth;
mod printing;
mod support;
mod venue;

use patchbay_connectors::{builtin, NetworkPolicy};

#[test]
fn builtin_registers_both_connectors() {
    let registry = builtin(
        support::http(),
        &patchbay_connectors::providers::Catalog::load(None).unwrap(),
    );
    assert_eq!(
        registry.keys(),
        vec!["printing_partner", "todoist", "venue_ops"]
    );
    assert_eq!(registry.get("venue_ops").unwrap().spec().category, "venues");
    assert!(registry.get("nope").is_err());
    assert_eq!(NetworkPolicy::default(), NetworkPolicy::DenyPrivate);
}
