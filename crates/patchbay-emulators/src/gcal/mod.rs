//! Google Calendar API v3 (`/calendar/v3/…`) for one account: the calendar list, calendars,
//! events (list with time windows, search, expansion of recurring events, paging and
//! incremental sync; get, insert with Meet creation, update, patch, delete, instances,
//! quickAdd), free/busy, and push channels (`events.watch`, `channels.stop`).
//!
//! Recurring events are read with the `rrule` crate in the event's IANA zone (`chrono-tz`),
//! honouring `EXDATE` and `RDATE`, so an instance keeps its wall-clock time across DST
//! changes. An instance has the id `{seriesId}_{YYYYMMDDTHHMMSSZ}` (`{seriesId}_{YYYYMMDD}`
//! for all-day series); writing or deleting one stores an exception under that id, with
//! `recurringEventId` and `originalStartTime`. Deleting marks an event `cancelled`, so it
//! stays visible with `showDeleted` and in incremental sync.
//!
//! Every write takes the next change number; a sync token names the number it was issued
//! at, and [`GcalEmulator::expire_sync_tokens`] makes every earlier token answer 410
//! `fullSyncRequired`. Bearer tokens, quota faults as Calendar sends them, request counting
//! and Google's error shape come from the crate's `google` module; `routes.rs` adds
//! Calendar's wording and errors.
//!
//! `seed_demo` adds a realistic week around `now` (`demo.rs`); `generated` adds synthetic
//! events for benchmarks (`synth.rs`).

mod calendars;
mod demo;
mod event;
mod events;
mod freebusy;
mod list;
mod push;
mod quickadd;
mod recur;
mod request;
mod routes;
mod store;
mod synth;
mod time;

use crate::faults::Faults;
use crate::google::errors::QuotaFault;
use crate::google::{self, Gate};
use crate::{lock, EmulatorHandle};
use axum::http::StatusCode;
use push::{Announce, Push};
pub use push::{Channel, Notification};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use store::{CalendarData, Store, Write};

#[derive(Debug, Clone)]
pub struct GcalConfig {
    /// The account's address: the primary calendar's id.
    pub email: String,
    pub name: String,
    /// The primary calendar's IANA time zone.
    pub time_zone: String,
    /// Access tokens accepted from the start; [`GcalEmulator::add_token`] adds more.
    pub tokens: Vec<String>,
    /// Seeds the demo calendars (see `demo.rs`).
    pub seed_demo: bool,
    /// Seeds this many synthetic events on the primary calendar besides.
    pub generated: usize,
    /// The emulator's "now": seeded events are placed around it, quickAdd reads "today" and
    /// "tomorrow" from it. Real time when `None`.
    pub now: Option<chrono::DateTime<chrono::Utc>>,
    pub bind: SocketAddr,
}

