//! Dashboard widgets as the templates draw them: the data a widget's endpoint answered,
//! turned into one view per shape (stat, gauge, list, progress, alert, chart). Data that does
//! not have the shape it claims becomes an explanation, never a failed page.

use super::svg;

mod chart;
#[cfg(test)]
mod tests;

pub use chart::Chart;
use patchbay_core::{ms_to_rfc3339, now_ms, DataShape};
use patchbay_engine::widgets::WidgetRead;
use serde_json::Value;

/// Items a list or an alert shows at most.
const MAX_ITEMS: usize = 10;
/// One widget on the dashboard.
pub struct WidgetCard {
    pub id: String,
    pub title: String,
    /// Where the data comes from: connection name and endpoint.
    pub source: String,
    pub refresh_seconds: u32,
    pub error: Option<String>,
    pub stale: bool,
    /// When the data shown was fetched (RFC 3339) and how long ago, in words.
    pub fetched_at: Option<String>,
    pub age: Option<String>,
    pub body: Body,
}

pub enum Body {
    /// Nothing to show (the endpoint failed before it ever answered).
    Empty,
    /// The data is not what its shape promises: why.
    Malformed(String),
    Stat(Stat),
    Gauge(Gauge),
    List(ListBody),
    Progress(Progress),
    Alert(AlertBody),
    Chart(Box<Chart>),
}

pub struct Stat {
    pub value: String,
    pub unit: Option<String>,
    pub detail: Option<String>,
    /// The change, with its direction (`up`, `down`, `flat`).
    pub delta: Option<(String, &'static str)>,
}

pub struct Gauge {
    pub value: String,
    pub max: String,
    pub unit: Option<String>,
    pub percent: u32,
    pub arc: svg::Arc,
    /// The data says the value is past its threshold.
    pub alarm: bool,
}

pub struct Item {
    pub title: String,
    pub url: Option<String>,
    pub meta: Option<String>,
}

pub struct ListBody {
    pub items: Vec<Item>,
    /// Items the endpoint has beyond those shown.
    pub more: u64,
}

pub struct Progress {
    pub value: String,
    pub total: String,
    /// For `<progress>`: the value and maximum as plain numbers.
    pub now: String,
    pub max: String,
    pub percent: u32,
    pub unit: Option<String>,
}

pub struct AlertBody {
    /// `ok`, `info`, `warning` or `critical`.
    pub level: String,
    pub raised: bool,
    pub message: String,
    pub items: Vec<Item>,
    pub more: u64,
}

impl WidgetCard {
    pub fn from_read(r: &WidgetRead) -> WidgetCard {
        let label = r.data.as_ref().and_then(|d| {
            ["label", "title"]
                .iter()
                .find_map(|k| d.get(k).and_then(Value::as_str))
                .filter(|_| r.shape != Some(DataShape::Alert))
                .map(str::to_string)
        });
        let source = match &r.connection_name {
            Some(name) => format!("{name} · {}", r.widget.endpoint),
            None => r.widget.endpoint.clone(),
        };
        let body = match (&r.data, r.shape) {
            (None, _) => Body::Empty,
            (Some(_), None) => {
                Body::Malformed("the endpoint no longer says what shape it has".into())
            }
            (Some(d), Some(shape)) => body(shape, d).unwrap_or_else(Body::Malformed),
        };
        WidgetCard {
            id: r.widget.id.clone(),
            title: r
                .widget
                .title
                .clone()
                .or(label)
                .or_else(|| r.description.clone().filter(|d| !d.is_empty()))
                .unwrap_or_else(|| r.widget.endpoint.clone()),
            source,
            refresh_seconds: r.widget.refresh_seconds,
            error: r.error.clone(),
            stale: r.stale,
            fetched_at: r.fetched_at_ms.map(ms_to_rfc3339),
            age: r.fetched_at_ms.map(|at| age(now_ms() - at)),
            body,
        }
    }

    /// `ok`, `stale` or `error`: the class the card's state takes.
    pub fn state(&self) -> &'static str {
        match (&self.error, self.stale) {
            (Some(_), _) => "error",
            (None, true) => "stale",
            (None, false) => "ok",
        }
    }
}

pub fn shape_name(shape: DataShape) -> &'static str {
    match shape {
        DataShape::Stat => "stat",
        DataShape::Gauge => "gauge",
        DataShape::List => "list",
        DataShape::Progress => "progress",
        DataShape::Alert => "alert",
        DataShape::Chart => "chart",
    }
}

fn age(ms: i64) -> String {
    let s = (ms / 1000).max(0);
    match s {
        0..=4 => "just now".into(),
        5..=119 => format!("{s} seconds ago"),
        120..=7199 => format!("{} minutes ago", s / 60),
        _ => format!("{} hours ago", s / 3600),
    }
}

pub fn body(shape: DataShape, d: &Value) -> Result<Body, String> {
    Ok(match shape {
        DataShape::Stat => Body::Stat(stat(d)?),
        DataShape::Gauge => Body::Gauge(gauge(d)?),
        DataShape::List => Body::List(list(d)?),
        DataShape::Progress => Body::Progress(progress(d)?),
        DataShape::Alert => Body::Alert(alert(d)?),
        DataShape::Chart => Body::Chart(Box::new(chart::chart(d)?)),
    })
}

/// A number, or a string holding one.
fn num(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n: &f64| n.is_finite())
}

