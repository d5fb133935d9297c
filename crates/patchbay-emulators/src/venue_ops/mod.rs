//! The venue partner's API: a venue with spaces, bookings, holds and live occupancy,
//! `X-Api-Key` tokens, page-numbered lists and `{"code","detail"}` error bodies.

mod routes;

use crate::faults::Faults;
use crate::{rfc3339, Clock, EmulatorHandle, SignedCallback};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};

#[derive(Debug, Clone)]
pub struct VenueConfig {
    /// The only API token accepted.
    pub api_token: String,
    /// Sent in callbacks built by [`VenueEmulator::booking_event`].
    pub callback_secret: String,
    pub venue_id: String,
    pub venue_name: String,
    pub timezone: String,
    /// Seeded spaces `spc_0001`….
    pub spaces: usize,
    /// Seeded bookings `bkg_000001`…, none cancelled.
    pub bookings: usize,
    pub capacity: u64,
    pub occupied: u64,
    /// Page size when a list request gives no `per_page`.
    pub page_size: usize,
    pub bind: SocketAddr,
}

impl Default for VenueConfig {
    fn default() -> Self {
        VenueConfig {
            api_token: "vo_emulator_token_000000001".into(),
            callback_secret: "emulator-venue-callback-00001".into(),
            venue_id: "ven_Demo01".into(),
            venue_name: "Demo Hall".into(),
            timezone: "Europe/Berlin".into(),
            spaces: 6,
            bookings: 23,
            capacity: 800,
            occupied: 120,
            page_size: 10,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

/// The venue behind a running venue emulator.
pub struct Venue {
    config: VenueConfig,
    data: Mutex<VenueData>,
}

struct VenueData {
    spaces: BTreeMap<String, Value>,
    bookings: BTreeMap<String, Value>,
    holds: BTreeMap<String, Value>,
    occupied: u64,
    capacity: u64,
    next_hold: usize,
    next_event: usize,
    clock: Clock,
}

impl Venue {
    fn data(&self) -> MutexGuard<'_, VenueData> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl VenueData {
    fn seed(config: &VenueConfig) -> Self {
        let mut clock = Clock::new();
        let spaces = (1..=config.spaces)
            .map(|i| {
                let id = format!("spc_{i:04}");
                let s = json!({
                    "id": id,
                    "name": format!("Hall {i}"),
                    "capacity": 40 + (i * 37) % 200,
                    "floor": i % 3,
                    "modified_at": rfc3339(clock.seeded(i)),
                });
                (id, s)
            })
            .collect();
        let day = chrono::DateTime::from_timestamp(1_735_689_600, 0).unwrap_or_default();
        let bookings = (1..=config.bookings)
            .map(|i| {
                let id = format!("bkg_{i:06}");
                let starts = day + chrono::Duration::days(i as i64) + chrono::Duration::hours(9);
                let b = json!({
                    "id": id,
                    "space_id": format!("spc_{:04}", (i - 1) % config.spaces.max(1) + 1),
                    "title": format!("Booking {i}"),
                    "status": if i % 4 == 0 { "tentative" } else { "confirmed" },
                    "starts_at": rfc3339(starts),
                    "ends_at": rfc3339(starts + chrono::Duration::hours(3)),
                    "modified_at": rfc3339(clock.seeded(i)),
                });
                (id, b)
            })
            .collect();
        VenueData {
            spaces,
            bookings,
            holds: BTreeMap::new(),
            occupied: config.occupied,
            capacity: config.capacity,
            next_hold: 1,
            next_event: 1,
            clock,
        }
    }

    fn touch_booking(&mut self, id: &str, change: impl FnOnce(&mut Value)) -> Option<Value> {
        let now = rfc3339(self.clock.tick());
        let booking = self.bookings.get_mut(id)?;
        change(booking);
        booking["modified_at"] = now.into();
        Some(booking.clone())
    }
}

pub type VenueEmulator = EmulatorHandle<Venue>;

/// Starts the emulator on `config.bind`; returns once it accepts connections.
pub async fn spawn(config: VenueConfig) -> std::io::Result<VenueEmulator> {
    let bind = config.bind;
    let venue = std::sync::Arc::new(Venue {
        data: Mutex::new(VenueData::seed(&config)),
        config,
    });
    let faults = Faults::new(routes::error_body);
    let router = routes::router(venue.clone(), faults.clone());
    crate::serve(bind, router, faults, venue).await
}

/// A callback as the partner sends it, carrying `secret` in the shared-secret header.
pub fn callback(secret: &str, event_id: &str, event: &str, booking: &Value) -> SignedCallback {
    SignedCallback::new(
        secret,
        &json!({"event_id": event_id, "event": event, "booking": booking}),
    )
}

impl EmulatorHandle<Venue> {
    pub fn config(&self) -> &VenueConfig {
        &self.state.config
    }

    pub fn booking(&self, id: &str) -> Option<Value> {
        self.state.data().bookings.get(id).cloned()
    }

    pub fn booking_ids(&self) -> Vec<String> {
        self.state.data().bookings.keys().cloned().collect()
    }

    pub fn space_ids(&self) -> Vec<String> {
        self.state.data().spaces.keys().cloned().collect()
    }

    /// Holds currently placed, in id order.
    pub fn holds(&self) -> Vec<Value> {
        self.state.data().holds.values().cloned().collect()
    }

    /// Renames a booking as the venue's staff would; `None` for unknown bookings.
    pub fn update_booking(&self, id: &str, title: &str) -> Option<Value> {
        self.state
            .data()
            .touch_booking(id, |b| b["title"] = title.into())
    }

    /// Cancels a booking; it stays in lists with `"status": "cancelled"`.
    pub fn cancel_booking(&self, id: &str) -> Option<Value> {
        self.state
            .data()
            .touch_booking(id, |b| b["status"] = "cancelled".into())
    }

    pub fn set_occupancy(&self, occupied: u64, capacity: u64) {
        let mut data = self.state.data();
        data.occupied = occupied;
        data.capacity = capacity;
    }

    /// The callback the partner would send about a booking now (`booking.created`,
    /// `booking.updated` or `booking.cancelled`), carrying the configured callback secret.
    pub fn booking_event(&self, event: &str, booking_id: &str) -> Option<SignedCallback> {
        let mut data = self.state.data();
        let booking = data.bookings.get(booking_id)?.clone();
        let event_id = format!("vev_{:06}", data.next_event);
        data.next_event += 1;
        Some(callback(
            &self.state.config.callback_secret,
            &event_id,
            event,
            &booking,
        ))
    }
}
