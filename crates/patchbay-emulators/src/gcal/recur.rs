//! Recurring events: the `recurrence` lines (`RRULE`, `EXDATE`, `RDATE`) read into an
//! `rrule` set in the event's zone, so instances keep their wall-clock time across DST
//! changes while their UTC offset moves.

use super::time::{local, resolve, When};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use rrule::{RRule, RRuleSet, Unvalidated};

/// Instances computed per series at most, so `FREQ=MINUTELY` without an end stays cheap.
pub const MAX_INSTANCES: usize = 5000;

#[derive(Debug, Clone)]
pub struct Series {
    set: RRuleSet,
    all_day: bool,
}

/// The set for `lines` starting at `start`; timed rules run in `zone`.
pub fn parse(lines: &[String], start: When, zone: Tz) -> Result<Series, String> {
    let all_day = matches!(start, When::Date(_));
    let dt_start = match start {
        When::Date(d) => rrule::Tz::UTC.from_utc_datetime(&d.and_time(NaiveTime::MIN)),
        When::At(t) => t.with_timezone(&rrule::Tz::Tz(zone)),
    };
    let mut set = RRuleSet::new(dt_start);
    for line in lines {
        let (head, value) = line
            .split_once(':')
            .ok_or_else(|| format!("not a recurrence line: {line}"))?;
        let mut params = head.split(';');
        let name = params.next().unwrap_or_default().to_ascii_uppercase();
        let mut tzid = None;
        for param in params {
            if let Some(z) = param.strip_prefix("TZID=") {
                tzid = Some(z.parse::<Tz>().map_err(|_| format!("unknown zone {z}"))?);
            }
        }
        match name.as_str() {
            "RRULE" => {
                let rule = until_in_utc(value, all_day, zone);
                let rule: RRule<Unvalidated> = rule.parse().map_err(|e| format!("{e}"))?;
                let rule = rule.validate(dt_start).map_err(|e| format!("{e}"))?;
                set = set.rrule(rule);
            }
            "EXDATE" | "RDATE" => {
                for item in value.split(',').filter(|v| !v.is_empty()) {
                    let at = date_value(item, tzid.unwrap_or(zone), all_day, start, zone)?;
                    let at = if all_day {
                        rrule::Tz::UTC.from_utc_datetime(&at)
                    } else {
                        at.and_utc().with_timezone(&rrule::Tz::Tz(zone))
                    };
                    set = if name == "EXDATE" {
                        set.exdate(at)
                    } else {
                        set.rdate(at)
                    };
                }
            }
            // EXRULE is deprecated (RFC 5545) and Google ignores it.
            "EXRULE" => {}
            other => return Err(format!("unsupported recurrence property {other}")),
        }
    }
    Ok(Series { set, all_day })
}

/// An `EXDATE`/`RDATE` value as a naive time: local midnight for all-day series, UTC for
/// timed ones. A bare date in a timed series means the start's wall-clock time that day.
fn date_value(
    item: &str,
    tz: Tz,
    all_day: bool,
    start: When,
    zone: Tz,
) -> Result<NaiveDateTime, String> {
    let bad = || format!("invalid date {item}");
    if let Ok(d) = NaiveDate::parse_from_str(item, "%Y%m%d") {
        return Ok(match start {
            When::Date(_) => d.and_time(NaiveTime::MIN),
            When::At(t) => resolve(zone, d.and_time(local(t, zone).time())).naive_utc(),
        });
    }
    let (stamp, utc) = match item.strip_suffix('Z') {
        Some(s) => (s, true),
        None => (item, false),
    };
    let naive = NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%S").map_err(|_| bad())?;
    let instant = if utc {
        naive.and_utc()
    } else {
        resolve(tz, naive)
    };
    Ok(if all_day {
        local(instant, zone).date().and_time(NaiveTime::MIN)
    } else {
        instant.naive_utc()
    })
}

/// `UNTIL` in UTC, as `rrule` wants it for zoned starts: a bare date is the end of that
/// day, a floating time is read in the event's zone.
fn until_in_utc(rule: &str, all_day: bool, zone: Tz) -> String {
    let parts = rule.split(';').map(|part| {
        let Some(value) = part.strip_prefix("UNTIL=") else {
            return part.to_string();
        };
        if value.ends_with('Z') {
            return part.to_string();
        }
        let instant = if let Ok(d) = NaiveDate::parse_from_str(value, "%Y%m%d") {
            if all_day {
                d.and_time(NaiveTime::MIN).and_utc()
            } else {
                resolve(zone, d.and_hms_opt(23, 59, 59).unwrap_or_default())
            }
        } else if let Ok(t) = NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S") {
            if all_day {
                t.and_utc()
            } else {
                resolve(zone, t)
            }
        } else {
            return part.to_string();
        };
        format!("UNTIL={}", instant.format("%Y%m%dT%H%M%SZ"))
    });
    parts.collect::<Vec<_>>().join(";")
}

impl Series {
    /// Original starts in order, from the first.
    pub fn starts(&self) -> impl Iterator<Item = When> + '_ {
        let all_day = self.all_day;
        (&self.set)
            .into_iter()
            .take(MAX_INSTANCES)
            .map(move |t: DateTime<rrule::Tz>| {
                if all_day {
                    When::Date(t.date_naive())
                } else {
                    When::At(t.with_timezone(&Utc))
                }
            })
    }

    /// Whether `start` is one of the series' original starts.
    pub fn has(&self, start: When, zone: Tz) -> bool {
        let target = start.instant(zone);
        self.starts()
            .map(|s| (s, s.instant(zone)))
            .take_while(|(_, t)| *t <= target)
            .any(|(s, _)| s == start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> When {
        When::At(DateTime::parse_from_rfc3339(s).unwrap().to_utc())
    }

    #[test]
    fn weekly_keeps_wall_clock_time_across_dst() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let lines = vec!["RRULE:FREQ=WEEKLY;COUNT=3".to_string()];
        let series = parse(&lines, at("2027-03-23T10:00:00+01:00"), berlin).unwrap();
        let starts: Vec<When> = series.starts().collect();
        assert_eq!(
            starts,
            [
                at("2027-03-23T09:00:00Z"),
                at("2027-03-30T08:00:00Z"),
                at("2027-04-06T08:00:00Z")
            ]
        );
    }

    #[test]
    fn exdate_rdate_and_until_dates() {
        use chrono::Datelike;
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let lines = vec![
            "RRULE:FREQ=DAILY;UNTIL=20270305".to_string(),
            "EXDATE;TZID=Europe/Berlin:20270302T093000".to_string(),
            "RDATE;TZID=Europe/Berlin:20270310T093000".to_string(),
        ];
        let series = parse(&lines, at("2027-03-01T09:30:00+01:00"), berlin).unwrap();
        let days: Vec<u32> = series
            .starts()
            .map(|w| local(w.instant(berlin), berlin).date().day0() + 1)
            .collect();
        assert_eq!(days, [1, 3, 4, 5, 10]);
    }
}
