//! Free slots within working hours, given busy blocks.
//!
//! Pure: [`SlotRequest::from_json`] reads an action's input, [`available_slots`] sweeps the
//! working windows against the busy blocks (of any number of calendars) once they are sorted
//! and merged, so the cost is O(b log b + windows + slots) for b busy blocks.
//!
//! Behaviour:
//! - Working windows are built per local date in the request's zone. A window edge inside a DST
//!   gap maps to the first instant after the gap, an ambiguous one to the earlier instant; a
//!   window that spans a switch is correspondingly 1 hour shorter or longer in real time.
//! - Slot starts lie on the `step` grid counted from each window's start, in elapsed time; this
//!   is the local-time grid except inside a window that spans a DST switch, where local times
//!   after the switch keep the grid as long as the step divides the shift (15, 30, 60 minutes do).
//! - A slot lies wholly inside its window and inside `[from, to]`; the buffers only have to be
//!   free of busy time, not inside working hours. Busy blocks are half-open, so a slot may start
//!   when a meeting ends (plus `buffer_before`).
//! - Tentative blocks count as busy only when `tentative_busy` is set.
//! - To see busy time that only the buffers reach, fetch busy blocks for
//!   [`SlotRequest::busy_window`] rather than `[from, to)`.
//! - `time_zone` is required; `end` and `horizon_days` exclude each other; the span from `start`
//!   to `end` is at most 90 days; windows of a day may touch but not overlap; an end of `24:00`
//!   is stored as `00:00` (no window crosses midnight, so `00:00` as an end means the day's end).

use super::expand::{resolve_local, Busy};
use chrono::{DateTime, Datelike, Duration, NaiveTime, Utc};
use chrono_tz::Tz;
use patchbay_core::FieldError;
use serde_json::{Map, Value};

/// Day keys of `working_hours`, Monday first.
pub const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The longest span that can be searched, in days.
pub const MAX_HORIZON_DAYS: i64 = 90;

/// What to search for.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotRequest {
    pub time_zone: Tz,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Local working windows per weekday, Monday first; an end of `00:00` means midnight at the
    /// end of that day.
    pub working_hours: [Vec<(NaiveTime, NaiveTime)>; 7],
    pub duration: Duration,
    pub buffer_before: Duration,
    pub buffer_after: Duration,
    pub step: Duration,
    pub tentative_busy: bool,
    pub max_slots: usize,
}

impl SlotRequest {
    /// From an action's JSON input: {"time_zone": "Europe/Berlin", "start": RFC3339 (default now), "end": RFC3339 | "horizon_days": n (default 14, max 90), "duration_minutes" (required, 5..=1440), "buffer_before_minutes", "buffer_after_minutes" (default 0, max 240), "step_minutes" (default 15, 5..=240), "working_hours": {"mon": [["09:00","17:00"]], "tue": …} (default Mon–Fri 09:00–17:00; a day omitted or [] = not working; windows may not cross midnight; "00:00"-"24:00" allowed for whole days), "tentative_busy" (default true), "max_slots" (default 100, max 1000)}. Field errors name the field.
    pub fn from_json(input: &Value, now: DateTime<Utc>) -> Result<SlotRequest, Vec<FieldError>> {
        let Some(obj) = input.as_object() else {
            return Err(vec![FieldError::new(
                "input",
                "type",
                "the input must be an object",
            )]);
        };
        let mut errs = Vec::new();
        let time_zone = match obj.get("time_zone") {
            None | Some(Value::Null) => {
                errs.push(FieldError::new(
                    "time_zone",
                    "required",
                    "time_zone is required",
                ));
                None
            }
            Some(Value::String(s)) => match s.parse::<Tz>() {
                Ok(tz) => Some(tz),
                Err(_) => {
                    errs.push(FieldError::new(
                        "time_zone",
                        "format",
                        "unknown time zone; use an IANA name such as Europe/Berlin",
                    ));
                    None
                }
            },
            Some(_) => {
                errs.push(not_a("time_zone", "a string"));
                None
            }
        };
        let from = instant(obj, "start", &mut errs).map(|t| t.unwrap_or(now));
        let end = instant(obj, "end", &mut errs);
        let horizon = integer(
            obj,
            "horizon_days",
            Some(14),
            1,
            MAX_HORIZON_DAYS,
            &mut errs,
        );
        if given(obj, "end") && given(obj, "horizon_days") {
            errs.push(FieldError::new(
                "horizon_days",
                "conflict",
                "give end or horizon_days, not both",
            ));
        }
        let duration = integer(obj, "duration_minutes", None, 5, 1440, &mut errs);
        let buffer_before = integer(obj, "buffer_before_minutes", Some(0), 0, 240, &mut errs);
        let buffer_after = integer(obj, "buffer_after_minutes", Some(0), 0, 240, &mut errs);
        let step = integer(obj, "step_minutes", Some(15), 5, 240, &mut errs);
        let max_slots = integer(obj, "max_slots", Some(100), 1, 1000, &mut errs);
        let tentative_busy = match obj.get("tentative_busy") {
            None | Some(Value::Null) => Some(true),
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                errs.push(not_a("tentative_busy", "true or false"));
                None
            }
        };
        let working_hours = working_hours(obj.get("working_hours"), &mut errs);

