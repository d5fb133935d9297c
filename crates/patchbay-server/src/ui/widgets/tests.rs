//! The data the built-in connectors answer, drawn; and data that is not what it claims.

use super::*;
use serde_json::json;

fn drawn(shape: DataShape, data: Value) -> Body {
    body(shape, &data).unwrap_or_else(|why| panic!("{data} is drawable: {why}"))
}

#[test]
fn stats_of_todoist_github_and_calendar() {
    let Body::Stat(s) = drawn(
        DataShape::Stat,
        json!({"label": "Due today", "value": 3, "unit": "tasks"}),
    ) else {
        panic!()
    };
    assert_eq!((s.value.as_str(), s.unit.as_deref()), ("3", Some("tasks")));
    assert!(s.delta.is_none());
    let Body::Stat(s) = drawn(
        DataShape::Stat,
        json!({"label": "Next event", "value": "Stand-up", "at": "2026-12-05T09:00:00Z"}),
    ) else {
        panic!()
    };
    assert_eq!(
        (s.value.as_str(), s.detail.as_deref()),
        ("Stand-up", Some("2026-12-05T09:00:00Z"))
    );
    // Nothing coming up is a value too.
    let Body::Stat(s) = drawn(
        DataShape::Stat,
        json!({"label": "Next event", "value": null}),
    ) else {
        panic!()
    };
    assert_eq!(s.value, "—");
    let Body::Stat(s) = drawn(DataShape::Stat, json!({"value": 2.5, "delta": -0.25})) else {
        panic!()
    };
    assert_eq!(
        (s.value.as_str(), s.delta),
        ("2.5", Some(("-0.25".to_string(), "down")))
    );
}

#[test]
fn gauges_of_github_calendar_and_venue() {
    let Body::Gauge(g) = drawn(
        DataShape::Gauge,
        json!({"label": "API requests left", "value": 4990, "min": 0, "max": 5000, "reset": 1}),
    ) else {
        panic!()
    };
    assert_eq!((g.percent, g.alarm), (100, false));
    let Body::Gauge(g) = drawn(
        DataShape::Gauge,
        json!({"label": "Busy this week", "value": 12.5, "min": 0, "max": 40.0, "unit": "hours"}),
    ) else {
        panic!()
    };
    assert_eq!(
        (g.value.as_str(), g.max.as_str(), g.percent),
        ("12.5", "40", 31)
    );
    let Body::Gauge(g) = drawn(
        DataShape::Gauge,
        json!({"label": "Occupancy", "value": 90, "min": 0, "max": 100, "percent": 90, "alert": true}),
    ) else {
        panic!()
    };
    assert!(g.alarm);
    // A zero capacity draws an empty gauge rather than dividing by zero.
    let Body::Gauge(g) = drawn(DataShape::Gauge, json!({"value": 0, "max": 0})) else {
        panic!()
    };
    assert_eq!(g.percent, 0);
}

#[test]
fn lists_of_github_and_calendar() {
    let Body::List(l) = drawn(
        DataShape::List,
        json!({"label": "Review requests", "total": 12, "items": [
            {"title": "Fix it", "url": "https://github.com/a/b/pull/1", "subtitle": "a/b"}]}),
    ) else {
        panic!()
    };
    assert_eq!(
        l.items[0].url.as_deref(),
        Some("https://github.com/a/b/pull/1")
    );
    assert_eq!((l.items[0].meta.as_deref(), l.more), (Some("a/b"), 11));
    let Body::List(l) = drawn(
        DataShape::List,
        json!({"title": "Today", "items": [{"title": "Lunch", "start": "12:00", "location": null, "url": null}]}),
    ) else {
        panic!()
    };
    assert_eq!((l.items[0].meta.as_deref(), l.more), (Some("12:00"), 0));
}

#[test]
fn todoist_overdue_alerts_raise_and_clear() {
    let Body::Alert(a) = drawn(
        DataShape::Alert,
        json!({"level": "warning", "title": "2 overdue tasks", "total": 2,
               "items": [{"id": "1", "title": "Late", "due": "2026-12-01", "priority": 4, "url": null}]}),
    ) else {
        panic!()
    };
    assert!(a.raised);
    assert_eq!(
        (a.level.as_str(), a.message.as_str(), a.more),
        ("warning", "2 overdue tasks", 1)
    );
    let Body::Alert(a) = drawn(
        DataShape::Alert,
        json!({"level": "ok", "title": "Nothing overdue", "total": 0, "items": []}),
    ) else {
        panic!()
    };
    assert!(!a.raised);
    assert!(!alert(&Value::Null).unwrap().raised);
    assert!(!alert(&json!([])).unwrap().raised);
    assert!(alert(&json!([{"title": "disk full"}])).unwrap().raised);
}

#[test]
fn charts_take_series_pairs_and_plain_numbers() {
    let Body::Chart(c) = drawn(
        DataShape::Chart,
        json!({"kind": "bar", "series": [{"name": "Orders", "points": [{"x": "draft", "y": 7}, {"x": "shipped", "y": 6}]}]}),
    ) else {
        panic!()
    };
    assert_eq!((c.kind, c.bars.len(), c.lines.len()), ("bar", 2, 0));
    assert_eq!(c.rows[1], ("shipped".to_string(), vec!["6".to_string()]));
    let Body::Chart(c) = drawn(DataShape::Chart, json!([1, 2, 3])) else {
        panic!()
    };
    assert_eq!((c.kind, c.lines.len(), c.labels.len()), ("line", 1, 3));
    let many: Vec<u32> = (0..100).collect();
    let Body::Chart(c) = drawn(DataShape::Chart, json!({"values": many})) else {
        panic!()
    };
    assert_eq!(c.labels.len(), 60, "the latest points only");
}

#[test]
fn data_without_its_shape_is_explained() {
    for (shape, data) in [
        (DataShape::Stat, json!({"count": 1})),
        (DataShape::Stat, json!({"value": {"nested": true}})),
        (DataShape::Gauge, json!({"value": 1})),
        (DataShape::List, json!({"items": [{"no": "title"}]})),
        (DataShape::Progress, json!({"value": -1, "total": 3})),
        (DataShape::Alert, json!(true)),
        (DataShape::Chart, json!({"series": [{"points": ["x"]}]})),
        (DataShape::Chart, json!([])),
    ] {
        assert!(body(shape, &data).is_err(), "{shape:?} {data}");
    }
}

#[test]
fn only_web_links_are_links() {
    let i = item(&json!({"title": "x", "url": "javascript:alert(1)"})).unwrap();
    assert!(i.url.is_none());
    let i = item(&json!({"title": "x", "url": "data:text/html,hi"})).unwrap();
    assert!(i.url.is_none());
}
