//! Tasks as signals (due today or overdue) and the live data endpoints built on the same
//! filter queries.

use super::spec::KEY;
use crate::common::object_id;
use patchbay_core::{ConnectorError, DataPayload, DataShape, Signal, SignalKind};
use serde_json::{json, Value};
use url::Url;

/// The filter query of the owner's open items: what the day asks for.
pub const SIGNAL_QUERY: &str = "today | overdue";

/// Overdue tasks listed in the alert; the total is reported besides.
const ALERT_ITEMS: usize = 20;

/// Where a person opens a task in Todoist's web app.
pub fn task_url(id: &str) -> Option<String> {
    let mut url = Url::parse("https://app.todoist.com/app/task").ok()?;
    url.path_segments_mut().ok()?.push(id);
    Some(url.into())
}

/// The due moment: `datetime` where a provider sends one, else `date` (a day, or in API v1
/// a date-time for timed tasks).
fn due(task: &Value) -> Option<String> {
    let due = task.get("due")?;
    let field = |f: &str| due.get(f).and_then(Value::as_str).filter(|s| !s.is_empty());
    field("datetime")
        .or_else(|| field("date"))
        .map(str::to_string)
}

/// A task as a signal; `None` for a completed or deleted task (a filter never returns one,
/// but an answer is not trusted to be consistent).
pub fn signal(task: &Value) -> Result<Option<Signal>, ConnectorError> {
    let flag = |f: &str| task.get(f).and_then(Value::as_bool) == Some(true);
    if flag("checked") || flag("is_deleted") {
        return Ok(None);
    }
    let id = object_id(task)?;
    let title = task
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let priority = task
        .get("priority")
        .and_then(Value::as_u64)
        .filter(|p| (1..=4).contains(p))
        .map(|p| p as u8);
    Ok(Some(Signal {
        url: task_url(&id),
        id,
        source: KEY.into(),
        kind: SignalKind::Task,
        title,
        due: due(task),
        priority,
        record: task.clone(),
    }))
}

pub fn signals(tasks: &[Value]) -> Result<Vec<Signal>, ConnectorError> {
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.extend(signal(task)?);
    }
    Ok(out)
}

pub fn due_today(tasks: &[Value]) -> Result<DataPayload, ConnectorError> {
    let count = signals(tasks)?.len();
    Ok(DataPayload {
        shape: DataShape::Stat,
        data: json!({"label": "Due today", "value": count, "unit": "tasks"}),
    })
}

pub fn overdue(tasks: &[Value]) -> Result<DataPayload, ConnectorError> {
    let mut late = signals(tasks)?;
    // Oldest first: the longest-waiting task leads.
    late.sort_by(|a, b| a.due.cmp(&b.due));
    let total = late.len();
    let items: Vec<Value> = late
        .iter()
        .take(ALERT_ITEMS)
        .map(|s| json!({"id": s.id, "title": s.title, "due": s.due, "priority": s.priority, "url": s.url}))
        .collect();
    let data = if total == 0 {
        json!({"level": "ok", "title": "Nothing overdue", "total": 0, "items": []})
    } else {
        let noun = if total == 1 { "task" } else { "tasks" };
        json!({
            "level": "warning",
            "title": format!("{total} overdue {noun}"),
            "total": total,
            "items": items,
        })
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
    fn maps_tasks_and_tolerates_odd_answers() {
        let task = json!({"id": "6X7rM8997g3RQmvh", "content": "Buy milk", "priority": 4,
            "checked": false, "due": {"date": "2026-09-30", "is_recurring": false}});
        let s = signal(&task).unwrap().unwrap();
        assert_eq!(s.kind, SignalKind::Task);
        assert_eq!(
            (s.due.as_deref(), s.priority),
            (Some("2026-09-30"), Some(4))
        );
        assert_eq!(
            s.url.as_deref(),
            Some("https://app.todoist.com/app/task/6X7rM8997g3RQmvh")
        );
        let legacy = json!({"id": "1", "due": {"date": "2026-09-30", "datetime": "2026-09-30T09:00:00Z"}, "priority": 9});
        let s = signal(&legacy).unwrap().unwrap();
        assert_eq!(
            (s.due.as_deref(), s.priority),
            (Some("2026-09-30T09:00:00Z"), None)
        );
        assert_eq!(signal(&json!({"id": "2", "checked": true})).unwrap(), None);
        assert!(signal(&json!({"content": "no id"})).is_err());
        assert_eq!(
            task_url("a/b?c").as_deref(),
            Some("https://app.todoist.com/app/task/a%2Fb%3Fc")
        );
    }
}
