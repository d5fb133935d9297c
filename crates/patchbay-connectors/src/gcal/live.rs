//! Live reads of the owner's primary calendar: today's and the next 24 hours' events as
//! signals, and the dashboard's `next_event`, `today` and `week_busy`.

use super::{actions, expand};
use crate::google::Api;
use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use patchbay_core::{ConnectorError, DataPayload, DataShape, Signal, SignalKind};
use serde_json::{json, Value};

/// Working hours `week_busy` measures against: Monday to Friday, 09:00 to 17:00.
const WORK_START: (u32, u32) = (9, 0);
const WORK_END: (u32, u32) = (17, 0);

/// Local midnight of `t`'s day in `tz`.
fn day_start(tz: Tz, t: DateTime<Utc>) -> DateTime<Utc> {
    let local = t.with_timezone(&tz).date_naive();
    local_instant(tz, local, NaiveTime::MIN)
}

/// A local wall-clock time as an instant: the earlier of two (autumn), the first valid one
/// after a gap (spring).
fn local_instant(tz: Tz, date: chrono::NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let mut naive = date.and_time(time);
    for _ in 0..4 {
        if let Some(t) = tz.from_local_datetime(&naive).earliest() {
            return t.with_timezone(&Utc);
        }
        naive += Duration::minutes(30);
    }
    Utc.from_utc_datetime(&naive)
}

/// Whether the account attends: not declined, and on the list or its organizer.
fn attends(event: &Value, me: &str) -> bool {
    if event["status"] == "cancelled" {
        return false;
    }
    match event["attendees"].as_array() {
        Some(list) => list
            .iter()
            .find(|a| {
                a["self"] == true
                    || a["email"]
                        .as_str()
                        .is_some_and(|e| e.eq_ignore_ascii_case(me))
            })
            .is_none_or(|a| a["responseStatus"] != "declined"),
        None => true,
    }
}

fn start_of(event: &Value) -> Option<String> {
    event["start"]["dateTime"]
        .as_str()
        .or_else(|| event["start"]["date"].as_str())
        .map(str::to_string)
}

/// The owner's events from local midnight today to 24 hours from now, in start order.
pub async fn upcoming(api: &Api<'_>, tz: Tz, me: &str) -> Result<Vec<Value>, ConnectorError> {
    let now = Utc::now();
    let q = vec![
        ("timeMin", day_start(tz, now).to_rfc3339()),
        ("timeMax", (now + Duration::hours(24)).to_rfc3339()),
        ("singleEvents", "true".to_string()),
        ("orderBy", "startTime".to_string()),
        ("maxResults", "250".to_string()),
    ];
    let answer = api.get(&["calendars", "primary", "events"], &q).await?;
    Ok(answer["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| attends(e, me))
        .cloned()
        .collect())
}

pub fn signals(events: &[Value]) -> Vec<Signal> {
    events
        .iter()
        .filter_map(|e| {
            Some(Signal {
                id: e["id"].as_str()?.to_string(),
                source: super::KEY.into(),
                kind: SignalKind::Event,
                title: e["summary"].as_str().unwrap_or("(no title)").to_string(),
                due: start_of(e),
                url: e["htmlLink"].as_str().map(str::to_string),
                priority: None,
                record: e.clone(),
            })
        })
        .collect()
}

pub fn next_event(events: &[Value]) -> DataPayload {
    let now = Utc::now();
    let next = events.iter().find(|e| {
        e["start"]["dateTime"]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .is_some_and(|t| t >= now)
    });
    let data = match next {
        Some(e) => json!({"label": "Next event", "value": e["summary"], "at": start_of(e),
                          "location": e["location"], "url": e["htmlLink"]}),
        None => json!({"label": "Next event", "value": null}),
    };
    DataPayload {
        shape: DataShape::Stat,
        data,
    }
}

pub fn today(events: &[Value], tz: Tz) -> DataPayload {
    let tomorrow = day_start(tz, Utc::now()) + Duration::hours(24);
    let items: Vec<Value> = events
        .iter()
        .filter(|e| {
            e["start"]["dateTime"]
                .as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .is_none_or(|t| t < tomorrow)
        })
        .map(|e| {
            json!({"title": e["summary"], "start": start_of(e), "location": e["location"],
                        "url": e["htmlLink"]})
        })
        .collect();
    DataPayload {
        shape: DataShape::List,
        data: json!({"title": "Today", "items": items}),
    }
}

/// Busy hours this week (Monday to Sunday, local) inside working hours, over working hours.
pub async fn week_busy(api: &Api<'_>, tz: Tz, me: &str) -> Result<DataPayload, ConnectorError> {
    let now = Utc::now();
    let today = now.with_timezone(&tz).date_naive();
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let from = local_instant(tz, monday, NaiveTime::MIN);
    let to = local_instant(tz, monday + Duration::days(7), NaiveTime::MIN);
    let events =
        actions::events_between(api, "primary", &from.to_rfc3339(), &to.to_rfc3339()).await?;
    let mut busy = expand::busy_blocks(&events, from, to, Some(me), tz);
    busy.sort_by_key(|b| b.start);
    let (mut worked, mut busy_secs) = (0i64, 0i64);
    for d in 0..5 {
        let date = monday + Duration::days(d);
        let start = local_instant(
            tz,
            date,
            NaiveTime::from_hms_opt(WORK_START.0, WORK_START.1, 0).unwrap_or(NaiveTime::MIN),
        );
        let end = local_instant(
            tz,
            date,
            NaiveTime::from_hms_opt(WORK_END.0, WORK_END.1, 0).unwrap_or(NaiveTime::MIN),
        );
        worked += (end - start).num_seconds();
        // Merged overlap of the busy blocks with this window.
        let mut cursor = start;
        for b in &busy {
            let s = b.start.max(cursor);
            let e = b.end.min(end);
            if e > s {
                busy_secs += (e - s).num_seconds();
                cursor = e;
            }
        }
    }
    let hours = |s: i64| (s as f64 / 360.0).round() / 10.0;
    Ok(DataPayload {
        shape: DataShape::Gauge,
        data: json!({"label": "Busy this week", "value": hours(busy_secs), "min": 0,
                     "max": hours(worked), "unit": "hours"}),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attendance_follows_the_own_answer() {
        let me = "ada@example.com";
        let with = |status: &str| {
            json!({"status": "confirmed", "attendees": [
                {"email": "zoe@example.com", "responseStatus": "accepted"},
                {"email": "Ada@Example.com", "responseStatus": status}]})
        };
        assert!(attends(&with("accepted"), me));
        assert!(attends(&with("tentative"), me));
        assert!(!attends(&with("declined"), me));
        assert!(attends(&json!({"status": "confirmed"}), me), "own event");
        assert!(!attends(&json!({"status": "cancelled"}), me));
    }

    #[test]
    fn local_times_survive_daylight_saving_gaps() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let spring = chrono::NaiveDate::from_ymd_opt(2027, 3, 28).unwrap();
        // 02:30 does not exist that night: the first valid instant after it.
        let t = local_instant(tz, spring, NaiveTime::from_hms_opt(2, 30, 0).unwrap());
        assert_eq!(t.to_rfc3339(), "2027-03-28T01:00:00+00:00");
        let t = local_instant(tz, spring, NaiveTime::from_hms_opt(9, 0, 0).unwrap());
        assert_eq!(t.to_rfc3339(), "2027-03-28T07:00:00+00:00");
    }
}
