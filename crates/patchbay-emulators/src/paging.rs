//! Query parsing and the two pagination styles the partners use.

use serde_json::Value;
use std::collections::HashMap;

pub type Params = HashMap<String, String>;

/// A bounded integer parameter, its default when absent, or a message for a 400.
pub fn int_param(q: &Params, name: &str, default: usize, max: usize) -> Result<usize, String> {
    match q.get(name) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| format!("{name} must be an integer between 1 and {max}")),
    }
}

/// An RFC 3339 time parameter, or a message for a 400.
pub fn time_param(q: &Params, name: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>, String> {
    q.get(name)
        .map(|v| {
            chrono::DateTime::parse_from_rfc3339(v)
                .map(|t| t.to_utc())
                .map_err(|_| format!("{name} must be an RFC 3339 date-time"))
        })
        .transpose()
}

/// Stripe-style: items after `starting_after` (lists are sorted by id), and whether more
/// follow.
pub fn cursor_page(
    items: Vec<(String, Value)>,
    limit: usize,
    after: Option<&str>,
) -> (Vec<Value>, bool) {
    let mut rest = items
        .into_iter()
        .filter(|(id, _)| after.is_none_or(|a| id.as_str() > a))
        .map(|(_, v)| v);
    let page: Vec<Value> = rest.by_ref().take(limit).collect();
    let has_more = rest.next().is_some();
    (page, has_more)
}

/// Page-number style: `{"items", "page", "total_pages"}`.
pub fn numbered_page(items: Vec<Value>, page: usize, per_page: usize) -> Value {
    let total_pages = items.len().div_ceil(per_page).max(1);
    let items: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    serde_json::json!({"items": items, "page": page, "total_pages": total_pages})
}