        let to = match (from, end, horizon) {
            (Some(from), Some(Some(end)), _) => {
                if end <= from {
                    errs.push(FieldError::new("end", "range", "end must be after start"));
                    None
                } else if end - from > Duration::days(MAX_HORIZON_DAYS) {
                    errs.push(FieldError::new(
                        "end",
                        "maximum",
                        format!("end must be at most {MAX_HORIZON_DAYS} days after start"),
                    ));
                    None
                } else {
                    Some(end)
                }
            }
            (Some(from), Some(None), Some(days)) => from.checked_add_signed(Duration::days(days)),
            _ => None,
        };
        match (
            time_zone,
            from,
            to,
            duration,
            buffer_before,
            buffer_after,
            step,
            max_slots,
            tentative_busy,
            working_hours,
        ) {
            (
                Some(time_zone),
                Some(from),
                Some(to),
                Some(duration),
                Some(before),
                Some(after),
                Some(step),
                Some(max_slots),
                Some(tentative_busy),
                Some(working_hours),
            ) if errs.is_empty() => Ok(SlotRequest {
                time_zone,
                from,
                to,
                working_hours,
                duration: Duration::minutes(duration),
                buffer_before: Duration::minutes(before),
                buffer_after: Duration::minutes(after),
                step: Duration::minutes(step),
                tentative_busy,
                max_slots: max_slots as usize,
            }),
            _ => Err(errs),
        }
    }

    /// The span whose busy time can matter: `[from, to)` widened by the buffers.
    pub fn busy_window(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        (
            self.from - self.buffer_before.max(Duration::zero()),
            self.to + self.buffer_after.max(Duration::zero()),
        )
    }
}

fn not_a(field: &str, what: &str) -> FieldError {
    FieldError::new(field, "type", format!("{field} must be {what}"))
}

fn given(obj: &Map<String, Value>, field: &str) -> bool {
    obj.get(field).is_some_and(|v| !v.is_null())
}

/// An optional RFC 3339 field: `Some(None)` when absent, `None` when invalid.
fn instant(
    obj: &Map<String, Value>,
    field: &str,
    errs: &mut Vec<FieldError>,
) -> Option<Option<DateTime<Utc>>> {
    match obj.get(field) {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(s)) => {
            match DateTime::parse_from_rfc3339(s) {
                Ok(t) => Some(Some(t.with_timezone(&Utc))),
                Err(_) => {
                    errs.push(FieldError::new(
                    field,
                    "format",
                    format!("{field} must be an RFC 3339 date-time such as 2027-01-04T09:00:00+01:00"),
                ));
                    None
                }
            }
        }
        Some(_) => {
            errs.push(not_a(field, "a string"));
            None
        }
    }
}

/// An integer field in `min..=max`; required when there is no default.
fn integer(
    obj: &Map<String, Value>,
    field: &str,
    default: Option<i64>,
    min: i64,
    max: i64,
    errs: &mut Vec<FieldError>,
) -> Option<i64> {
    let n = match obj.get(field) {
        None | Some(Value::Null) => {
            if default.is_none() {
                errs.push(FieldError::new(
                    field,
                    "required",
                    format!("{field} is required"),
                ));
            }
            return default;
        }
        Some(v) => match v.as_i64() {
            Some(n) => n,
            None => {
                errs.push(not_a(field, "an integer"));
                return None;
            }
        },
    };
    if n < min {
        errs.push(FieldError::new(
            field,
            "minimum",
            format!("{field} must be at least {min}"),
        ));
        None
    } else if n > max {
        errs.push(FieldError::new(
            field,
            "maximum",
            format!("{field} must be at most {max}"),
        ));
        None
    } else {
        Some(n)
    }
}

