//! Geometry of the server-drawn SVG: a gauge's arc and a chart's bars or lines. Only numbers
//! leave this module; every label goes through the template, which escapes it.

/// A semicircular gauge in a 100 × 60 box, centred at (50, 50) with radius 40.
pub struct Arc {
    /// The whole track, left to right.
    pub track: String,
    /// The filled part, `None` at zero.
    pub fill: Option<String>,
}

const CX: f64 = 50.0;
const CY: f64 = 50.0;
const R: f64 = 40.0;

/// The arc filled to `fraction` (0 to 1).
pub fn gauge(fraction: f64) -> Arc {
    let f = fraction.clamp(0.0, 1.0);
    let track = format!("M {} {CY} A {R} {R} 0 0 1 {} {CY}", CX - R, CX + R);
    let fill = (f > 0.0).then(|| {
        // From the left end (angle π) clockwise over the top to angle π − fπ.
        let angle = std::f64::consts::PI * (1.0 - f);
        let (x, y) = (CX + R * angle.cos(), CY - R * angle.sin());
        format!("M {} {CY} A {R} {R} 0 0 1 {x:.2} {y:.2}", CX - R)
    });
    Arc { track, fill }
}

/// The plot area of a chart in a 320 × 160 box: room on the left for the scale, below for
/// the labels.
pub const WIDTH: f64 = 320.0;
pub const HEIGHT: f64 = 160.0;
const LEFT: f64 = 36.0;
const RIGHT: f64 = 312.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 130.0;

pub struct Bar {
    pub x: String,
    pub y: String,
    pub width: String,
    pub height: String,
    /// Where its label sits, and whether there is room for it.
    pub label_x: String,
    pub labelled: bool,
}

/// A scale that starts at zero (or below, for negative values) and ends at the largest value.
pub struct Scale {
    pub low: f64,
    pub high: f64,
}

impl Scale {
    pub fn of(values: impl Iterator<Item = f64>) -> Scale {
        let (mut low, mut high) = (0.0f64, 0.0f64);
        for v in values {
            low = low.min(v);
            high = high.max(v);
        }
        if high <= low {
            high = low + 1.0;
        }
        Scale { low, high }
    }

    fn y(&self, v: f64) -> f64 {
        BOTTOM - (v - self.low) / (self.high - self.low) * (BOTTOM - TOP)
    }
}

/// Bars for `values`, evenly spaced; at most about a dozen labels fit.
pub fn bars(values: &[f64], scale: &Scale) -> Vec<Bar> {
    let n = values.len().max(1) as f64;
    let slot = (RIGHT - LEFT) / n;
    let every = (values.len() / 12).max(1);
    let zero = scale.y(0.0f64.clamp(scale.low, scale.high));
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let x = LEFT + slot * i as f64 + slot * 0.15;
            let top = scale.y(*v).min(zero);
            let height = (scale.y(*v) - zero).abs().max(0.5);
            Bar {
                x: format!("{x:.2}"),
                y: format!("{top:.2}"),
                width: format!("{:.2}", slot * 0.7),
                height: format!("{height:.2}"),
                label_x: format!("{:.2}", LEFT + slot * (i as f64 + 0.5)),
                labelled: i % every == 0,
            }
        })
        .collect()
}

/// The `points` of a polyline through `values`, evenly spaced.
pub fn line(values: &[f64], scale: &Scale) -> String {
    let step = if values.len() > 1 {
        (RIGHT - LEFT) / (values.len() - 1) as f64
    } else {
        0.0
    };
    values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{:.2},{:.2}", LEFT + step * i as f64, scale.y(*v)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where the scale's top and bottom labels and the axis sit.
pub struct Axis {
    pub left: String,
    pub right: String,
    pub top: String,
    pub bottom: String,
    pub label_y: String,
}

pub fn axis() -> Axis {
    Axis {
        left: format!("{LEFT}"),
        right: format!("{RIGHT}"),
        top: format!("{TOP}"),
        bottom: format!("{BOTTOM}"),
        label_y: format!("{}", BOTTOM + 18.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauges_fill_from_the_left() {
        assert!(gauge(0.0).fill.is_none());
        assert_eq!(
            gauge(1.0).fill.unwrap(),
            "M 10 50 A 40 40 0 0 1 90.00 50.00"
        );
        assert_eq!(
            gauge(0.5).fill.unwrap(),
            "M 10 50 A 40 40 0 0 1 50.00 10.00"
        );
        assert!(gauge(7.0).fill.unwrap().ends_with("90.00 50.00"), "clamped");
    }

    #[test]
    fn bars_and_lines_stay_inside_the_plot() {
        let values = [0.0, 5.0, 10.0];
        let scale = Scale::of(values.iter().copied());
        let b = bars(&values, &scale);
        assert_eq!(b.len(), 3);
        assert_eq!((b[2].y.as_str(), b[2].height.as_str()), ("10.00", "120.00"));
        assert_eq!(
            line(&values, &scale),
            "36.00,130.00 174.00,70.00 312.00,10.00"
        );
        // Nothing to scale by still draws.
        let flat = Scale::of([0.0].into_iter());
        assert_eq!(line(&[0.0], &flat), "36.00,130.00");
    }
}
