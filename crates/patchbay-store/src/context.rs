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

/// Writes `c.derived` inside the page's transaction: counts each Tally source once, merges,
/// upserts what changed and records one `records.changed` event per derived entity.
macro_rules! write_derived {
    ($tx:expr, $c:expr, $now:expr) => {{
        let c: &PageCommit = $c;
        let mut groups: std::collections::BTreeMap<(&str, &str), Vec<&patchbay_core::DerivedRecord>> =
            std::collections::BTreeMap::new();
        for d in &c.derived {
            groups.entry((d.entity.as_str(), d.id.as_str())).or_default().push(d);
        }
        let mut changes: std::collections::BTreeMap<&str, (i64, i64, Vec<&str>)> =
            std::collections::BTreeMap::new();
        for ((entity, id), writes) in groups {
            let mut fresh = Vec::with_capacity(writes.len());
            for w in writes {
                if w.merge != patchbay_core::Merge::Tally {
                    fresh.push(w);
                    continue;
                }
                let added = sqlx::query("INSERT INTO context_sources (connection_id, entity, id, source_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
                    .bind(&c.connection_id)
                    .bind(entity)
                    .bind(id)
                    .bind(&w.source_id)
                    .execute(&mut *$tx)
                    .await?
                    .rows_affected();
                if added == 1 {
                    fresh.push(w);
                }
            }
            if fresh.is_empty() {
                continue;
            }
            let stored: Option<(String, bool)> = sqlx::query_as("SELECT data, deleted FROM records WHERE connection_id = $1 AND entity = $2 AND id = $3")
                .bind(&c.connection_id)
                .bind(entity)
                .bind(id)
                .fetch_optional(&mut *$tx)
                .await?;
            let existed = stored.as_ref().is_some_and(|(_, deleted)| !deleted);
            let stored: Option<serde_json::Value> = stored
                .filter(|(_, deleted)| !deleted)
                .and_then(|(d, _)| serde_json::from_str(&d).ok());
            let Some(merged) = crate::context::merge(stored.as_ref(), &fresh) else {
                continue;
            };
            if stored.as_ref() == Some(&merged) {
                continue;
            }
            sqlx::query("INSERT INTO records (connection_id, entity, id, workspace_id, data, hash, deleted, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, FALSE, $7, $7) \
                ON CONFLICT (connection_id, entity, id) DO UPDATE SET data = excluded.data, hash = excluded.hash, deleted = FALSE, updated_at = excluded.updated_at")
                .bind(&c.connection_id)
                .bind(entity)
                .bind(id)
                .bind(&c.workspace_id)
                .bind(merged.to_string())
                .bind(crate::context::record_hash(&merged))
                .bind($now)
                .execute(&mut *$tx)
                .await?;
            let entry = changes.entry(entity).or_default();
            if existed {
                entry.1 += 1;
            } else {
                entry.0 += 1;
            }
            entry.2.push(id);
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
    }};
}
pub(crate) use write_derived;

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
