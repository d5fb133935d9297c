//! The generic connector's webhooks, proxy and live data endpoints. Webhooks from the service
//! mean "something changed": they queue an incremental sync of the configured entities. Data
//! endpoints are configured per connection: a path, a widget shape and where in the answer the
//! widget's data is.

use super::settings::Settings;
use patchbay_core::{
    ConnectorContext, ConnectorError, DataEndpointSpec, DataPayload, DataShape, ProxyTarget,
    Secret, WebhookOutcome, WebhookRequest,
};
use serde_json::Value;

/// The `Authorization`-style header carrying the API key, as configured.
pub fn credential(
    ctx: &ConnectorContext,
    s: &Settings<'_>,
) -> Result<(String, Secret), ConnectorError> {
    let key = ctx.secret("api_key")?.expose();
    let value = if s.auth_scheme.is_empty() {
        key.to_string()
    } else {
        format!("{} {key}", s.auth_scheme)
    };
    Ok((s.auth_header.to_string(), Secret::new(value)))
}

pub fn proxy_target(ctx: &ConnectorContext) -> Result<ProxyTarget, ConnectorError> {
    let s = Settings::read(&ctx.config)?;
    let base = ctx
        .config_str("base_url")
        .ok_or_else(|| ConnectorError::Config("'base_url' is not set".into()))?;
    Ok(ProxyTarget {
        base_url: base.to_string(),
        headers: vec![credential(ctx, &s)?],
    })
}

/// The endpoints a connection configures, skipping malformed entries (validation reports them).
pub fn data_endpoints(config: &Value) -> Vec<DataEndpointSpec> {
    let Some(list) = config.get("data_endpoints").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|e| {
            Some(DataEndpointSpec {
                key: e.get("key")?.as_str()?.to_string(),
                description: e
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                shape: serde_json::from_value(e.get("shape")?.clone()).ok()?,
                ttl_seconds: e
                    .get("ttl_seconds")
                    .and_then(Value::as_u64)
                    .map_or(60, |n| n.clamp(1, 86_400) as u32),
            })
        })
        .collect()
}

/// Where the endpoint lives and where its data sits in the answer.
pub fn endpoint_location(config: &Value, key: &str) -> Option<(String, String, DataShape)> {
    let e = config
        .get("data_endpoints")?
        .as_array()?
        .iter()
        .find(|e| e.get("key").and_then(Value::as_str) == Some(key))?;
    let path = e.get("path")?.as_str()?.to_string();
    let pointer = e
        .get("pointer")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let shape = serde_json::from_value(e.get("shape")?.clone()).ok()?;
    Some((path, pointer, shape))
}

pub fn data_payload(
    answer: Value,
    pointer: &str,
    shape: DataShape,
) -> Result<DataPayload, ConnectorError> {
    let data = answer.pointer(pointer).cloned().ok_or_else(|| {
        ConnectorError::BadResponse(format!("the answer has nothing at '{pointer}'"))
    })?;
    Ok(DataPayload { shape, data })
}

/// A verified delivery: re-sync what the connection syncs. The event type is the payload's
/// `type`, `event` or `event_type` when it has one.
pub fn webhook_outcome(config: &Value, req: &WebhookRequest) -> WebhookOutcome {
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let event_type = ["type", "event", "event_type"]
        .iter()
        .find_map(|k| body.get(k).and_then(Value::as_str))
        .unwrap_or("webhook")
        .to_string();
    let resync = match config.get("entities").and_then(Value::as_array) {
        Some(list) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        None => vec![super::spec::DEFAULT_ENTITY.to_string()],
    };
    WebhookOutcome {
        delivery_id: None,
        event_type,
        resync,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn data_endpoints_come_from_config_with_defaults() {
        let config = json!({"data_endpoints": [
            {"key": "queue", "path": "/stats", "shape": "gauge", "pointer": "/queue"},
            {"key": "alerts", "path": "/alerts", "shape": "alert", "ttl_seconds": 5},
            {"key": "broken", "path": "/x", "shape": "pie"}
        ]});
        let eps = data_endpoints(&config);
        assert_eq!(eps.len(), 2);
        assert_eq!((eps[0].key.as_str(), eps[0].ttl_seconds), ("queue", 60));
        assert_eq!((eps[1].shape, eps[1].ttl_seconds), (DataShape::Alert, 5));
        let (path, pointer, shape) = endpoint_location(&config, "queue").unwrap();
        assert_eq!(
            (path.as_str(), pointer.as_str(), shape),
            ("/stats", "/queue", DataShape::Gauge)
        );
        assert!(endpoint_location(&config, "nope").is_none());
        let payload =
            data_payload(json!({"queue": {"value": 3, "max": 10}}), "/queue", shape).unwrap();
        assert_eq!(payload.data, json!({"value": 3, "max": 10}));
        assert!(matches!(
            data_payload(json!({}), "/queue", shape),
            Err(ConnectorError::BadResponse(_))
        ));
    }

    #[test]
    fn webhooks_resync_the_configured_entities() {
        let req = WebhookRequest {
            headers: Default::default(),
            body: br#"{"type":"item.updated","id":"1"}"#.to_vec(),
        };
        let out = webhook_outcome(&json!({"entities": ["tickets", "users"]}), &req);
        assert_eq!(out.event_type, "item.updated");
        assert_eq!(out.resync, ["tickets", "users"]);
        let out = webhook_outcome(
            &json!({}),
            &WebhookRequest {
                headers: Default::default(),
                body: b"x=1".to_vec(),
            },
        );
        assert_eq!(
            (out.event_type.as_str(), out.resync.as_slice()),
            ("webhook", &["records".to_string()][..])
        );
    }
}
