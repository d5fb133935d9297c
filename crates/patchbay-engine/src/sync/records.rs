//! The record store as the API reads it: pages ordered by (patchbay's `updated_at`, id),
//! opaque cursors, and the content hash that tells changed records from unchanged ones.

use super::Syncs;
use crate::auth::Caller;
use crate::error::{EngineError, Result};
use crate::views::Page;
use patchbay_core::ms_to_rfc3339;
use patchbay_store::RecordQuery;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecordView {
    pub id: String,
    #[schema(value_type = Object)]
    pub data: Value,
    pub deleted: bool,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordsQuery {
    /// Page size, 1 to 500 (default 50).
    #[serde(default, deserialize_with = "crate::de_page_limit")]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// RFC 3339; only records patchbay changed after this time.
    pub modified_after: Option<String>,
    #[serde(default)]
    pub include_deleted: bool,
}

/// The content hash of a record, as the store compares it.
pub use patchbay_store::record_hash;

fn encode_cursor(ts: i64, id: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{ts}:{id}"))
}

fn decode_cursor(c: &str) -> Option<(i64, String)> {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (ts, id) = text.split_once(':')?;
    Some((ts.parse().ok()?, id.to_string()))
}

fn view(r: patchbay_store::RecordRow) -> RecordView {
    RecordView {
        id: r.id,
        data: serde_json::from_str(&r.data).unwrap_or(Value::Null),
        deleted: r.deleted,
        created_at: ms_to_rfc3339(r.created_at),
        updated_at: ms_to_rfc3339(r.updated_at),
    }
}

impl Syncs {
    /// One stored record, including one marked deleted.
    pub async fn get_record(
        &self,
        caller: &Caller,
        connection_id: &str,
        entity: &str,
        id: &str,
    ) -> Result<RecordView> {
        self.ctx.load_connection(caller, connection_id).await?;
        self.ctx
            .store()
            .get_record(connection_id, entity, id)
            .await?
            .map(view)
            .ok_or(EngineError::NotFound("record"))
    }

    pub async fn list_records(
        &self,
        caller: &Caller,
        connection_id: &str,
        entity: &str,
        q: &RecordsQuery,
    ) -> Result<Page<RecordView>> {
        self.ctx.load_connection(caller, connection_id).await?;
        let limit = q.limit.unwrap_or(100).clamp(1, 1000);
        let after = match &q.cursor {
            Some(c) => Some(
                decode_cursor(c).ok_or_else(|| EngineError::BadRequest("invalid cursor".into()))?,
            ),
            None => None,
        };
        let modified_after = match &q.modified_after {
            Some(t) => Some(
                chrono::DateTime::parse_from_rfc3339(t)
                    .map_err(|_| {
                        EngineError::BadRequest(format!(
                            "modified_after '{t}' is not an RFC 3339 time"
                        ))
                    })?
                    .timestamp_millis(),
            ),
            None => None,
        };
        let rows = self
            .ctx
            .store()
            .list_records(&RecordQuery {
                connection_id: connection_id.into(),
                entity: entity.into(),
                after,
                modified_after,
                include_deleted: q.include_deleted,
                limit: limit + 1,
            })
            .await?;
        let views: Vec<(i64, RecordView)> =
            rows.into_iter().map(|r| (r.updated_at, view(r))).collect();
        let page = Page::from_overfetch(views, limit, |(ts, v)| encode_cursor(*ts, &v.id));
        Ok(Page {
            data: page.data.into_iter().map(|(_, v)| v).collect(),
            next_cursor: page.next_cursor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cursors_round_trip_and_hashes_are_stable() {
        let c = encode_cursor(1_700_000_000_123, "rec_1:with:colons");
        assert_eq!(
            decode_cursor(&c),
            Some((1_700_000_000_123, "rec_1:with:colons".into()))
        );
        assert_eq!(decode_cursor("!!"), None);
        assert_eq!(
            record_hash(&json!({"a": 1, "b": [2]})),
            record_hash(&json!({"b": [2], "a": 1})),
            "key order does not matter"
        );
        assert_ne!(record_hash(&json!({"a": 1})), record_hash(&json!({"a": 2})));
        assert_eq!(record_hash(&json!("x")).len(), 32);
    }
}