/// Whole numbers without decimals, others with at most two.
fn fmt(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{n:.0}")
    } else {
        let s = format!("{n:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn field(d: &Value, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| text(d.get(k)))
}

fn percent(fraction: f64) -> u32 {
    (fraction.clamp(0.0, 1.0) * 100.0).round() as u32
}

fn stat(d: &Value) -> Result<Stat, String> {
    let value = match d {
        Value::Object(o) if o.contains_key("value") => match &o["value"] {
            Value::Null => "—".to_string(),
            v => num(Some(v))
                .map(fmt)
                .or_else(|| text(Some(v)))
                .ok_or("the value is neither a number nor text")?,
        },
        Value::Object(_) => return Err("the answer has no value".into()),
        v => num(Some(v))
            .map(fmt)
            .or_else(|| text(Some(v)))
            .ok_or("the answer has no value")?,
    };
    let delta = num(d.get("delta")).map(|n| {
        let dir = if n > 0.0 {
            "up"
        } else if n < 0.0 {
            "down"
        } else {
            "flat"
        };
        let sign = if n > 0.0 { "+" } else { "" };
        (format!("{sign}{}", fmt(n)), dir)
    });
    Ok(Stat {
        value,
        unit: field(d, &["unit"]),
        detail: field(d, &["at", "detail", "location"]),
        delta,
    })
}

fn gauge(d: &Value) -> Result<Gauge, String> {
    let value = num(d.get("value")).ok_or("the gauge has no numeric value")?;
    let min = num(d.get("min")).unwrap_or(0.0);
    let max = num(d.get("max")).ok_or("the gauge has no numeric max")?;
    let fraction = if max > min {
        (value - min) / (max - min)
    } else {
        0.0
    };
    Ok(Gauge {
        value: fmt(value),
        max: fmt(max),
        unit: field(d, &["unit"]),
        percent: percent(fraction),
        arc: svg::gauge(fraction),
        alarm: d.get("alert").and_then(Value::as_bool).unwrap_or(false),
    })
}

/// Only links a browser can follow safely.
fn link(v: Option<&Value>) -> Option<String> {
    let s = v?.as_str()?;
    (s.starts_with("https://") || s.starts_with("http://")).then(|| s.to_string())
}

fn item(v: &Value) -> Option<Item> {
    if let Some(s) = text(Some(v)) {
        return Some(Item {
            title: s,
            url: None,
            meta: None,
        });
    }
    let title = field(
        v,
        &["title", "name", "label", "summary", "content", "message"],
    )?;
    Some(Item {
        title,
        url: link(v.get("url")),
        meta: field(
            v,
            &[
                "subtitle",
                "start",
                "due",
                "since",
                "location",
                "updated_at",
            ],
        ),
    })
}

/// Up to [`MAX_ITEMS`] items and how many more there are.
fn items(list: &[Value], total: Option<f64>) -> Result<(Vec<Item>, u64), String> {
    let shown: Vec<Item> = list.iter().take(MAX_ITEMS).filter_map(item).collect();
    if shown.len() < list.len().min(MAX_ITEMS) {
        return Err("some items have no title".into());
    }
    let total = total
        .map_or(0, |t| t.max(0.0) as u64)
        .max(list.len() as u64);
    let more = total.saturating_sub(shown.len() as u64);
    Ok((shown, more))
}

fn list(d: &Value) -> Result<ListBody, String> {
    let arr = match d {
        Value::Array(a) => a,
        _ => d
            .get("items")
            .and_then(Value::as_array)
            .ok_or("the list has no items")?,
    };
    let (items, more) = items(arr, num(d.get("total")))?;
    Ok(ListBody { items, more })
}

fn progress(d: &Value) -> Result<Progress, String> {
    let (value, total) = match (
        num(d.get("value")),
        num(d.get("total")).or(num(d.get("max"))),
    ) {
        (Some(v), Some(t)) => (v, t),
        _ => match num(d.get("percent")) {
            Some(p) => (p, 100.0),
            None => return Err("the progress has no value and total".into()),
        },
    };
    if total < 0.0 || value < 0.0 {
        return Err("the progress has a negative value or total".into());
    }
    let fraction = if total > 0.0 { value / total } else { 0.0 };
    Ok(Progress {
        value: fmt(value),
        total: fmt(total),
        now: fmt(value.min(total)),
        max: fmt(total),
        percent: percent(fraction),
        unit: field(d, &["unit"]),
    })
}

pub fn alert(d: &Value) -> Result<AlertBody, String> {
    let (level, message, list, total) = match d {
        Value::Null => ("ok".to_string(), None, &[][..], None),
        Value::Array(a) => ("warning".to_string(), None, a.as_slice(), None),
        Value::Object(o) => (
            o.get("level")
                .and_then(Value::as_str)
                .unwrap_or("warning")
                .to_ascii_lowercase(),
            field(d, &["title", "message"]),
            o.get("items")
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice),
            num(o.get("total")),
        ),
        _ => return Err("the alert is neither an object nor a list".into()),
    };
    let level = match level.as_str() {
        "ok" | "none" => "ok",
        "info" | "notice" => "info",
        "critical" | "error" | "danger" => "critical",
        _ => "warning",
    };
    let raised = level != "ok" && !(matches!(d, Value::Array(a) if a.is_empty()));
    let (items, more) = items(list, total)?;
    let message = message.unwrap_or_else(|| {
        if raised {
            format!("{} raised", list.len().max(1))
        } else {
            "All clear".into()
        }
    });
    Ok(AlertBody {
        level: level.into(),
        raised,
        message,
        items,
        more,
    })
}
