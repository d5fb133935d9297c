//! HTTP routes of the printing partner emulator.

use super::Shop;
use crate::faults::{self, Faults};
use crate::paging::{cursor_page, int_param, time_param, Params};
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;

type App = State<Arc<Shop>>;
type Answer = Result<Response, ApiError>;

/// An error answer in the partner's format.
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(error_body(self.0, &self.1))).into_response()
    }
}

pub fn error_body(status: StatusCode, message: &str) -> Value {
    let kind = match status.as_u16() {
        401 | 403 => "authentication_error",
        429 => "rate_limit_error",
        500.. => "api_error",
        _ => "invalid_request_error",
    };
    json!({"error": {"type": kind, "message": message}})
}

fn error(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError(status, message.into())
}

fn not_found(what: &str, id: &str) -> ApiError {
    error(StatusCode::NOT_FOUND, format!("No such {what}: '{id}'"))
}

pub fn router(shop: Arc<Shop>, faults: Arc<Faults>) -> Router {
    Router::new()
        .route("/v1/shops/{shop_id}", get(get_shop))
        .route(
            "/v1/shops/{shop_id}/orders",
            get(list_orders).post(create_order),
        )
        .route("/v1/shops/{shop_id}/orders/{id}", get(get_order))
        .route("/v1/shops/{shop_id}/orders/{id}/cancel", post(cancel_order))
        .route("/v1/shops/{shop_id}/products", get(list_products))
        .route("/v1/shops/{shop_id}/stats", get(stats))
        .route("/v1/shops/{shop_id}/notices", get(notices))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "Unrecognized request URL") })
        .with_state(shop.clone())
        .layer(from_fn_with_state(shop, authenticate))
        .layer(from_fn_with_state(faults, faults::apply))
}

async fn authenticate(State(shop): App, req: Request, next: Next) -> Response {
    let expected = format!("Bearer {}", shop.config.api_key);
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    match given {
        Some(g) if g == expected.as_bytes() => next.run(req).await,
        Some(_) => error(StatusCode::UNAUTHORIZED, "Invalid API key provided").into_response(),
        None => error(StatusCode::UNAUTHORIZED, "No API key provided").into_response(),
    }
}

fn check_shop(shop: &Shop, shop_id: &str) -> Result<(), ApiError> {
    if shop_id == shop.config.shop_id {
        Ok(())
    } else {
        Err(not_found("shop", shop_id))
    }
}

async fn get_shop(State(shop): App, Path(shop_id): Path<String>) -> Answer {
    check_shop(&shop, &shop_id)?;
    let c = &shop.config;
    Ok(Json(json!({"id": c.shop_id, "name": c.shop_name, "status": "active"})).into_response())
}

fn list(
    shop: &Shop,
    q: &Params,
    items: Vec<(String, Value)>,
    known: impl Fn(&str) -> bool,
) -> Answer {
    let bad = |m: String| error(StatusCode::BAD_REQUEST, m);
    let limit = int_param(q, "limit", shop.config.page_size, 100).map_err(bad)?;
    let since = time_param(q, "updated_since").map_err(bad)?;
    let after = q.get("starting_after").map(String::as_str);
    if let Some(a) = after.filter(|a| !known(a)) {
        return Err(bad(format!("starting_after: no such object '{a}'")));
    }
    let items = items
        .into_iter()
        .filter(|(_, v)| {
            let updated = v["updated_at"].as_str().and_then(|t| t.parse().ok());
            since.is_none_or(|s| updated.is_some_and(|u: chrono::DateTime<chrono::Utc>| u > s))
        })
        .collect();
    let (data, has_more) = cursor_page(items, limit, after);
    Ok(Json(json!({"object": "list", "data": data, "has_more": has_more})).into_response())
}

async fn list_orders(
    State(shop): App,
    Path(shop_id): Path<String>,
    Query(q): Query<Params>,
) -> Answer {
    check_shop(&shop, &shop_id)?;
    let data = shop.data();
    let items = data
        .orders
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    list(&shop, &q, items, |id| data.orders.contains_key(id))
}

async fn list_products(
    State(shop): App,
    Path(shop_id): Path<String>,
    Query(q): Query<Params>,
) -> Answer {
    check_shop(&shop, &shop_id)?;
    let data = shop.data();
    let items = data
        .products
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    list(&shop, &q, items, |id| data.products.contains_key(id))
}

/// Live orders counted per status.
async fn stats(State(shop): App, Path(shop_id): Path<String>) -> Answer {
    check_shop(&shop, &shop_id)?;
    let data = shop.data();
    let mut counts = serde_json::Map::new();
    for order in data.orders.values().filter(|o| o["deleted"] != true) {
        let status = order["status"].as_str().unwrap_or("unknown").to_string();
        let n = counts.get(&status).and_then(Value::as_u64).unwrap_or(0);
        counts.insert(status, json!(n + 1));
    }
    Ok(Json(json!({"object": "stats", "orders_by_status": counts})).into_response())
}

async fn notices(State(shop): App, Path(shop_id): Path<String>) -> Answer {
    check_shop(&shop, &shop_id)?;
    let data = shop.data();
    Ok(Json(json!({"object": "list", "data": data.notices, "has_more": false})).into_response())
}

async fn get_order(State(shop): App, Path((shop_id, id)): Path<(String, String)>) -> Answer {
    check_shop(&shop, &shop_id)?;
    match shop.data().orders.get(&id).filter(|o| o["deleted"] != true) {
        Some(order) => Ok(Json(order.clone()).into_response()),
        None => Err(not_found("order", &id)),
    }
}

async fn create_order(State(shop): App, Path(shop_id): Path<String>, body: Bytes) -> Answer {
    check_shop(&shop, &shop_id)?;
    let bad = |m: &str| error(StatusCode::BAD_REQUEST, m);
    let input: Value = serde_json::from_slice(&body).map_err(|_| bad("Invalid JSON body"))?;
    let product_id = input["product_id"]
        .as_str()
        .ok_or_else(|| bad("Missing required param: product_id"))?;
    let quantity = input["quantity"]
        .as_u64()
        .filter(|q| (1..=10_000).contains(q))
        .ok_or_else(|| bad("quantity must be an integer between 1 and 10000"))?;
    let paper = match input.get("paper") {
        None | Some(Value::Null) => "a4",
        Some(p) => p
            .as_str()
            .filter(|p| ["a4", "letter"].contains(p))
            .ok_or_else(|| bad("paper must be a4 or letter"))?,
    };
    let mut data = shop.data();
    if !data.products.contains_key(product_id) {
        return Err(bad(&format!("No such product: '{product_id}'")));
    }
    let order = data.new_order(product_id, quantity, paper);
    Ok((StatusCode::CREATED, Json(order)).into_response())
}

async fn cancel_order(State(shop): App, Path((shop_id, id)): Path<(String, String)>) -> Answer {
    check_shop(&shop, &shop_id)?;
    let mut data = shop.data();
    let status = match data.orders.get(&id).filter(|o| o["deleted"] != true) {
        None => return Err(not_found("order", &id)),
        Some(o) => o["status"].as_str().unwrap_or_default().to_string(),
    };
    let order = match status.as_str() {
        "shipped" => {
            return Err(error(
                StatusCode::CONFLICT,
                format!("Order '{id}' has already shipped and cannot be cancelled"),
            ))
        }
        "cancelled" => data.orders[&id].clone(),
        _ => data
            .touch(&id, |o| o["status"] = "cancelled".into())
            .unwrap_or_default(),
    };
    Ok(Json(order).into_response())
}
