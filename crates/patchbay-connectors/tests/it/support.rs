//! Helpers shared by the integration tests.

use patchbay_connectors::{HttpClient, NetworkPolicy};
use patchbay_core::{
    validate_connection, Connector, ConnectorContext, FieldError, Record, Secret, SecretMap,
    SyncMode, SyncRequest, ValidationInput, WebhookRequest,
};
use patchbay_emulators::SignedCallback;
use serde_json::{json, Value};
use std::time::Duration;

pub fn http() -> HttpClient {
    HttpClient::new(NetworkPolicy::AllowAll, Duration::from_secs(5))
}

pub fn secrets(pairs: &[(&str, &str)]) -> SecretMap {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Secret::new(*v)))
        .collect()
}

pub fn ctx(config: Value, secrets: SecretMap) -> ConnectorContext {
    ConnectorContext {
        connection_id: "conn_test".into(),
        config,
        secrets,
    }
}

pub fn webhook(cb: SignedCallback) -> WebhookRequest {
    WebhookRequest {
        headers: cb.headers,
        body: cb.body,
    }
}

/// Validation errors for `config` and `secrets`, checking that no message quotes a secret.
/// The field errors an action's input schema gives `input`. The engine checks input against it
/// once, before any connector runs; connectors take input that passed.
pub fn input_errors(connector: &dyn Connector, action: &str, input: &Value) -> Vec<FieldError> {
    let schema = &connector
        .spec()
        .action(action)
        .expect("a declared action")
        .input_schema;
    patchbay_core::validation::check_schema(schema, input, "input")
}

pub fn validate(connector: &dyn Connector, config: Value, secrets: &SecretMap) -> Vec<FieldError> {
    let scope = json!({});
    let errors = validate_connection(
        connector,
        &ValidationInput {
            config: &config,
            secrets,
            scope: &scope,
        },
    );
    for e in &errors {
        for s in secrets.values().filter(|s| s.expose().len() >= 4) {
            assert!(
                !e.message.contains(s.expose()),
                "secret leaked in {}: {}",
                e.field,
                e.message
            );
        }
    }
    errors
}

/// Whether `errors` holds one for `field` with `code`.
pub fn has(errors: &[FieldError], field: &str, code: &str) -> bool {
    errors.iter().any(|e| e.field == field && e.code == code)
}

/// The outcome of a whole sync run.
pub struct Run {
    pub records: Vec<Record>,
    pub deleted: Vec<String>,
    pub checkpoint: Option<String>,
    pub pages: usize,
}

impl Run {
    pub fn ids(&self) -> Vec<String> {
        self.records.iter().map(|r| r.id.clone()).collect()
    }
}

/// Runs `entity` page by page until the connector says it is done.
pub async fn sync_all(
    connector: &dyn Connector,
    ctx: &ConnectorContext,
    entity: &str,
    since: Option<String>,
) -> Run {
    let mode = if since.is_some() {
        SyncMode::Incremental
    } else {
        SyncMode::Full
    };
    let mut run = Run {
        records: vec![],
        deleted: vec![],
        checkpoint: None,
        pages: 0,
    };
    let mut cursor = None;
    loop {
        let page = connector
            .sync(
                ctx,
                SyncRequest {
                    entity: entity.into(),
                    mode,
                    page_cursor: cursor.take(),
                    since: since.clone(),
                },
            )
            .await
            .expect("sync page");
        run.pages += 1;
        assert!(run.pages < 100, "sync does not end");
        run.records.extend(page.records);
        run.deleted.extend(page.deleted_ids);
        run.checkpoint = page.checkpoint.or(run.checkpoint.take());
        match page.next_page_cursor {
            Some(next) => cursor = Some(next),
            None => return run,
        }
    }
}

/// Asserts the list has no duplicates and returns it sorted.
pub fn distinct_sorted(mut ids: Vec<String>) -> Vec<String> {
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "duplicate ids in a sync run");
    ids
}