/// Minutes since midnight of `HH:MM`; `24:00` only when `end`.
fn clock(s: &str, end: bool) -> Option<u32> {
    let b = s.as_bytes();
    if b.len() != 5 || b[2] != b':' {
        return None;
    }
    let (h, m) = (s.get(0..2)?, s.get(3..5)?);
    if !h.bytes().chain(m.bytes()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) if end => Some(24 * 60),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

fn time_of(minutes: u32) -> NaiveTime {
    // 24:00 is kept as 00:00, read as the day's end.
    NaiveTime::from_hms_opt((minutes / 60) % 24, minutes % 60, 0).unwrap_or(NaiveTime::MIN)
}

type Week = [Vec<(NaiveTime, NaiveTime)>; 7];

fn working_hours(v: Option<&Value>, errs: &mut Vec<FieldError>) -> Option<Week> {
    let mut week: Week = Default::default();
    let obj = match v {
        None | Some(Value::Null) => {
            let nine = time_of(9 * 60);
            let five = time_of(17 * 60);
            for day in week.iter_mut().take(5) {
                day.push((nine, five));
            }
            return Some(week);
        }
        Some(Value::Object(obj)) => obj,
        Some(_) => {
            errs.push(not_a("working_hours", "an object of days"));
            return None;
        }
    };
    let before = errs.len();
    for (key, windows) in obj {
        let Some(day) = DAYS.iter().position(|d| d == key) else {
            errs.push(FieldError::new(
                format!("working_hours.{key}"),
                "unknown",
                "unknown day; use mon, tue, wed, thu, fri, sat or sun",
            ));
            continue;
        };
        let windows = match windows {
            Value::Null => continue,
            Value::Array(list) => list,
            _ => {
                errs.push(not_a(
                    &format!("working_hours.{key}"),
                    "a list of [\"HH:MM\", \"HH:MM\"] windows",
                ));
                continue;
            }
        };
        let mut minutes = Vec::new();
        for (i, w) in windows.iter().enumerate() {
            let field = format!("working_hours.{key}.{i}");
            let pair = match w.as_array().map(Vec::as_slice) {
                Some([Value::String(a), Value::String(b)]) => (a, b),
                _ => {
                    errs.push(not_a(&field, "a pair [\"HH:MM\", \"HH:MM\"]"));
                    continue;
                }
            };
            match (clock(pair.0, false), clock(pair.1, true)) {
                (Some(a), Some(b)) if a < b => minutes.push((a, b)),
                (Some(_), Some(_)) => errs.push(FieldError::new(
                    field,
                    "range",
                    "a window must end after it starts; windows may not cross midnight",
                )),
                _ => errs.push(FieldError::new(
                    field,
                    "format",
                    "times must be HH:MM from 00:00 to 24:00 (24:00 only as an end)",
                )),
            }
        }
        minutes.sort_unstable();
        if minutes.windows(2).any(|w| w[1].0 < w[0].1) {
            errs.push(FieldError::new(
                format!("working_hours.{key}"),
                "overlap",
                "windows of a day may not overlap",
            ));
        }
        week[day] = minutes
            .into_iter()
            .map(|(a, b)| (time_of(a), time_of(b)))
            .collect();
    }
    (errs.len() == before).then_some(week)
}

/// Busy blocks that count, sorted and merged into disjoint spans.
fn merge(busy: &[Busy], tentative_busy: bool) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut spans: Vec<_> = busy
        .iter()
        .filter(|b| b.start < b.end && (tentative_busy || !b.tentative))
        .map(|b| (b.start, b.end))
        .collect();
    spans.sort_unstable();
    let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::with_capacity(spans.len());
    for (s, e) in spans {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

/// Free `[start, end)` slots of `duration`, starting on the `step` grid of each working window (local time), whose span widened by the buffers overlaps no busy block (tentative ones only when `tentative_busy`), in `req.time_zone`, in order, at most `max_slots`.
pub fn available_slots(busy: &[Busy], req: &SlotRequest) -> Vec<(DateTime<Tz>, DateTime<Tz>)> {
    let mut out = Vec::new();
    let step = req.step.num_milliseconds();
    if step <= 0 || req.duration <= Duration::zero() || req.max_slots == 0 || req.to <= req.from {
        return out;
    }
    let merged = merge(busy, req.tentative_busy);
    let tz = req.time_zone;
    let mut week = req.working_hours.clone();
    for day in &mut week {
        day.sort_unstable();
    }
    let last = req.to.with_timezone(&tz).date_naive();
    let mut day = req.from.with_timezone(&tz).date_naive();
    while day <= last {
        let next_day = day.succ_opt();
        let weekday = day.weekday().num_days_from_monday() as usize;
        for &(open, close) in &week[weekday] {
            let start = resolve_local(tz, day.and_time(open));
            let close = match (close == NaiveTime::MIN, next_day) {
                (false, _) => resolve_local(tz, day.and_time(close)),
                (true, Some(next)) => resolve_local(tz, next.and_time(NaiveTime::MIN)),
                (true, None) => continue,
            };
            let limit = close.min(req.to);
            // Index of the step at or after `t`.
            let step_at = |t: DateTime<Utc>| -> i64 {
                let ms = (t - start).num_milliseconds();
                if ms <= 0 {
                    0
                } else {
                    (ms + step - 1) / step
                }
            };
            let mut k = step_at(req.from);
            let mut i = 0;
            while let Some(s) = k
                .checked_mul(step)
                .and_then(|ms| start.checked_add_signed(Duration::milliseconds(ms)))
            {
                let e = s + req.duration;
                if e > limit {
                    break;
                }
                let lo = s - req.buffer_before;
                let hi = e + req.buffer_after;
                if i == 0 {
                    i = merged.partition_point(|b| b.1 <= lo);
                }
                while i < merged.len() && merged[i].1 <= lo {
                    i += 1;
                }
                if i < merged.len() && merged[i].0 < hi {
                    // Jump to the first start whose widened span clears this block.
                    k = step_at(merged[i].1 + req.buffer_before).max(k + 1);
                    continue;
                }
                out.push((s.with_timezone(&tz), e.with_timezone(&tz)));
                if out.len() >= req.max_slots {
                    return out;
                }
                k += 1;
            }
        }
        match next_day {
            Some(next) => day = next,
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::expand::busy_blocks;
    use super::*;
    use chrono_tz::{America::New_York, Europe::Berlin};
    use serde_json::json;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn t(s: &str) -> NaiveTime {
        NaiveTime::parse_from_str(s, "%H:%M").unwrap()
    }

    /// 60-minute slots every 30 minutes, 09:00–17:00 every day.
    fn request(tz: Tz, from: &str, to: &str) -> SlotRequest {
        SlotRequest {
            time_zone: tz,
            from: utc(from),
            to: utc(to),
            working_hours: std::array::from_fn(|_| vec![(t("09:00"), t("17:00"))]),
            duration: Duration::minutes(60),
            buffer_before: Duration::zero(),
            buffer_after: Duration::zero(),
            step: Duration::minutes(30),
            tentative_busy: true,
            max_slots: 1000,
        }
    }

    fn busy(s: &str, e: &str) -> Busy {
        Busy {
            start: utc(s),
            end: utc(e),
            tentative: false,
        }
    }

    fn starts(slots: &[(DateTime<Tz>, DateTime<Tz>)]) -> Vec<String> {
        slots.iter().map(|(s, _)| s.to_rfc3339()).collect()
    }

    fn errors(input: Value) -> Vec<(String, String)> {
        SlotRequest::from_json(&input, utc("2027-01-04T08:00:00Z"))
            .unwrap_err()
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect()
    }

    fn err(field: &str, code: &str) -> (String, String) {
        (field.to_string(), code.to_string())
    }

    #[test]
    fn from_json_defaults() {
        let now = utc("2027-01-04T08:00:00Z");
        let req = SlotRequest::from_json(
            &json!({"time_zone": "Europe/Berlin", "duration_minutes": 30}),
            now,
        )
        .unwrap();
        assert_eq!(req.time_zone, Berlin);
        assert_eq!((req.from, req.to), (now, now + Duration::days(14)));
        assert_eq!(req.duration, Duration::minutes(30));
        assert_eq!(req.step, Duration::minutes(15));
        assert_eq!(req.buffer_before, Duration::zero());
        assert_eq!(req.buffer_after, Duration::zero());
        assert!(req.tentative_busy);
        assert_eq!(req.max_slots, 100);
        for day in 0..5 {
            assert_eq!(req.working_hours[day], vec![(t("09:00"), t("17:00"))]);
        }
        assert!(req.working_hours[5].is_empty() && req.working_hours[6].is_empty());
    }

    #[test]
    fn from_json_reads_every_field() {
        let req = SlotRequest::from_json(
            &json!({"time_zone": "America/New_York", "start": "2027-01-04T09:00:00-05:00",
                    "end": "2027-01-11T00:00:00Z", "duration_minutes": 45,
                    "buffer_before_minutes": 10, "buffer_after_minutes": 5, "step_minutes": 30,
                    "working_hours": {"mon": [["13:00", "17:00"], ["08:00", "12:00"]], "sat": [],
                                      "sun": [["00:00", "24:00"]]},
                    "tentative_busy": false, "max_slots": 7}),
            utc("2020-01-01T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(req.from, utc("2027-01-04T14:00:00Z"));
        assert_eq!(req.to, utc("2027-01-11T00:00:00Z"));
        assert_eq!(
            (req.duration, req.buffer_before, req.buffer_after, req.step),
            (
                Duration::minutes(45),
                Duration::minutes(10),
                Duration::minutes(5),
                Duration::minutes(30)
            )
        );
        assert!(!req.tentative_busy);
        assert_eq!(req.max_slots, 7);
        assert_eq!(
            req.working_hours[0],
            vec![(t("08:00"), t("12:00")), (t("13:00"), t("17:00"))]
        );
        assert!(req.working_hours[1].is_empty() && req.working_hours[5].is_empty());
        assert_eq!(req.working_hours[6], vec![(t("00:00"), t("00:00"))]);
        assert_eq!(
            req.busy_window(),
            (utc("2027-01-04T13:50:00Z"), utc("2027-01-11T00:05:00Z"))
        );
    }

    #[test]
    fn from_json_missing_duration() {
        assert_eq!(
            errors(json!({"time_zone": "Europe/Berlin"})),
            vec![err("duration_minutes", "required")]
        );
        assert_eq!(
            errors(json!({"duration_minutes": 30})),
            vec![err("time_zone", "required")]
        );
        assert_eq!(errors(json!([1])), vec![err("input", "type")]);
    }

    #[test]
    fn from_json_bad_zone() {
        assert_eq!(
            errors(json!({"time_zone": "Mars/Olympus", "duration_minutes": 30})),
            vec![err("time_zone", "format")]
        );
        assert_eq!(
            errors(json!({"time_zone": 1, "duration_minutes": 30})),
            vec![err("time_zone", "type")]
        );
    }

    #[test]
    fn from_json_bad_times() {
        assert_eq!(
            errors(json!({"time_zone": "UTC", "duration_minutes": 30, "start": "tomorrow"})),
            vec![err("start", "format")]
        );
        let mut got = errors(
            json!({"time_zone": "UTC", "duration_minutes": 30, "working_hours": {
                "mon": [["9:00", "17:00"]],
                "tue": [["09:00", "25:00"]],
                "wed": [["17:00", "09:00"]],
                "thu": [["24:00", "24:00"]],
                "fri": [["09:00"]],
                "sat": [["09:00", "12:00"], ["11:00", "13:00"]],
                "funday": []
            }}),
        );
        got.sort();
        let mut want = vec![
            err("working_hours.mon.0", "format"),
            err("working_hours.tue.0", "format"),
            err("working_hours.wed.0", "range"),
            err("working_hours.thu.0", "format"),
            err("working_hours.fri.0", "type"),
            err("working_hours.sat", "overlap"),
            err("working_hours.funday", "unknown"),
        ];
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn from_json_end_before_start() {
        let input = json!({"time_zone": "UTC", "duration_minutes": 30,
                           "start": "2027-01-05T00:00:00Z", "end": "2027-01-04T00:00:00Z"});
        assert_eq!(errors(input), vec![err("end", "range")]);
    }

    #[test]
    fn from_json_horizon_too_long() {
        assert_eq!(
            errors(json!({"time_zone": "UTC", "duration_minutes": 30, "horizon_days": 91})),
            vec![err("horizon_days", "maximum")]
        );
        assert_eq!(
            errors(json!({"time_zone": "UTC", "duration_minutes": 30,
                          "start": "2027-01-01T00:00:00Z", "end": "2027-04-02T00:00:01Z"})),
            vec![err("end", "maximum")]
        );
        assert_eq!(
            errors(
                json!({"time_zone": "UTC", "duration_minutes": 30, "horizon_days": 5,
                          "end": "2027-02-01T00:00:00Z"})
            ),
            vec![err("horizon_days", "conflict")]
        );
    }

    #[test]
    fn from_json_numbers_out_of_range() {
        assert_eq!(
            errors(
                json!({"time_zone": "UTC", "duration_minutes": 4, "step_minutes": 241,
                          "buffer_before_minutes": -1, "buffer_after_minutes": 241,
                          "max_slots": 1001, "horizon_days": 0, "tentative_busy": "yes"})
            ),
            vec![
                err("horizon_days", "minimum"),
                err("duration_minutes", "minimum"),
                err("buffer_before_minutes", "minimum"),
                err("buffer_after_minutes", "maximum"),
                err("step_minutes", "maximum"),
                err("max_slots", "maximum"),
                err("tentative_busy", "type"),
            ]
        );
        assert_eq!(
            errors(json!({"time_zone": "UTC", "duration_minutes": "30"})),
            vec![err("duration_minutes", "type")]
        );
        assert_eq!(
            errors(json!({"time_zone": "UTC", "duration_minutes": 1441})),
            vec![err("duration_minutes", "maximum")]
        );
    }

    #[test]
    fn free_day_offers_the_grid() {
        // Monday 2027-01-04, Berlin: 09:00–17:00 holds 60-minute slots at 09:00 … 16:00.
        let req = request(Berlin, "2027-01-04T00:00:00Z", "2027-01-05T00:00:00Z");
        let slots = available_slots(&[], &req);
        assert_eq!(slots.len(), 15);
        assert_eq!(slots[0].0.to_rfc3339(), "2027-01-04T09:00:00+01:00");
        assert_eq!(slots[0].1.to_rfc3339(), "2027-01-04T10:00:00+01:00");
        assert_eq!(slots[14].1.to_rfc3339(), "2027-01-04T17:00:00+01:00");
    }

    #[test]
    fn step_alignment() {
        let mut req = request(Berlin, "2027-01-04T08:20:00Z", "2027-01-04T11:00:00Z");
        req.working_hours[0] = vec![(t("09:10"), t("12:00"))];
        req.step = Duration::minutes(15);
        req.duration = Duration::minutes(30);
        // From 09:20 local the grid of a window opening at 09:10 gives 09:25, 09:40, …
        assert_eq!(
            starts(&available_slots(&[], &req)),
            vec![
                "2027-01-04T09:25:00+01:00",
                "2027-01-04T09:40:00+01:00",
                "2027-01-04T09:55:00+01:00",
                "2027-01-04T10:10:00+01:00",
                "2027-01-04T10:25:00+01:00",
                "2027-01-04T10:40:00+01:00",
                "2027-01-04T10:55:00+01:00",
                "2027-01-04T11:10:00+01:00",
                "2027-01-04T11:25:00+01:00",
            ]
        );
        // After a busy block the next slot is back on the grid.
        let slots = available_slots(
            &[busy("2027-01-04T08:30:00Z", "2027-01-04T09:32:00Z")],
            &req,
        );
        assert_eq!(starts(&slots)[0], "2027-01-04T10:40:00+01:00");
    }

    #[test]
    fn slot_crossing_window_end_is_not_offered() {
        let mut req = request(Berlin, "2027-01-04T00:00:00Z", "2027-01-05T00:00:00Z");
        req.working_hours[0] = vec![(t("09:00"), t("10:00")), (t("13:00"), t("14:00"))];
        req.duration = Duration::minutes(45);
        assert_eq!(
            starts(&available_slots(&[], &req)),
            vec!["2027-01-04T09:00:00+01:00", "2027-01-04T13:00:00+01:00"]
        );
        // Nor one that would run past `to`.
        req.to = utc("2027-01-04T12:30:00Z");
        assert_eq!(
            starts(&available_slots(&[], &req)),
            vec!["2027-01-04T09:00:00+01:00"]
        );
    }

    #[test]
    fn overlapping_busy_blocks_from_two_calendars() {
        let req = request(Berlin, "2027-01-04T00:00:00Z", "2027-01-05T00:00:00Z");
        let work = [
            busy("2027-01-04T09:00:00Z", "2027-01-04T10:00:00Z"),
            busy("2027-01-04T13:00:00Z", "2027-01-04T14:00:00Z"),
        ];
        let private = [
            busy("2027-01-04T09:30:00Z", "2027-01-04T11:00:00Z"),
            busy("2027-01-04T09:40:00Z", "2027-01-04T09:50:00Z"),
            busy("2027-01-04T13:00:00Z", "2027-01-04T14:00:00Z"),
        ];
        // Busy 10:00–12:00 and 14:00–15:00 local once merged.
        let all: Vec<Busy> = private.iter().chain(work.iter()).copied().collect();
        assert_eq!(
            starts(&available_slots(&all, &req)),
            vec![
                "2027-01-04T09:00:00+01:00",
                "2027-01-04T12:00:00+01:00",
                "2027-01-04T12:30:00+01:00",
                "2027-01-04T13:00:00+01:00",
                "2027-01-04T15:00:00+01:00",
                "2027-01-04T15:30:00+01:00",
                "2027-01-04T16:00:00+01:00",
            ]
        );
    }

    #[test]
    fn buffers() {
        let mut req = request(Berlin, "2027-01-04T08:00:00Z", "2027-01-04T13:00:00Z");
        req.duration = Duration::minutes(30);
        req.buffer_before = Duration::minutes(15);
        req.buffer_after = Duration::minutes(15);
        // Busy 11:00–12:00 local.
        let b = [busy("2027-01-04T10:00:00Z", "2027-01-04T11:00:00Z")];
        assert_eq!(
            starts(&available_slots(&b, &req)),
            vec![
                "2027-01-04T09:00:00+01:00",
                "2027-01-04T09:30:00+01:00",
                "2027-01-04T10:00:00+01:00",
                "2027-01-04T12:30:00+01:00",
                "2027-01-04T13:00:00+01:00",
                "2027-01-04T13:30:00+01:00",
            ]
        );
        // A meeting ending just before `from` still blocks the first slot's buffer.
        let (lo, _) = req.busy_window();
        assert_eq!(lo, utc("2027-01-04T07:45:00Z"));
        let early = [busy("2027-01-04T07:30:00Z", "2027-01-04T07:50:00Z")];
        assert_eq!(
            starts(&available_slots(&early, &req))[0],
            "2027-01-04T09:30:00+01:00"
        );
    }

    #[test]
    fn tentative_events_busy_only_by_option() {
        let mut req = request(Berlin, "2027-01-04T08:00:00Z", "2027-01-04T10:00:00Z");
        let maybe = [Busy {
            tentative: true,
            ..busy("2027-01-04T08:00:00Z", "2027-01-04T09:00:00Z")
        }];
        assert_eq!(
            starts(&available_slots(&maybe, &req)),
            vec!["2027-01-04T10:00:00+01:00"]
        );
        req.tentative_busy = false;
        assert_eq!(
            starts(&available_slots(&maybe, &req)),
            vec![
                "2027-01-04T09:00:00+01:00",
                "2027-01-04T09:30:00+01:00",
                "2027-01-04T10:00:00+01:00"
            ]
        );
    }

    #[test]
    fn max_slots() {
        let mut req = request(Berlin, "2027-01-04T00:00:00Z", "2027-01-11T00:00:00Z");
        req.max_slots = 3;
        assert_eq!(
            starts(&available_slots(&[], &req)),
            vec![
                "2027-01-04T09:00:00+01:00",
                "2027-01-04T09:30:00+01:00",
                "2027-01-04T10:00:00+01:00"
            ]
        );
    }

    #[test]
    fn dst_spring_forward_berlin() {
        // Berlin skips 02:00–03:00 on Sunday 2027-03-28.
        let req = request(Berlin, "2027-03-27T00:00:00Z", "2027-03-29T00:00:00Z");
        let slots = available_slots(&[], &req);
        assert_eq!(slots[0].0.to_rfc3339(), "2027-03-27T09:00:00+01:00");
        assert_eq!(slots[0].0.with_timezone(&Utc), utc("2027-03-27T08:00:00Z"));
        assert_eq!(slots[15].0.to_rfc3339(), "2027-03-28T09:00:00+02:00");
        assert_eq!(slots[15].0.with_timezone(&Utc), utc("2027-03-28T07:00:00Z"));
        assert_eq!(slots.len(), 30);

        let mut whole = request(Berlin, "2027-03-27T23:00:00Z", "2027-03-28T22:00:00Z");
        whole.working_hours[6] = vec![(t("00:00"), NaiveTime::MIN)];
        whole.step = Duration::minutes(60);
        assert_eq!(available_slots(&[], &whole).len(), 23);

        // A window opening inside the gap opens when the gap ends.
        whole.working_hours[6] = vec![(t("02:30"), t("04:00"))];
        whole.duration = Duration::minutes(30);
        whole.step = Duration::minutes(30);
        assert_eq!(
            starts(&available_slots(&[], &whole)),
            vec!["2027-03-28T03:00:00+02:00", "2027-03-28T03:30:00+02:00"]
        );
    }

    #[test]
    fn dst_fall_back_berlin() {
        // Berlin repeats 02:00–03:00 on Sunday 2027-10-31.
        let req = request(Berlin, "2027-10-30T00:00:00Z", "2027-11-01T00:00:00Z");
        let slots = available_slots(&[], &req);
        assert_eq!(slots[0].0.with_timezone(&Utc), utc("2027-10-30T07:00:00Z"));
        assert_eq!(slots[15].0.to_rfc3339(), "2027-10-31T09:00:00+01:00");
        assert_eq!(slots[15].0.with_timezone(&Utc), utc("2027-10-31T08:00:00Z"));

        let mut whole = request(Berlin, "2027-10-30T22:00:00Z", "2027-10-31T23:00:00Z");
        whole.working_hours[6] = vec![(t("00:00"), NaiveTime::MIN)];
        whole.step = Duration::minutes(60);
        assert_eq!(available_slots(&[], &whole).len(), 25);

        // An ambiguous edge takes the earlier instant: 02:30–03:30 lasts two real hours.
        whole.working_hours[6] = vec![(t("02:30"), t("03:30"))];
        let slots = available_slots(&[], &whole);
        let got: Vec<_> = slots
            .iter()
            .map(|(s, e)| (s.to_rfc3339(), e.to_rfc3339()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "2027-10-31T02:30:00+02:00".to_string(),
                    "2027-10-31T02:30:00+01:00".to_string()
                ),
                (
                    "2027-10-31T02:30:00+01:00".to_string(),
                    "2027-10-31T03:30:00+01:00".to_string()
                ),
            ]
        );
    }

    #[test]
    fn dst_new_york() {
        // Spring forward on Sunday 2027-03-14, fall back on Sunday 2027-11-07.
        let req = request(New_York, "2027-03-13T05:00:00Z", "2027-03-15T04:00:00Z");
        let slots = available_slots(&[], &req);
        assert_eq!(slots[0].0.with_timezone(&Utc), utc("2027-03-13T14:00:00Z"));
        assert_eq!(slots[15].0.with_timezone(&Utc), utc("2027-03-14T13:00:00Z"));
        assert_eq!(slots[15].0.to_rfc3339(), "2027-03-14T09:00:00-04:00");
        let req = request(New_York, "2027-11-06T04:00:00Z", "2027-11-08T05:00:00Z");
        let slots = available_slots(&[], &req);
        assert_eq!(slots[0].0.with_timezone(&Utc), utc("2027-11-06T13:00:00Z"));
        assert_eq!(slots[15].0.with_timezone(&Utc), utc("2027-11-07T14:00:00Z"));
        assert_eq!(slots[15].0.to_rfc3339(), "2027-11-07T09:00:00-05:00");
    }

    fn series(id: &str, start: &str, end: &str, rule: &str) -> Value {
        json!({"id": id, "status": "confirmed", "recurrence": [rule],
               "start": {"dateTime": start, "timeZone": "Europe/Berlin"},
               "end": {"dateTime": end, "timeZone": "Europe/Berlin"}})
    }

    fn slots_for(events: &[Value], req: &SlotRequest) -> Vec<String> {
        let (lo, hi) = req.busy_window();
        let busy = busy_blocks(events, lo, hi, Some("me@example.com"), req.time_zone);
        starts(&available_slots(&busy, req))
    }

    #[test]
    fn moved_instance_out_of_working_hours_frees_the_original_slot() {
        let mut req = request(Berlin, "2027-01-04T00:00:00Z", "2027-01-06T00:00:00Z");
        req.working_hours = std::array::from_fn(|_| vec![(t("10:00"), t("12:00"))]);
        let events = [
            series(
                "standup",
                "2027-01-04T10:00:00+01:00",
                "2027-01-04T11:00:00+01:00",
                "RRULE:FREQ=DAILY",
            ),
            json!({"id": "standup_20270105T090000Z", "recurringEventId": "standup",
                   "originalStartTime": {"dateTime": "2027-01-05T10:00:00+01:00",
                                         "timeZone": "Europe/Berlin"},
                   "start": {"dateTime": "2027-01-05T19:00:00+01:00"},
                   "end": {"dateTime": "2027-01-05T20:00:00+01:00"}}),
        ];
        assert_eq!(
            slots_for(&events, &req),
            vec![
                "2027-01-04T11:00:00+01:00",
                "2027-01-05T10:00:00+01:00",
                "2027-01-05T10:30:00+01:00",
                "2027-01-05T11:00:00+01:00",
            ]
        );
    }

    #[test]
    fn weekly_series_across_dst_blocks_its_local_hour() {
        let mut req = request(Berlin, "2027-03-22T00:00:00Z", "2027-04-01T00:00:00Z");
        req.working_hours = std::array::from_fn(|_| Vec::new());
        req.working_hours[1] = vec![(t("09:00"), t("12:00"))];
        let events = [series(
            "w",
            "2027-03-16T10:00:00+01:00",
            "2027-03-16T11:00:00+01:00",
            "RRULE:FREQ=WEEKLY;BYDAY=TU",
        )];
        assert_eq!(
            slots_for(&events, &req),
            vec![
                "2027-03-23T09:00:00+01:00",
                "2027-03-23T11:00:00+01:00",
                "2027-03-30T09:00:00+02:00",
                "2027-03-30T11:00:00+02:00",
            ]
        );
    }

    #[test]
    fn declined_and_transparent_events_leave_slots_free() {
        let mut req = request(Berlin, "2027-01-04T08:00:00Z", "2027-01-04T10:00:00Z");
        req.step = Duration::minutes(60);
        let events = [
            json!({"id": "a", "start": {"dateTime": "2027-01-04T09:00:00+01:00"},
                   "end": {"dateTime": "2027-01-04T10:00:00+01:00"},
                   "attendees": [{"email": "me@example.com", "responseStatus": "declined"}]}),
            json!({"id": "b", "transparency": "transparent",
                   "start": {"dateTime": "2027-01-04T10:00:00+01:00"},
                   "end": {"dateTime": "2027-01-04T11:00:00+01:00"}}),
        ];
        assert_eq!(
            slots_for(&events, &req),
            vec!["2027-01-04T09:00:00+01:00", "2027-01-04T10:00:00+01:00"]
        );
    }

    /// Two calendars of 2,000 events each (200 of them series begun up to 8 years ago) over a
    /// 4-week horizon: `cargo test -p patchbay-connectors --release --lib gcal::slots -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn timing_two_calendars_of_2000_events() {
        let from = utc("2027-03-01T00:00:00Z");
        let to = from + Duration::days(28);
        let calendars: Vec<Vec<Value>> = (0..2).map(|c| synthetic_calendar(c, from)).collect();
        let req = SlotRequest {
            time_zone: Berlin,
            from,
            to,
            working_hours: std::array::from_fn(|d| {
                if d < 5 {
                    vec![(t("09:00"), t("17:00"))]
                } else {
                    Vec::new()
                }
            }),
            duration: Duration::minutes(30),
            buffer_before: Duration::minutes(5),
            buffer_after: Duration::minutes(5),
            step: Duration::minutes(15),
            tentative_busy: true,
            max_slots: 1000,
        };
        let mut times = Vec::new();
        let mut found = 0;
        let mut blocks = 0;
        for _ in 0..30 {
            let began = std::time::Instant::now();
            let (lo, hi) = req.busy_window();
            let mut busy = Vec::new();
            for cal in &calendars {
                busy.extend(busy_blocks(cal, lo, hi, Some("me@example.com"), Berlin));
            }
            let slots = available_slots(&busy, &req);
            times.push(began.elapsed());
            found = slots.len();
            blocks = busy.len();
        }
        times.sort();
        println!(
            "busy blocks {blocks}, slots {found}: p50 {:?}, min {:?}, max {:?}",
            times[times.len() / 2],
            times[0],
            times[times.len() - 1]
        );
    }

    /// 1,800 single events over a year around the horizon at any hour, and 200 series begun
    /// 1–8 years ago at any hour: daily, weekly, fortnightly, monthly and, for half of them,
    /// weekly ones that ended before the horizon; each with an EXDATE, some with a cancelled
    /// instance.
    fn synthetic_calendar(cal: i64, from: DateTime<Utc>) -> Vec<Value> {
        let mut events = Vec::new();
        let fmt = |t: DateTime<Utc>| t.with_timezone(&Berlin).to_rfc3339();
        let stamp = |t: DateTime<Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
        for i in 0..1800i64 {
            let s = from - Duration::days(56)
                + Duration::minutes(((i * 7919 + cal * 13) % (52 * 7 * 96)) * 15);
            let e = s + Duration::minutes(30 + (i % 4) * 15);
            let mut ev = json!({"id": format!("c{cal}e{i}"), "status": "confirmed",
                "start": {"dateTime": fmt(s), "timeZone": "Europe/Berlin"},
                "end": {"dateTime": fmt(e), "timeZone": "Europe/Berlin"}});
            match i % 10 {
                0 => ev["transparency"] = json!("transparent"),
                1 => {
                    ev["attendees"] = json!([{"email": "me@example.com",
                                               "responseStatus": "tentative"}])
                }
                _ => {}
            }
            events.push(ev);
        }
        for i in 0..200i64 {
            let years_ago = 1 + i % 8;
            let s = from - Duration::days(365 * years_ago + i % 7)
                + Duration::minutes(((i * 37 + cal * 11) % 96) * 15);
            let e = s + Duration::minutes(30);
            let rule = match i % 10 {
                0 => "RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR".to_string(),
                1 | 2 => "RRULE:FREQ=WEEKLY".to_string(),
                3 => "RRULE:FREQ=WEEKLY;INTERVAL=2".to_string(),
                4 => "RRULE:FREQ=MONTHLY;BYDAY=1MO".to_string(),
                _ => format!(
                    "RRULE:FREQ=WEEKLY;UNTIL={}",
                    stamp(from - Duration::days(40 + i))
                ),
            };
            let id = format!("c{cal}s{i}");
            events.push(json!({"id": id, "status": "confirmed",
                "recurrence": [rule, format!("EXDATE:{}", stamp(s + Duration::days(7)))],
                "start": {"dateTime": fmt(s), "timeZone": "Europe/Berlin"},
                "end": {"dateTime": fmt(e), "timeZone": "Europe/Berlin"}}));
            if i % 5 == 0 {
                events.push(json!({"id": format!("{id}_x"), "status": "cancelled",
                    "recurringEventId": id,
                    "originalStartTime": {"dateTime": fmt(s + Duration::days(7 * 52 * years_ago)),
                                          "timeZone": "Europe/Berlin"}}));
            }
        }
        events
    }
}
