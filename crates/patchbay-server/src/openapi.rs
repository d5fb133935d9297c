//! The OpenAPI 3.1 document: collected from the handlers' annotations, then finished from the
//! route table so that what the document says about keys and errors is what the router does:
//! every authenticated operation answers 401 and 403, every JSON body 400, 413, 415 and 422,
//! every query 400, every path parameter 404, all with the one error schema.

use crate::access::{Access, RouteRule};
use crate::routes::{
    activity, admin, attachments, bindings, connections, connectors, docs, live, oauth, ops, proxy,
    subscriptions, syncs, webhooks, widgets,
};
use serde_json::{json, Map, Value};
use std::sync::OnceLock;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "patchbay",
        description = "Self-hostable integrations hub. Authenticate with `Authorization: Bearer KEY` (admin key, workspace secret key or integration principal key); each operation says which kinds of key it takes, and any other kind gets 403. Errors are `{\"error\": {\"code\", \"message\", \"details\"}}`."
    ),
    paths(
        ops::healthz,
        ops::readyz,
        ops::metrics,
        docs::openapi,
        docs::docs,
        admin::create_workspace,
        admin::list_workspaces,
        admin::list_connections,
        admin::stats,
        admin::workspace_stats,
        admin::activity,
        crate::routes::repos::create,
        crate::routes::repos::admin_list,
        crate::routes::repos::admin_show,
        crate::routes::repos::update,
        crate::routes::repos::remove,
        crate::routes::repos::list,
        crate::routes::repos::show,
        crate::routes::llm_providers::put,
        crate::routes::llm_providers::admin_list,
        crate::routes::llm_providers::admin_show,
        crate::routes::llm_providers::remove,
        crate::routes::llm_providers::test,
        crate::routes::llm_providers::list,
        crate::routes::llm_providers::show,
        connectors::list,
        connectors::show,
        connections::create,
        connections::list,
        connections::show,
        connections::update,
        connections::remove,
        connections::test,
        proxy::proxy,
        connections::principal,
        connections::rotate_principal,
        connections::run_action,
        activity::activity,
        activity::events,
        activity::stream,
        live::signals,
        live::data,
        live::alerts,
        live::shared_slots,
        webhooks::receive,
        webhooks::receive_routed,
        webhooks::receive_legacy,
        webhooks::list,
        webhooks::replay,
        attachments::show,
        subscriptions::create,
        subscriptions::list,
        subscriptions::show,
        subscriptions::update,
        subscriptions::remove,
        subscriptions::deliveries,
        subscriptions::retry,
        syncs::start,
        syncs::list,
        syncs::show,
        syncs::cancel,
        syncs::records,
        oauth::put_app,
        oauth::list_apps,
        oauth::create_session,
        oauth::authorize,
        oauth::callback,
        widgets::list,
        widgets::create,
        widgets::show,
        widgets::remove,
        bindings::list,
        bindings::create,
        bindings::remove_target,
        bindings::show,
        bindings::update,
        bindings::remove,
        bindings::reply,
        bindings::show_default,
        bindings::set_default,
        bindings::clear_default,
        bindings::prompt,
    ),
    components(schemas(admin::Stats))
)]
struct ApiDoc;

/// The finished document, built once.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the document serializes");
        doc["info"]["version"] = json!(env!("CARGO_PKG_VERSION"));
        finish(&mut doc, &crate::access::route_table());
        doc
    })
}

const ERROR_REF: &str = "#/components/schemas/Error";

fn finish(doc: &mut Value, rules: &[RouteRule]) {
    let components = doc
        .as_object_mut()
        .expect("an object")
        .entry("components")
        .or_insert_with(|| json!({}));
    components["securitySchemes"] = json!({"bearer": {"type": "http", "scheme": "bearer"}});
    components["schemas"]["Error"] = json!({
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "stable, machine-readable"},
                "message": {"type": "string"},
                "details": {"description": "more about the error, such as field errors"}
            }
        }}
    });
    refine_schemas(doc);
    add_proxy_operations(doc, rules);
    for rule in rules {
        let path = rule.openapi_path();
        let method = rule.method.as_str().to_ascii_lowercase();
        if let Some(op) = doc["paths"][path.as_str()].get_mut(method.as_str()) {
            finish_operation(op, rule);
        }
    }
    unique_operation_ids(doc);
}

/// Constraints the annotations cannot spell (items of a list of plain strings).
fn refine_schemas(doc: &mut Value) {
    let event_type = json!({
        "type": "string",
        "description": "an event type such as `records.changed`, or a prefix such as `connection.*`",
        "minLength": 1,
        "maxLength": 200,
        "pattern": TEXT_PATTERN,
    });
    let provider = &mut doc["components"]["schemas"]["CreateRepository"]["properties"]["provider"];
    if provider.is_object() {
        *provider = json!({"type": "string", "enum": ["github"], "default": "github"});
    }
    for schema in ["CreateSubscription", "PatchSubscription"] {
        let items = &mut doc["components"]["schemas"][schema]["properties"]["event_types"]["items"];
        if items.is_object() {
            *items = event_type.clone();
        }
    }
}

