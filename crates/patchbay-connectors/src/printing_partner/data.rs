//! The partner's dashboard data: order counts per status as a bar chart, shipped orders as
//! progress, and its service notices as an alert.

use patchbay_core::{ConnectorError, DataPayload, DataShape};
use serde_json::{json, Map, Value};

/// Statuses in the order an order goes through them; others follow by name.
const STATUS_ORDER: [&str; 5] = ["draft", "submitted", "printing", "shipped", "cancelled"];

fn counts(stats: &Value) -> Result<&Map<String, Value>, ConnectorError> {
    stats
        .get("orders_by_status")
        .and_then(Value::as_object)
        .ok_or_else(|| ConnectorError::BadResponse("stats answer has no 'orders_by_status'".into()))
}

fn count(counts: &Map<String, Value>, status: &str) -> u64 {
    counts.get(status).and_then(Value::as_u64).unwrap_or(0)
}

pub fn orders_by_status(stats: &Value) -> Result<DataPayload, ConnectorError> {
    let counts = counts(stats)?;
    let mut statuses: Vec<&str> = STATUS_ORDER
        .iter()
        .copied()
        .filter(|s| counts.contains_key(*s))
        .collect();
    let mut others: Vec<&str> = counts
        .keys()
        .map(String::as_str)
        .filter(|s| !STATUS_ORDER.contains(s))
        .collect();
    others.sort_unstable();
    statuses.extend(others);
    let points: Vec<Value> = statuses
        .iter()
        .map(|s| json!({"x": s, "y": count(counts, s)}))
        .collect();
    Ok(DataPayload {
        shape: DataShape::Chart,
        data: json!({
            "label": "Orders by status",
            "kind": "bar",
            "unit": "orders",
            "series": [{"name": "Orders", "points": points}],
        }),
    })
}

pub fn orders_shipped(stats: &Value) -> Result<DataPayload, ConnectorError> {
    let counts = counts(stats)?;
    let total: u64 = counts
        .iter()
        .filter(|(status, _)| *status != "cancelled")
        .filter_map(|(_, n)| n.as_u64())
        .sum();
    Ok(DataPayload {
        shape: DataShape::Progress,
        data: json!({
            "label": "Orders shipped",
            "value": count(counts, "shipped"),
            "total": total,
            "unit": "orders",
        }),
    })
}

/// The most severe level among the notices wins; none means `ok`.
pub fn service_notices(answer: &Value) -> Result<DataPayload, ConnectorError> {
    let notices = crate::common::list_items(answer, "data")?;
    let rank = |level: &str| match level {
        "critical" => 3,
        "warning" => 2,
        _ => 1,
    };
    let level = notices
        .iter()
        .filter_map(|n| n.get("level").and_then(Value::as_str))
        .max_by_key(|l| rank(l));
    let items: Vec<Value> = notices
        .iter()
        .map(|n| json!({"id": n.get("id"), "title": n.get("message"), "since": n.get("since")}))
        .collect();
    let data = match (level, items.len()) {
        (_, 0) => json!({"level": "ok", "title": "No service notices", "total": 0, "items": []}),
        (level, n) => json!({
            "level": match level.map(rank) {
                Some(3) => "critical",
                Some(2) => "warning",
                _ => "info",
            },
            "title": if n == 1 { "1 service notice from the print shop".to_string() }
                     else { format!("{n} service notices from the print shop") },
            "total": n,
            "items": items,
        }),
    };
    Ok(DataPayload {
        shape: DataShape::Alert,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_become_a_chart_and_progress() {
        let stats =
            json!({"orders_by_status": {"shipped": 2, "draft": 3, "cancelled": 1, "on_hold": 4}});
        let chart = orders_by_status(&stats).unwrap();
        let xs: Vec<&str> = chart.data["series"][0]["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["x"].as_str().unwrap())
            .collect();
        assert_eq!(xs, ["draft", "shipped", "cancelled", "on_hold"]);
        let progress = orders_shipped(&stats).unwrap();
        assert_eq!(
            (
                progress.data["value"].as_u64(),
                progress.data["total"].as_u64()
            ),
            (Some(2), Some(9))
        );
        assert!(matches!(
            orders_by_status(&json!({})),
            Err(ConnectorError::BadResponse(_))
        ));
    }

    #[test]
    fn notices_raise_an_alert_at_their_worst_level() {
        let quiet = service_notices(&json!({"data": []})).unwrap();
        assert_eq!(quiet.data["level"], "ok");
        let loud = service_notices(&json!({"data": [
            {"id": "n1", "level": "info", "message": "New paper"},
            {"id": "n2", "level": "warning", "message": "Press 2 is down"}
        ]}))
        .unwrap();
        assert_eq!(
            (loud.data["level"].as_str(), loud.data["total"].as_u64()),
            (Some("warning"), Some(2))
        );
        assert_eq!(loud.data["items"][1]["title"], "Press 2 is down");
    }
}
