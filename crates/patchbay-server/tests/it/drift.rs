//! Config drift: a connector whose spec changed marks stored connections degraded.

use crate::{both_backends, printing_body, registry, TestApp};
use async_trait::async_trait;
use patchbay_core::*;
use patchbay_store::testing::{new_database, TestBackend};
use serde_json::{json, Value};
use std::sync::Arc;

both_backends!(config_drift_degrades_and_recovers);

/// The printing partner as a newer release might ship it: one more required config field.
struct Drifted {
    inner: Arc<dyn Connector>,
    spec: ConnectorSpec,
}

#[async_trait]
impl Connector for Drifted {
    fn spec(&self) -> &ConnectorSpec {
        &self.spec
    }
    fn validate_rules(&self, input: &ValidationInput<'_>) -> Vec<FieldError> {
        self.inner.validate_rules(input)
    }
    async fn test_connection(&self, ctx: &ConnectorContext) -> Result<TestOutcome, ConnectorError> {
        self.inner.test_connection(ctx).await
    }
}

fn drifted_registry() -> Registry {
    let base = registry();
    let inner = base.get("printing_partner").unwrap();
    let mut spec = inner.spec().clone();
    spec.config_schema["properties"]["region"] = json!({"type": "string", "enum": ["eu", "us"]});
    spec.config_schema["required"]
        .as_array_mut()
        .unwrap()
        .push(Value::from("region"));
    let mut r = base.clone();
    r.register(Arc::new(Drifted { inner, spec }));
    r
}

async fn config_drift_degrades_and_recovers(backend: TestBackend) {
    let db = new_database(backend);
    let master = patchbay_vault::MasterKey::generate_base64();
    let emulator = patchbay_emulators::printing_partner::spawn(Default::default())
        .await
        .unwrap();
    let (id, key) = {
        let app = TestApp::spawn_on(db.clone(), master.clone(), registry()).await;
        let (_, key) = app.workspace("acme").await;
        let mut body = printing_body("u1", "demo-shop", &emulator.base_url, crate::EMULATOR_KEY);
        body["enable"] = json!(true);
        let c = app.connection(&key, body).await;
        (c["id"].as_str().unwrap().to_string(), key)
    };
    // Restart with the newer spec: the stored config no longer satisfies it.
    let app = TestApp::spawn_on(db, master, drifted_registry()).await;
    let path = format!("/v1/connections/{id}");
    let c = app.get(&path, &key).await.1;
    assert_eq!(c["health"], "degraded", "{c}");
    assert_eq!(
        c["lifecycle"], "enabled",
        "drift changes health, not lifecycle"
    );
    assert!(
        c["health_reason"]
            .as_str()
            .unwrap()
            .contains("config.region"),
        "{c}"
    );
    assert_eq!(
        app.get("/v1/connections?health=degraded", &key).await.1["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Supplying the new field clears it.
    let (s, c) = app
        .patch(&path, &key, json!({"config": {"region": "eu"}}))
        .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["health"], "healthy");
    assert!(c["health_reason"].is_null());
    let (_, events) = app.get("/v1/events?limit=100", &key).await;
    assert!(events["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "connection.health_changed"));
}
