//! What the printing partner connector declares, and its validation rules.

use crate::common::{check_base_url, check_distinct_secrets};
use patchbay_core::{
    ActionSpec, AuthKind, Capability, ConnectorSpec, DataEndpointSpec, DataShape, Direction,
    EntitySpec, FieldError, Mode, ValidationInput, WebhookScheme,
};
use serde_json::json;

pub const KEY: &str = "printing_partner";

pub fn spec() -> ConnectorSpec {
    ConnectorSpec {
        key: KEY.into(),
        name: "Printing partner".into(),
        description: "Print shop orders and products: sync, order status callbacks, and \
                      submitting or cancelling print orders."
            .into(),
        category: "printing".into(),
        direction: Direction::Bidirectional,
        mode: Mode::Both,
        auth: AuthKind::ApiKey,
        capabilities: vec![
            Capability::Sync,
            Capability::Webhooks,
            Capability::Actions,
            Capability::Data,
        ],
        entities: vec![
            EntitySpec {
                key: "orders".into(),
                description: "Print orders of the shop".into(),
                incremental: true,
            },
            EntitySpec {
                key: "products".into(),
                description: "Printable products offered by the shop".into(),
                incremental: false,
            },
        ],
        actions: vec![
            ActionSpec {
                key: "submit_order".into(),
                description: "Submit a print order".into(),
                input_schema: json!({
                    "type": "object",
                    "required": ["product_id", "quantity"],
                    "properties": {
                        "product_id": {"type": "string", "minLength": 1},
                        "quantity": {"type": "integer", "minimum": 1, "maximum": 10000},
                        "paper": {"type": "string", "enum": ["a4", "letter"]}
                    },
                    "additionalProperties": false
                }),
            },
            ActionSpec {
                key: "cancel_order".into(),
                description: "Cancel an order that has not shipped".into(),
                input_schema: json!({
                    "type": "object",
                    "required": ["order_id"],
                    "properties": {"order_id": {"type": "string", "minLength": 1}},
                    "additionalProperties": false
                }),
            },
        ],
        data_endpoints: vec![
            data(
                "orders_by_status",
                "Orders in each status",
                DataShape::Chart,
                30,
            ),
            data(
                "orders_shipped",
                "Orders shipped out of all orders not cancelled",
                DataShape::Progress,
                30,
            ),
            data(
                "service_notices",
                "The partner's service notices (delays, outages)",
                DataShape::Alert,
                30,
            ),
        ],
        config_schema: json!({
            "type": "object",
            "required": ["shop_id", "api_base_url"],
            "properties": {
                "shop_id": {
                    "type": "string",
                    "title": "Shop id",
                    "pattern": "^[a-z0-9][a-z0-9-]{2,39}$"
                },
                "api_base_url": {
                    "type": "string",
                    "title": "API base URL",
                    "format": "uri"
                },
                "default_paper": {"type": "string", "enum": ["a4", "letter"]},
                "proof_required": {"type": "boolean"}
            },
            "additionalProperties": false
        }),
        secrets_schema: json!({
            "type": "object",
            "required": ["api_key", "callback_secret"],
            "properties": {
                "api_key": {"type": "string", "title": "API key", "minLength": 16},
                "callback_secret": {
                    "type": "string",
                    "title": "Callback secret",
                    "minLength": 24
                }
            },
            "additionalProperties": false
        }),
        account_field: Some("shop_id".into()),
        webhook_scheme: Some(WebhookScheme::SharedSecretHeader),
        webhook_secret_field: Some("callback_secret".into()),
    }
}

fn data(key: &str, description: &str, shape: DataShape, ttl_seconds: u32) -> DataEndpointSpec {
    DataEndpointSpec {
        key: key.into(),
        description: description.into(),
        shape,
        ttl_seconds,
    }
}

pub fn validate_rules(input: &ValidationInput<'_>) -> Vec<FieldError> {
    let mut errors: Vec<FieldError> = check_base_url(input.config, "api_base_url")
        .into_iter()
        .collect();
    if let Some(key) = input.secrets.get("api_key") {
        let k = key.expose();
        if !(k.starts_with("pp_live_") || k.starts_with("pp_test_")) {
            errors.push(FieldError::new(
                "secrets.api_key",
                "format",
                "must start with pp_live_ or pp_test_",
            ));
        }
    }
    errors.extend(check_distinct_secrets(input.secrets, "api_key"));
    errors
}
