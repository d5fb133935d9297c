//! Chart data (series of points, in the shapes data endpoints answer them) as a chart the
//! template draws: bars for one series asked as bars, else lines, and a table of the values.

use super::{field, fmt, num, text};
use crate::ui::svg;
use serde_json::Value;

/// Points a chart draws at most (the latest ones).
const MAX_POINTS: usize = 60;
const MAX_SERIES: usize = 4;
/// Line colours, told apart by their dashes too.
const STROKES: [(&str, &str); MAX_SERIES] = [
    ("#0b5cad", ""),
    ("#bf5700", "6 3"),
    ("#1a7f37", "2 3"),
    ("#8250df", "8 3 2 3"),
];

pub struct Series {
    pub name: String,
    pub points: String,
    pub stroke: &'static str,
    pub dash: &'static str,
}

pub struct Chart {
    pub kind: &'static str,
    pub unit: Option<String>,
    pub bars: Vec<svg::Bar>,
    pub lines: Vec<Series>,
    /// Labels of the x axis, one per point, and the table rows (label, values).
    pub labels: Vec<String>,
    pub rows: Vec<(String, Vec<String>)>,
    pub names: Vec<String>,
    pub high: String,
    pub low: String,
    pub axis: svg::Axis,
    pub width: f64,
    pub height: f64,
}

/// One series' (label, value) points: `[{x, y}]`, `[[x, y]]` or plain numbers.
fn points(v: &Value) -> Option<Vec<(String, f64)>> {
    v.as_array()?
        .iter()
        .enumerate()
        .map(|(i, p)| match p {
            Value::Array(pair) if pair.len() == 2 => Some((
                text(pair.first()).unwrap_or_else(|| (i + 1).to_string()),
                num(pair.get(1))?,
            )),
            Value::Object(_) => Some((
                field(p, &["x", "label", "date"]).unwrap_or_else(|| (i + 1).to_string()),
                num(p.get("y").or(p.get("value")))?,
            )),
            other => Some(((i + 1).to_string(), num(Some(other))?)),
        })
        .collect()
}

pub fn chart(d: &Value) -> Result<Chart, String> {
    let bad = "the chart has no series of numeric points";
    let mut series: Vec<(String, Vec<(String, f64)>)> = match d.get("series") {
        Some(Value::Array(all)) => all
            .iter()
            .take(MAX_SERIES)
            .map(|s| {
                Some((
                    field(s, &["name", "label"]).unwrap_or_default(),
                    points(s.get("points").or(s.get("data"))?)?,
                ))
            })
            .collect::<Option<_>>()
            .ok_or(bad)?,
        _ => {
            let pts = points(d.get("points").or(d.get("values")).unwrap_or(d)).ok_or(bad)?;
            vec![(String::new(), pts)]
        }
    };
    if series.is_empty() || series.iter().all(|(_, p)| p.is_empty()) {
        return Err("the chart has no points".into());
    }
    for (_, p) in &mut series {
        let skip = p.len().saturating_sub(MAX_POINTS);
        p.drain(..skip);
    }
    let labels: Vec<String> = series[0].1.iter().map(|(x, _)| x.clone()).collect();
    let scale = svg::Scale::of(series.iter().flat_map(|(_, p)| p.iter().map(|(_, y)| *y)));
    let bar = d.get("kind").and_then(Value::as_str) == Some("bar") && series.len() == 1;
    let values = |p: &[(String, f64)]| p.iter().map(|(_, y)| *y).collect::<Vec<_>>();
    let rows = labels
        .iter()
        .enumerate()
        .map(|(i, x)| {
            (
                x.clone(),
                series
                    .iter()
                    .map(|(_, p)| p.get(i).map_or(String::new(), |(_, y)| fmt(*y)))
                    .collect(),
            )
        })
        .collect();
    Ok(Chart {
        kind: if bar { "bar" } else { "line" },
        unit: field(d, &["unit"]),
        bars: if bar {
            svg::bars(&values(&series[0].1), &scale)
        } else {
            Vec::new()
        },
        lines: if bar {
            Vec::new()
        } else {
            series
                .iter()
                .zip(STROKES)
                .map(|((name, p), (stroke, dash))| Series {
                    name: name.clone(),
                    points: svg::line(&values(p), &scale),
                    stroke,
                    dash,
                })
                .collect()
        },
        names: series
            .iter()
            .map(|(n, _)| {
                if n.is_empty() {
                    "Value".to_string()
                } else {
                    n.clone()
                }
            })
            .collect(),
        labels,
        rows,
        high: fmt(scale.high),
        low: fmt(scale.low),
        axis: svg::axis(),
        width: svg::WIDTH,
        height: svg::HEIGHT,
    })
}
