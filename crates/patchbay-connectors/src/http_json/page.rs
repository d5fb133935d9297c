//! Turns one list answer into a [`SyncPage`]. This runs for every page of large syncs, so
//! items are moved out of the parsed answer rather than cloned.

use super::settings::{field, field_mut, Settings};
use patchbay_core::{ConnectorError, Record, SyncPage};
use serde_json::Value;

/// Maps a list answer. `since` is where an incremental run started; the checkpoint is the
/// latest of it and every `updated_at_field` seen. Timestamps compare as text, which orders
/// ISO-8601 times correctly as long as the API writes them in one format.
pub fn map(
    mut answer: Value,
    s: &Settings<'_>,
    entity: &str,
    since: Option<&str>,
) -> Result<SyncPage, ConnectorError> {
    let items = match field_mut(&mut answer, s.items_field).map(Value::take) {
        Some(Value::Array(items)) => items,
        _ => {
            return Err(ConnectorError::BadResponse(format!(
                "list answer has no '{}' array",
                s.items_field
            )))
        }
    };
    let mut page = SyncPage {
        records: Vec::with_capacity(items.len()),
        next_page_cursor: next_cursor(&answer, s.next_cursor_field),
        ..SyncPage::default()
    };
    let mut latest: Option<String> = None;
    for (index, item) in items.into_iter().enumerate() {
        let id = item_id(&item, s.id_field).ok_or_else(|| {
            ConnectorError::BadResponse(format!(
                "item {index} of the page has no usable '{}'",
                s.id_field
            ))
        })?;
        if let Some(at) = s
            .updated_at_field
            .and_then(|f| field(&item, f))
            .and_then(Value::as_str)
        {
            if latest.as_deref().is_none_or(|l| at > l) {
                latest = Some(at.to_string());
            }
        }
        let deleted = s
            .deleted_field
            .and_then(|f| field(&item, f))
            .and_then(Value::as_bool)
            == Some(true);
        if deleted {
            page.deleted_ids.push(id);
        } else {
            page.records.push(Record {
                entity: entity.to_string(),
                id,
                data: item,
            });
        }
    }
    if s.updated_at_field.is_some() {
        page.checkpoint = match (since, latest) {
            (Some(since), Some(l)) if since >= l.as_str() => Some(since.to_string()),
            (since, latest) => latest.or_else(|| since.map(str::to_string)),
        };
    }
    Ok(page)
}

/// The id as text: strings as they are, numbers written out; anything else is no id.
fn item_id(item: &Value, id_field: &str) -> Option<String> {
    match field(item, id_field)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The next page cursor; null, absent or empty ends the run.
fn next_cursor(answer: &Value, name: &str) -> Option<String> {
    match field(answer, name)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(config: Value) -> Settings<'static> {
        let mut base = json!({"base_url": "https://h.example", "list_path": "/items"});
        for (k, v) in config.as_object().unwrap() {
            base[k] = v.clone();
        }
        Settings::read(Box::leak(Box::new(base))).unwrap()
    }

    #[test]
    fn maps_records_deletions_and_cursor() {
        let s = settings(json!({
            "items_field": "/result/items",
            "next_cursor_field": "/meta/next",
            "updated_at_field": "modified",
            "deleted_field": "gone"
        }));
        let answer = json!({
            "result": {"items": [
                {"id": 7, "modified": "2024-05-01T00:00:00Z"},
                {"id": "b", "modified": "2024-06-01T00:00:00Z", "gone": true},
                {"id": "c", "modified": "2024-04-01T00:00:00Z", "gone": false}
            ]},
            "meta": {"next": "p2"}
        });
        let page = map(answer, &s, "tickets", Some("2024-01-01T00:00:00Z")).unwrap();
        let ids: Vec<&str> = page.records.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["7", "c"]);
        assert_eq!(page.records[0].entity, "tickets");
        assert_eq!(page.records[1].data["gone"], false);
        assert_eq!(page.deleted_ids, ["b"]);
        assert_eq!(page.next_page_cursor.as_deref(), Some("p2"));
        assert_eq!(page.checkpoint.as_deref(), Some("2024-06-01T00:00:00Z"));

        let later = "2025-01-01T00:00:00Z";
        let page = map(
            json!({"result": {"items": []}, "meta": {"next": ""}}),
            &s,
            "t",
            Some(later),
        )
        .unwrap();
        assert_eq!(page.checkpoint.as_deref(), Some(later));
        assert_eq!(page.next_page_cursor, None);
    }

    #[test]
    fn rejects_answers_without_items_or_ids() {
        let s = settings(json!({}));
        let err = map(json!({"items": []}), &s, "records", None).unwrap_err();
        assert!(matches!(err, ConnectorError::BadResponse(m) if m.contains("'data'")));
        let err = map(
            json!({"data": [{"id": "a"}, {"name": "x"}]}),
            &s,
            "records",
            None,
        )
        .unwrap_err();
        assert!(matches!(err, ConnectorError::BadResponse(m) if m.contains("item 1")));
        let page = map(
            json!({"data": [{"id": "a"}], "next_cursor": null}),
            &s,
            "r",
            None,
        )
        .unwrap();
        assert_eq!(
            (page.records.len(), page.next_page_cursor, page.checkpoint),
            (1, None, None)
        );
    }
}