impl Default for GcalConfig {
    fn default() -> Self {
        GcalConfig {
            email: "ada@example.com".into(),
            name: "Ada Lovelace".into(),
            time_zone: "Europe/Berlin".into(),
            tokens: vec!["gcal-emulator-token-0001".into()],
            seed_demo: false,
            generated: 0,
            now: None,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

pub use crate::tokens::TokenCheck;

/// The calendars behind a running Calendar emulator.
pub struct Calendars {
    config: GcalConfig,
    store: Mutex<Store>,
    gate: Gate,
    push: Arc<Push>,
}

impl Calendars {
    fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }
}

pub type GcalEmulator = EmulatorHandle<Calendars>;

/// Starts the emulator on `config.bind`; returns once it accepts connections.
pub async fn spawn(config: GcalConfig) -> std::io::Result<GcalEmulator> {
    let bind = config.bind;
    let anchor = config.now.unwrap_or_else(chrono::Utc::now);
    let mut store = Store {
        email: config.email.clone(),
        name: config.name.clone(),
        calendars: BTreeMap::new(),
        change: 0,
        generation: 1,
        clock: crate::Clock::new(),
        fixed_now: config.now,
        outbox: None,
    };
    let zone = config.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let primary = CalendarData {
        id: config.email.clone(),
        summary: config.email.clone(),
        description: None,
        time_zone: config.time_zone.clone(),
        zone,
        primary: true,
        color_id: "14".into(),
        background_color: "#9fe1e7".into(),
        foreground_color: "#000000".into(),
        deleted: false,
        changed: 0,
        events: BTreeMap::new(),
    };
    store.calendars.insert(primary.id.clone(), primary);
    if config.seed_demo {
        demo::seed(&mut store, anchor);
    }
    synth::seed(&mut store, config.generated, anchor);
    let push = Arc::new(Push::default());
    store.outbox = Some(push::start(push.clone()));
    let calendars = Arc::new(Calendars {
        gate: Gate::new(&config.tokens),
        config,
        store: Mutex::new(store),
        push,
    });
    let faults = Faults::new(google::errors::fault_body::<Calendars>);
    let router = routes::router(calendars.clone(), faults.clone());
    crate::serve(bind, router, faults, calendars).await
}

impl EmulatorHandle<Calendars> {
    pub fn config(&self) -> &GcalConfig {
        &self.state.config
    }

    /// Answers the next `n` authenticated requests with 403 `rateLimitExceeded`, Calendar's
    /// answer when the project's quota runs out.
    pub fn rate_limit_next_403_project(&self, n: u32) {
        self.arm_quota_fault(QuotaFault::ProjectLimit, n);
    }

    /// Makes every sync token issued so far answer 410 `fullSyncRequired`.
    pub fn expire_sync_tokens(&self) {
        self.state.store().generation += 1;
    }

    /// Calendar ids, the primary (the account's address) among them.
    pub fn calendar_ids(&self) -> Vec<String> {
        let store = self.state.store();
        let live = store.calendars.values().filter(|c| !c.deleted);
        live.map(|c| c.id.clone()).collect()
    }

    /// Adds a secondary calendar to the account; returns its id.
    pub fn add_calendar(&self, summary: &str, time_zone: &str) -> String {
        let mut store = self.state.store();
        let color = store.calendars.len();
        store.add_calendar(summary, time_zone, color)
    }

    /// Removes a secondary calendar: its channels get `not_exists` and close, and the
    /// calendar list reports it `deleted`. `false` for unknown or primary calendars.
    pub fn remove_calendar(&self, id: &str) -> bool {
        let mut store = self.state.store();
        let (change, _) = store.next_change();
        let Some(calendar) = store
            .calendars
            .get_mut(id)
            .filter(|c| !c.primary && !c.deleted)
        else {
            return false;
        };
        calendar.deleted = true;
        calendar.changed = change;
        if let Some(outbox) = &store.outbox {
            let _ = outbox.send(Announce::Removed(id.to_string()));
        }
        true
    }

    /// Inserts an event as `events.insert` would (with `conferenceDataVersion=1`) and
    /// returns its id. Panics on what the route answers 4xx to.
    pub fn insert_event(&self, calendar_id: &str, event: Value) -> String {
        let inserted = self.state.store().insert(calendar_id, event, true);
        inserted
            .unwrap_or_else(|e| panic!("insert_event: {}", e.message))
            .id
    }

    /// Patches an event, a series or an instance as `events.patch` would; `false` when the
    /// event is unknown. Panics on an invalid patch.
    pub fn update_event(&self, calendar_id: &str, event_id: &str, patch: Value) -> bool {
        let written = self
            .state
            .store()
            .write(calendar_id, event_id, patch, Write::Patch, true);
        match written {
            Ok(_) => true,
            Err(e) if e.status == StatusCode::NOT_FOUND => false,
            Err(e) => panic!("update_event: {}", e.message),
        }
    }

    /// Cancels an event, series or instance as `events.delete` would; `false` when unknown
    /// or already cancelled.
    pub fn delete_event(&self, calendar_id: &str, event_id: &str) -> bool {
        self.state.store().delete(calendar_id, event_id).is_ok()
    }

    /// An event or instance as `events.get` renders it.
    pub fn event(&self, calendar_id: &str, event_id: &str) -> Option<Value> {
        let store = self.state.store();
        store.find(calendar_id, event_id).ok().map(|e| e.render())
    }

    /// The id of the first stored event (by id) whose summary is `summary`.
    pub fn event_id_by_summary(&self, calendar_id: &str, summary: &str) -> Option<String> {
        let store = self.state.store();
        let calendar = store.calendar(calendar_id).ok()?;
        let found = calendar
            .events
            .values()
            .find(|e| e.summary.as_deref() == Some(summary));
        found.map(|e| e.id.clone())
    }

    /// Stored events of a calendar (series, single events and exceptions), cancelled ones
    /// included.
    pub fn event_count(&self, calendar_id: &str) -> usize {
        let store = self.state.store();
        store.calendar(calendar_id).map_or(0, |c| c.events.len())
    }
}
