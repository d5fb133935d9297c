//! A generic paginated record source: any JSON API that lists many records with an opaque
//! cursor and an `updated_since` filter. Built for syncs of a million records, it keeps only
//! a version, a timestamp and a deleted flag per record and writes each record's JSON on the
//! fly from (index, version).

mod render;
mod routes;

use crate::faults::Faults;
use crate::{Clock, EmulatorHandle};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

pub use render::record_id;

#[derive(Debug, Clone)]
pub struct RecordsConfig {
    /// Records seeded at start, `rec_0000000`…; ids sort in index order below 10,000,000.
    pub count: usize,
    /// Approximate length of each record's JSON.
    pub record_bytes: usize,
    /// Page size when a request gives no `limit`.
    pub default_page_size: usize,
    /// Largest `limit` accepted.
    pub max_page_size: usize,
    /// The only key accepted, as `Authorization: Bearer <api_key>`.
    pub api_key: String,
    pub bind: SocketAddr,
}

impl Default for RecordsConfig {
    fn default() -> Self {
        RecordsConfig {
            count: 100,
            record_bytes: 1024,
            default_page_size: 100,
            max_page_size: 5000,
            api_key: "rs_test_key_0123456789".into(),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

/// The records behind a running record source emulator.
pub struct RecordSource {
    config: RecordsConfig,
    table: RwLock<Table>,
}

/// Per-record state in parallel vectors, indexed by record number.
struct Table {
    version: Vec<u32>,
    updated_ms: Vec<i64>,
    deleted: Vec<bool>,
    live: usize,
    clock: Clock,
}

impl RecordSource {
    fn read(&self) -> RwLockReadGuard<'_, Table> {
        self.table.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Table> {
        self.table.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl Table {
    fn seed(count: usize) -> Self {
        let mut clock = Clock::new();
        let updated_ms = (0..count)
            .map(|i| clock.seeded(i).timestamp_millis())
            .collect();
        Table {
            version: vec![1; count],
            updated_ms,
            deleted: vec![false; count],
            live: count,
            clock,
        }
    }

    fn len(&self) -> usize {
        self.version.len()
    }

    fn is_live(&self, index: usize) -> bool {
        index < self.len() && !self.deleted[index]
    }

    fn tick(&mut self) -> i64 {
        self.clock.tick().timestamp_millis()
    }
}

pub type RecordsEmulator = EmulatorHandle<RecordSource>;

/// Starts the emulator on `config.bind`; returns once it accepts connections.
pub async fn spawn(config: RecordsConfig) -> std::io::Result<RecordsEmulator> {
    let bind = config.bind;
    let source = Arc::new(RecordSource {
        table: RwLock::new(Table::seed(config.count)),
        config,
    });
    let faults = Faults::new(routes::error_body);
    let router = routes::router(source.clone(), faults.clone());
    crate::serve(bind, router, faults, source).await
}

impl EmulatorHandle<RecordSource> {
    pub fn config(&self) -> &RecordsConfig {
        &self.state.config
    }

    /// Records not deleted.
    pub fn live_count(&self) -> usize {
        self.state.read().live
    }

    /// Ids of the records not deleted, sorted.
    pub fn live_ids(&self) -> Vec<String> {
        let table = self.state.read();
        let mut ids: Vec<String> = (0..table.len())
            .filter(|&i| !table.deleted[i])
            .map(record_id)
            .collect();
        // Already sorted below 10,000,000 records; sorting a sorted list is linear.
        ids.sort_unstable();
        ids
    }

    /// The JSON the API currently serves for the record at `index`; `Null` when there is no
    /// live record there.
    pub fn record_json(&self, index: usize) -> Value {
        let table = self.state.read();
        if !table.is_live(index) {
            return Value::Null;
        }
        let mut out = String::with_capacity(self.state.config.record_bytes + 64);
        render::write_record(
            &mut out,
            index,
            table.version[index],
            table.updated_ms[index],
            self.state.config.record_bytes,
        );
        serde_json::from_str(&out).unwrap_or_default()
    }

    /// Bumps the version of each live record in `indices` and stamps them all with one time
    /// later than any before; deleted or unknown indices are skipped.
    pub fn change(&self, indices: &[usize]) {
        let mut table = self.state.write();
        let now = table.tick();
        for &i in indices {
            if table.is_live(i) {
                table.version[i] += 1;
                table.updated_ms[i] = now;
            }
        }
    }

    /// Changes about `fraction` of the live records, spread evenly over the id range, and
    /// returns how many. The same fraction picks the same records each time.
    pub fn change_fraction(&self, fraction: f64) -> usize {
        let fraction = fraction.clamp(0.0, 1.0);
        let picked: Vec<usize> = {
            let table = self.state.read();
            let live = (0..table.len()).filter(|&i| !table.deleted[i]);
            // The n-th live record is picked when the running share crosses a whole number.
            live.enumerate()
                .filter(|&(n, _)| {
                    ((n + 1) as f64 * fraction).floor() > (n as f64 * fraction).floor()
                })
                .map(|(_, i)| i)
                .collect()
        };
        self.change(&picked);
        picked.len()
    }

    /// Deletes the live records in `indices`; incremental listings report them as deleted.
    pub fn delete(&self, indices: &[usize]) {
        let mut table = self.state.write();
        let now = table.tick();
        for &i in indices {
            if table.is_live(i) {
                table.deleted[i] = true;
                table.updated_ms[i] = now;
                table.live -= 1;
            }
        }
    }

    /// Appends `n` new records and returns their ids.
    pub fn add(&self, n: usize) -> Vec<String> {
        let mut table = self.state.write();
        let now = table.tick();
        let first = table.len();
        table.version.resize(first + n, 1);
        table.updated_ms.resize(first + n, now);
        table.deleted.resize(first + n, false);
        table.live += n;
        (first..first + n).map(record_id).collect()
    }

    /// Requests received so far, including those answered with a fault.
    pub fn requests(&self) -> u64 {
        self.request_count()
    }
}
