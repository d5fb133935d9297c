//! The printing partner's API: a shop with products and print orders, Bearer API keys,
//! Stripe-style cursor lists and `{"error":{"type","message"}}` error bodies; order counts
//! per status and service notices for dashboards.

mod routes;

use crate::faults::Faults;
use crate::{rfc3339, Clock, EmulatorHandle, SignedCallback};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};

pub const STATUSES: [&str; 4] = ["draft", "submitted", "printing", "shipped"];

#[derive(Debug, Clone)]
pub struct PrintingConfig {
    /// The only API key accepted.
    pub api_key: String,
    /// Sent in callbacks built by [`PrintingEmulator::order_event`].
    pub callback_secret: String,
    pub shop_id: String,
    pub shop_name: String,
    /// Seeded orders `ord_000001`…; statuses cycle draft, submitted, printing, shipped.
    pub orders: usize,
    /// Seeded products `prd_0001`….
    pub products: usize,
    /// Page size when a list request gives no `limit`.
    pub page_size: usize,
    pub bind: SocketAddr,
}

impl Default for PrintingConfig {
    fn default() -> Self {
        PrintingConfig {
            api_key: "pp_test_emulator_key_0001".into(),
            callback_secret: "emulator-printing-callback-0001".into(),
            shop_id: "demo-shop".into(),
            shop_name: "Demo Print Shop".into(),
            orders: 25,
            products: 5,
            page_size: 10,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

/// The shop behind a running printing partner emulator.
pub struct Shop {
    config: PrintingConfig,
    data: Mutex<ShopData>,
}

struct ShopData {
    orders: BTreeMap<String, Value>,
    products: BTreeMap<String, Value>,
    next_order: usize,
    next_event: usize,
    /// Service notices the shop shows (delays, outages), oldest first.
    notices: Vec<Value>,
    next_notice: usize,
    clock: Clock,
}

impl Shop {
    fn data(&self) -> MutexGuard<'_, ShopData> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ShopData {
    fn seed(config: &PrintingConfig) -> Self {
        let mut clock = Clock::new();
        let products = (1..=config.products)
            .map(|i| {
                let id = format!("prd_{i:04}");
                let p = json!({
                    "id": id,
                    "name": format!("Product {i}"),
                    "unit_price_cents": 50 + 25 * i,
                    "papers": ["a4", "letter"],
                    "updated_at": rfc3339(clock.seeded(i)),
                });
                (id, p)
            })
            .collect();
        let orders = (1..=config.orders)
            .map(|i| {
                let id = format!("ord_{i:06}");
                let o = json!({
                    "id": id,
                    "status": STATUSES[(i - 1) % STATUSES.len()],
                    "product_id": format!("prd_{:04}", (i - 1) % config.products.max(1) + 1),
                    "quantity": 10 * i,
                    "paper": "a4",
                    "updated_at": rfc3339(clock.seeded(i)),
                    "deleted": false,
                });
                (id, o)
            })
            .collect();
        ShopData {
            orders,
            products,
            next_order: config.orders + 1,
            next_event: 1,
            notices: Vec::new(),
            next_notice: 1,
            clock,
        }
    }

    fn new_order(&mut self, product_id: &str, quantity: u64, paper: &str) -> Value {
        let id = format!("ord_{:06}", self.next_order);
        self.next_order += 1;
        let order = json!({
            "id": id,
            "status": "submitted",
            "product_id": product_id,
            "quantity": quantity,
            "paper": paper,
            "updated_at": rfc3339(self.clock.tick()),
            "deleted": false,
        });
        self.orders.insert(id, order.clone());
        order
    }

    /// Applies `change` to a live order and stamps it as updated.
    fn touch(&mut self, id: &str, change: impl FnOnce(&mut Value)) -> Option<Value> {
        let now = rfc3339(self.clock.tick());
        let order = self.orders.get_mut(id).filter(|o| o["deleted"] != true)?;
        change(order);
        order["updated_at"] = now.into();
        Some(order.clone())
    }
}

pub type PrintingEmulator = EmulatorHandle<Shop>;

/// Starts the emulator on `config.bind`; returns once it accepts connections.
pub async fn spawn(config: PrintingConfig) -> std::io::Result<PrintingEmulator> {
    let bind = config.bind;
    let shop = std::sync::Arc::new(Shop {
        data: Mutex::new(ShopData::seed(&config)),
        config,
    });
    let faults = Faults::new(routes::error_body);
    let router = routes::router(shop.clone(), faults.clone());
    crate::serve(bind, router, faults, shop).await
}

/// A callback as the partner sends it, carrying `secret` in the shared-secret header.
pub fn callback(secret: &str, event_id: &str, event_type: &str, order: &Value) -> SignedCallback {
    SignedCallback::new(
        secret,
        &json!({"id": event_id, "type": event_type, "data": {"order": order}}),
    )
}

impl EmulatorHandle<Shop> {
    pub fn config(&self) -> &PrintingConfig {
        &self.state.config
    }

    pub fn order(&self, id: &str) -> Option<Value> {
        self.state.data().orders.get(id).cloned()
    }

    /// Ids of orders that are not deleted, in list order.
    pub fn order_ids(&self) -> Vec<String> {
        let data = self.state.data();
        data.orders
            .iter()
            .filter(|(_, o)| o["deleted"] != true)
            .map(|(id, _)| id.clone())
            .collect()
    }

    pub fn orders_with_status(&self, status: &str) -> Vec<String> {
        let data = self.state.data();
        data.orders
            .iter()
            .filter(|(_, o)| o["deleted"] != true && o["status"] == status)
            .map(|(id, _)| id.clone())
            .collect()
    }

    pub fn product_ids(&self) -> Vec<String> {
        self.state.data().products.keys().cloned().collect()
    }

    /// Sets an order's status as the partner's staff would; `None` for unknown orders.
    pub fn update_order(&self, id: &str, status: &str) -> Option<Value> {
        self.state.data().touch(id, |o| o["status"] = status.into())
    }

    /// Posts a service notice (`info`, `warning` or `critical`); returns its id.
    pub fn post_notice(&self, level: &str, message: &str) -> String {
        let mut data = self.state.data();
        let id = format!("ntc_{:04}", data.next_notice);
        data.next_notice += 1;
        let since = rfc3339(data.clock.tick());
        data.notices
            .push(json!({"id": id, "level": level, "message": message, "since": since}));
        id
    }

    /// Withdraws every service notice.
    pub fn clear_notices(&self) {
        self.state.data().notices.clear();
    }

    /// Deletes an order; it stays in lists as `"deleted": true` so syncs see it go.
    pub fn delete_order(&self, id: &str) -> Option<Value> {
        self.state.data().touch(id, |o| o["deleted"] = true.into())
    }

    /// The callback the partner would send about an order now (`order.updated` or
    /// `order.deleted`), carrying the configured callback secret.
    pub fn order_event(&self, event_type: &str, order_id: &str) -> Option<SignedCallback> {
        let mut data = self.state.data();
        let order = data.orders.get(order_id)?.clone();
        let event_id = format!("evt_{:06}", data.next_event);
        data.next_event += 1;
        Some(callback(
            &self.state.config.callback_secret,
            &event_id,
            event_type,
            &order,
        ))
    }
}