/// Text the API stores and shows again: not blank, no control characters
/// (`patchbay_engine::text::check_text`).
pub const TEXT_PATTERN: &str = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$";

/// The proxy takes every method, with or without a path after `proxy`; the handler is
/// annotated once (GET with a path) and the rest are copies of it.
fn add_proxy_operations(doc: &mut Value, rules: &[RouteRule]) {
    const ANNOTATED: &str = "/v1/connections/{id}/proxy/{path}";
    let Some(template) = doc["paths"][ANNOTATED].get("get").cloned() else {
        return;
    };
    for rule in rules.iter().filter(|r| r.path.contains("/proxy")) {
        let path = rule.openapi_path();
        let method = rule.method.as_str().to_ascii_lowercase();
        let mut op = template.clone();
        op["operationId"] = json!(format!(
            "proxy_{method}{}",
            if path == ANNOTATED { "" } else { "_root" }
        ));
        if path != ANNOTATED {
            if let Some(params) = op["parameters"].as_array_mut() {
                params.retain(|p| p["name"] != "path");
            }
        }
        // Whatever the provider answers is passed through.
        op["responses"]["default"] = json!({"description": "the provider's answer, passed through", "content": {"*/*": {"schema": {}}}});
        op["responses"]["422"] = json!({"description": "the connector has no proxy"});
        if method != "get" && method != "delete" {
            op["requestBody"] = json!({
                "description": "sent to the provider as it is",
                "required": false,
                "content": {"*/*": {"schema": {}}}
            });
        }
        let paths = doc["paths"].as_object_mut().expect("paths");
        let item = paths.entry(path).or_insert_with(|| json!({}));
        item[method.as_str()] = op;
    }
}

fn finish_operation(op: &mut Value, rule: &RouteRule) {
    let has = |op: &Value, location: &str| {
        op["parameters"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["in"] == location))
    };
    let json_body = op["requestBody"]["content"]
        .get("application/json")
        .is_some();
    let mut add: Vec<(u16, &str)> = Vec::new();
    if rule.access == Access::Public {
        if let Some(o) = op.as_object_mut() {
            o.remove("security");
        }
    } else {
        op["security"] = json!([{"bearer": []}]);
        let who = rule.access.describe();
        op["description"] = json!(match op["description"].as_str() {
            Some(d) if !d.is_empty() => format!("{d}\n\nTakes {who}."),
            _ => format!("Takes {who}."),
        });
        add.push((401, "no key, or a key that is not known"));
        add.push((403, "a key of a kind this route does not take"));
    }
    if has(op, "query") {
        add.push((400, "a query parameter is malformed or out of range"));
    }
    if has(op, "path") {
        add.push((404, "not found, or not visible to this key"));
    }
    if json_body {
        add.push((400, "malformed JSON"));
        add.push((413, "the body is larger than the limit"));
        add.push((415, "the body is not application/json"));
        add.push((422, "well-formed JSON of the wrong shape, or field errors"));
    }
    let responses = op["responses"]
        .as_object_mut()
        .map(std::mem::take)
        .unwrap_or_default();
    let mut responses: Map<String, Value> = responses;
    for (status, text) in add {
        responses
            .entry(status.to_string())
            .or_insert_with(|| json!({"description": text}));
    }
    for (status, response) in responses.iter_mut() {
        let code: u16 = status.parse().unwrap_or(0);
        if response["description"].as_str().is_none_or(str::is_empty) {
            response["description"] = json!(default_description(code));
        }
        if code >= 400 && response.get("content").is_none() {
            response["content"] = json!({"application/json": {"schema": {"$ref": ERROR_REF}}});
        }
    }
    op["responses"] = Value::Object(responses);
}

fn default_description(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "created",
        202 => "accepted",
        204 => "done; no body",
        302 => "a redirect",
        400 => "bad request",
        401 => "no key, or a key that is not known",
        403 => "forbidden",
        404 => "not found",
        409 => "conflict with the current state",
        410 => "expired",
        413 => "too large",
        415 => "unsupported media type",
        422 => "field errors",
        429 => "rate limited; see Retry-After",
        502 => "the provider failed or answered something unusable",
        503 => "unavailable",
        _ => "see the error code",
    }
}

/// Handlers in different modules share names (`list`, `create`); ids become `tag_name`.
fn unique_operation_ids(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for op in item.values_mut() {
            let Some(id) = op["operationId"].as_str() else {
                continue;
            };
            if id.starts_with("proxy_") {
                continue;
            }
            let tag = op["tags"][0].as_str().unwrap_or("api");
            let full = format!("{tag}_{id}");
            op["operationId"] = json!(full);
        }
    }
}
