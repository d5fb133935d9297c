//! Derived records (a message's people, invites and action items) merged into their own
//! entities inside the transaction of the page they come from. `Tally` records count each
//! source once, by a row per (record, source) in `context_sources`, so re-syncs and pages
//! read twice never count a message again.

use patchbay_core::{DerivedRecord, Merge};
use serde_json::{Map, Value};

/// The content hash of a record: XXH3-128 over its canonical JSON (keys sorted), streamed so
/// no text is built for records that turn out unchanged. Change detection needs speed and a
/// negligible accidental-collision rate, not resistance to an adversary: the provider's own
/// data is what is hashed.
pub fn record_hash(data: &Value) -> String {
    struct Hasher(xxhash_rust::xxh3::Xxh3);
    impl std::io::Write for Hasher {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut h = Hasher(xxhash_rust::xxh3::Xxh3::new());
    let _ = serde_json::to_writer(&mut h, data);
    format!("{:032x}", h.0.digest128())
}

fn at(v: &Value, field: &str) -> Option<String> {
    v.get(field).and_then(Value::as_str).map(str::to_string)
}

/// Folds `writes` (already known to be new for `Tally`) into `stored`; `None` when a `Newest`
/// write lost to what is stored.
pub fn merge(stored: Option<&Value>, writes: &[&DerivedRecord]) -> Option<Value> {
    let mut current = stored.cloned();
    let mut touched = false;
    for w in writes {
        match w.merge {
            Merge::Replace => {
                current = Some(w.data.clone());
                touched = true;
            }
            Merge::Newest => {
                let keep = current
                    .as_ref()
                    .and_then(|c| at(c, "rank"))
                    .is_none_or(|rank| at(&w.data, "rank").is_some_and(|new| new >= rank));
                if keep {
                    current = Some(w.data.clone());
                    touched = true;
                }
            }
            Merge::Tally => {
                let mut out: Map<String, Value> = match current.take() {
                    Some(Value::Object(o)) => o,
                    _ => Map::new(),
                };
                let when = at(&w.data, "at");
                let count = out.get("count").and_then(Value::as_i64).unwrap_or(0) + 1;
                let first = [at(&Value::Object(out.clone()), "first_seen"), when.clone()]
                    .into_iter()
                    .flatten()
                    .min();
                let last = at(&Value::Object(out.clone()), "last_seen");
                let latest = match (&last, &when) {
                    (Some(l), Some(w)) => w >= l,
                    _ => true,
                };
                if let Value::Object(fields) = &w.data {
                    for (k, v) in fields {
                        let fill = !out.contains_key(k) || out[k].is_null();
                        if k != "at" && !v.is_null() && (latest || fill) {
                            out.insert(k.clone(), v.clone());
                        }
                    }
                }
                out.insert("count".into(), count.into());
                out.insert("first_seen".into(), first.into());
                out.insert(
                    "last_seen".into(),
                    [last, when].into_iter().flatten().max().into(),
                );
                current = Some(Value::Object(out));
                touched = true;
            }
        }
    }
    touched.then_some(current).flatten()
}

/// Writes `c.derived` inside the page's transaction with three statements whatever the page
/// holds: record the Tally sources (only the new ones come back), read the stored records the
/// writes touch, upsert what changed. Then one `records.changed` event per derived entity.
/// `$sources`, `$stored` and `$upsert` are the backend's forms of those statements.
macro_rules! write_derived {
    ($tx:expr, $c:expr, $now:expr, $sources:ident, $stored:ident, $upsert:ident) => {{
        let c: &PageCommit = $c;
        let mut groups: std::collections::BTreeMap<(&str, &str), Vec<&patchbay_core::DerivedRecord>> =
            std::collections::BTreeMap::new();
        for d in &c.derived {
            groups.entry((d.entity.as_str(), d.id.as_str())).or_default().push(d);
        }
        let tallies: Vec<(&str, &str, &str)> = c
            .derived
            .iter()
            .filter(|d| d.merge == patchbay_core::Merge::Tally)
            .map(|d| (d.entity.as_str(), d.id.as_str(), d.source_id.as_str()))
            .collect();
        let mut new_sources: std::collections::HashSet<(String, String, String)> = if tallies.is_empty() {
            Default::default()
        } else {
            $sources!($tx, c, &tallies).into_iter().collect()
        };
        let mut touched: Vec<((&str, &str), Vec<&patchbay_core::DerivedRecord>)> = Vec::with_capacity(groups.len());
        for (key, writes) in groups {
            let fresh: Vec<&patchbay_core::DerivedRecord> = writes
                .into_iter()
                .filter(|w| {
                    w.merge != patchbay_core::Merge::Tally
                        || new_sources.remove(&(w.entity.clone(), w.id.clone(), w.source_id.clone()))
                })
                .collect();
            if !fresh.is_empty() {
                touched.push((key, fresh));
            }
        }
        if !touched.is_empty() {
            let keys: Vec<(&str, &str)> = touched.iter().map(|(k, _)| *k).collect();
            let stored: std::collections::HashMap<(String, String), (String, bool)> = $stored!($tx, c, &keys)
                .into_iter()
                .map(|(e, i, d, del)| ((e, i), (d, del)))
                .collect();
            let mut writes: Vec<(&str, &str, String, String)> = Vec::with_capacity(touched.len());
            let mut changes: std::collections::BTreeMap<&str, (i64, i64, Vec<&str>)> =
                std::collections::BTreeMap::new();
            for ((entity, id), fresh) in &touched {
                let row = stored.get(&(entity.to_string(), id.to_string()));
                let existed = row.is_some_and(|(_, deleted)| !deleted);
                let current: Option<serde_json::Value> = row
                    .filter(|(_, deleted)| !deleted)
                    .and_then(|(d, _)| serde_json::from_str(d).ok());
                let Some(merged) = crate::context::merge(current.as_ref(), fresh) else {
                    continue;
                };
                if current.as_ref() == Some(&merged) {
                    continue;
                }
                let hash = crate::context::record_hash(&merged);
                writes.push((entity, id, merged.to_string(), hash));
                let entry = changes.entry(entity).or_default();
                if existed {
                    entry.1 += 1;
                } else {
                    entry.0 += 1;
                }
                entry.2.push(id);
            }
            if !writes.is_empty() {
                $upsert!($tx, c, &writes, $now);
            }
            for (entity, (added, updated, ids)) in changes {
                let ids: Vec<&str> = ids.into_iter().take(100).collect();
                let event = EventRow {
                    id: ids::new_id(ids::IdKind::Event),
                    workspace_id: c.workspace_id.clone(),
                    event_type: "records.changed".into(),
                    connection_id: Some(c.connection_id.clone()),
                    payload: serde_json::json!({
                        "connection_id": c.connection_id, "entity": entity,
                        "sync_run_id": (!c.run_id.is_empty()).then_some(&c.run_id),
                        "added": added, "updated": updated, "deleted": 0, "ids": ids,
                        "derived_from": c.entity,
                    })
                    .to_string(),
                    created_at: now_ms(),
                };
                insert_event!(&mut *$tx, &event);
            }
        }
    }};
}

// The three statements by backend: PostgreSQL takes arrays, SQLite one JSON array.
macro_rules! pg_derived_sources {
    ($tx:expr, $c:expr, $rows:expr) => {{
        let rows: &Vec<(&str, &str, &str)> = $rows;
        let e: Vec<&str> = rows.iter().map(|r| r.0).collect();
        let i: Vec<&str> = rows.iter().map(|r| r.1).collect();
        let s: Vec<&str> = rows.iter().map(|r| r.2).collect();
        sqlx::query_as::<_, (String, String, String)>(
            "INSERT INTO context_sources (connection_id, entity, id, source_id) \
             SELECT $1, u.e, u.i, u.s FROM UNNEST($2::text[], $3::text[], $4::text[]) AS u(e, i, s) \
             ON CONFLICT DO NOTHING RETURNING entity, id, source_id")
            .bind(&$c.connection_id)
            .bind(&e)
            .bind(&i)
            .bind(&s)
            .fetch_all(&mut *$tx)
            .await?
    }};
}
macro_rules! lite_derived_sources {
    ($tx:expr, $c:expr, $rows:expr) => {{
        let rows: &Vec<(&str, &str, &str)> = $rows;
        let json = serde_json::to_string(rows).unwrap_or_else(|_| "[]".into());
        sqlx::query_as::<_, (String, String, String)>(
            "INSERT INTO context_sources (connection_id, entity, id, source_id) \
             SELECT $1, j.value ->> 0, j.value ->> 1, j.value ->> 2 FROM json_each($2) AS j WHERE true \
             ON CONFLICT DO NOTHING RETURNING entity, id, source_id")
            .bind(&$c.connection_id)
            .bind(json)
            .fetch_all(&mut *$tx)
            .await?
    }};
}
macro_rules! pg_derived_stored {
    ($tx:expr, $c:expr, $keys:expr) => {{
        let keys: &Vec<(&str, &str)> = $keys;
        let e: Vec<&str> = keys.iter().map(|k| k.0).collect();
        let i: Vec<&str> = keys.iter().map(|k| k.1).collect();
        sqlx::query_as::<_, (String, String, String, bool)>(
            "SELECT r.entity, r.id, r.data, r.deleted FROM UNNEST($2::text[], $3::text[]) AS u(e, i) \
             JOIN records r ON r.connection_id = $1 AND r.entity = u.e AND r.id = u.i")
            .bind(&$c.connection_id)
            .bind(&e)
            .bind(&i)
            .fetch_all(&mut *$tx)
            .await?
    }};
}
macro_rules! lite_derived_stored {
    ($tx:expr, $c:expr, $keys:expr) => {{
        let keys: &Vec<(&str, &str)> = $keys;
        let json = serde_json::to_string(keys).unwrap_or_else(|_| "[]".into());
        sqlx::query_as::<_, (String, String, String, bool)>(
            // CROSS JOIN keeps the key list outside: SQLite would otherwise walk the
            // connection's records and scan the list for each.
            "SELECT r.entity, r.id, r.data, r.deleted FROM json_each($2) AS j \
             CROSS JOIN records r ON r.connection_id = $1 AND r.entity = j.value ->> 0 AND r.id = j.value ->> 1")
            .bind(&$c.connection_id)
            .bind(json)
            .fetch_all(&mut *$tx)
            .await?
    }};
}
macro_rules! pg_derived_upsert {
    ($tx:expr, $c:expr, $rows:expr, $now:expr) => {{
        let rows: &Vec<(&str, &str, String, String)> = $rows;
        let e: Vec<&str> = rows.iter().map(|r| r.0).collect();
        let i: Vec<&str> = rows.iter().map(|r| r.1).collect();
        let d: Vec<&str> = rows.iter().map(|r| r.2.as_str()).collect();
        let h: Vec<&str> = rows.iter().map(|r| r.3.as_str()).collect();
        sqlx::query("INSERT INTO records (connection_id, entity, id, workspace_id, data, hash, deleted, created_at, updated_at) \
            SELECT $1, u.e, u.i, $2, u.d, u.h, FALSE, $3, $3 FROM UNNEST($4::text[], $5::text[], $6::text[], $7::text[]) AS u(e, i, d, h) \
            ON CONFLICT (connection_id, entity, id) DO UPDATE SET data = excluded.data, hash = excluded.hash, deleted = FALSE, updated_at = excluded.updated_at")
            .bind(&$c.connection_id)
            .bind(&$c.workspace_id)
            .bind($now)
            .bind(&e)
            .bind(&i)
            .bind(&d)
            .bind(&h)
            .execute(&mut *$tx)
            .await?;
    }};
}
macro_rules! lite_derived_upsert {
    ($tx:expr, $c:expr, $rows:expr, $now:expr) => {{
        let rows: &Vec<(&str, &str, String, String)> = $rows;
        let mut json = String::with_capacity(rows.len() * 256);
        json.push('[');
        for (n, (e, i, d, h)) in rows.iter().enumerate() {
            if n > 0 {
                json.push(',');
            }
            let _ = write!(json, "{{\"e\":{},\"i\":{},\"h\":\"{}\",\"d\":{}}}",
                serde_json::to_string(e).unwrap_or_default(), serde_json::to_string(i).unwrap_or_default(), h, d);
        }
        json.push(']');
        sqlx::query("INSERT INTO records (connection_id, entity, id, workspace_id, data, hash, deleted, created_at, updated_at) \
            SELECT $1, j.value ->> '$.e', j.value ->> '$.i', $2, j.value -> '$.d', j.value ->> '$.h', FALSE, $3, $3 FROM json_each($4) AS j WHERE true \
            ON CONFLICT (connection_id, entity, id) DO UPDATE SET data = excluded.data, hash = excluded.hash, deleted = FALSE, updated_at = excluded.updated_at")
            .bind(&$c.connection_id)
            .bind(&$c.workspace_id)
            .bind($now)
            .bind(json)
            .execute(&mut *$tx)
            .await?;
    }};
}
pub(crate) use write_derived;
pub(crate) use {
    lite_derived_sources, lite_derived_stored, lite_derived_upsert, pg_derived_sources,
    pg_derived_stored, pg_derived_upsert,
};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn d(merge: Merge, data: Value) -> DerivedRecord {
        DerivedRecord {
            entity: "people".into(),
            id: "zoe@example.com".into(),
            source_id: "m".into(),
            merge,
            data,
        }
    }

    #[test]
    fn tallies_newest_and_replace() {
        let a = d(
            Merge::Tally,
            json!({"address": "zoe@example.com", "name": "Zoë", "last_subject": "Q3", "at": "2026-12-02T10:00:00Z"}),
        );
        let b = d(
            Merge::Tally,
            json!({"address": "zoe@example.com", "name": null, "last_subject": "Old", "at": "2026-11-01T10:00:00Z"}),
        );
        let once = merge(None, &[&a]).unwrap();
        let twice = merge(Some(&once), &[&b]).unwrap();
        assert_eq!(twice["count"], 2);
        assert_eq!(twice["first_seen"], "2026-11-01T10:00:00Z");
        assert_eq!(twice["last_seen"], "2026-12-02T10:00:00Z");
        // The older message does not take the subject; its missing name takes nothing.
        assert_eq!(twice["last_subject"], "Q3");
        assert_eq!(twice["name"], "Zoë");
        let req = d(
            Merge::Newest,
            json!({"status": "confirmed", "rank": "0000000000|0|2026-11-20"}),
        );
        let cancel = d(
            Merge::Newest,
            json!({"status": "cancelled", "rank": "0000000001|1|2026-11-25"}),
        );
        let stored = merge(None, &[&cancel]).unwrap();
        // The request arriving after its cancellation loses.
        assert!(merge(Some(&stored), &[&req]).is_none());
        assert_eq!(
            merge(None, &[&req, &cancel]).unwrap()["status"],
            "cancelled"
        );
        let r = d(Merge::Replace, json!({"x": 1}));
        assert_eq!(
            merge(Some(&json!({"x": 0})), &[&r]).unwrap(),
            json!({"x": 1})
        );
    }
}
