//! Google Calendar events → busy blocks.
//!
//! Reads Event resources as `events.list` returns them with `singleEvents=false` and
//! `showDeleted=true`: recurring series (`recurrence` lines), their exceptions
//! (`recurringEventId` + `originalStartTime`) and single events, and answers the busy time in a
//! window. Pure: no I/O, never panics on input; an event that cannot be read is skipped.
//!
//! Behaviour:
//! - `status: "cancelled"` is never busy; a cancelled exception removes its occurrence from the
//!   series. `status: "tentative"` on the event itself is plainly busy: it is not the owner's
//!   answer.
//! - `transparency: "transparent"` is not busy.
//! - The owner's own attendee entry (`self: true`, else the first whose email equals `owner`,
//!   ignoring ASCII case) decides: `declined` → not busy, `tentative` → busy with
//!   `tentative: true`, anything else (or no entry, e.g. the owner organizes) → busy.
//! - Every exception replaces the occurrence whose start equals its `originalStartTime`
//!   (instants for timed series, dates for all-day series), whatever its own state; an exception
//!   is then busy (or not) on its own terms at its own time, so one moved far away is busy
//!   there and frees the original occurrence.
//! - All-day events are busy from local midnight of `start.date` to local midnight of the
//!   exclusive `end.date` in `calendar_tz` (a day with a DST switch is 23 or 25 hours).
//! - Timed series are expanded in `start.timeZone` (else `calendar_tz`), so a weekly 10:00
//!   meeting stays at 10:00 local across DST. Each occurrence lasts the exact duration of the
//!   first (RFC 5545). The DTSTART itself is always an occurrence, as in RFC 5545, even where the
//!   rule would not produce it.
//! - EXDATE/RDATE values may be UTC (`…Z`), zoned (`;TZID=…`), floating (read in the series'
//!   zone) or dates (`VALUE=DATE`; on a timed series the date at the series' local start time).
//!   An RDATE `PERIOD` counts from its start with the series' duration. EXRULE is ignored
//!   (Google does not write it). UNTIL may be a date, floating or UTC and is made UTC here.
//! - The `rrule` crate expands the rules; the set is built from values rather than parsed
//!   text because its parser rejects DTSTART/EXDATE local times inside a DST gap or overlap and
//!   reads floating values in the machine's zone. Only occurrences that can overlap the window
//!   are read, and a DAILY, WEEKLY, MONTHLY or YEARLY rule without COUNT is walked from a DTSTART
//!   moved forward by whole intervals to just before the window (the rule's defaults still come
//!   from the real DTSTART), so a series that began years ago costs only the window's
//!   occurrences. A series yields at most 50,000 occurrences per window.
//! - HOURLY, MINUTELY and SECONDLY rules, which Google Calendar does not create, are ignored
//!   (DTSTART and RDATEs still count). A series whose RRULE the crate rejects is skipped whole.
//!   An UNTIL past the year 9999 is read as the end of 9999; an unknown TZID leaves values
//!   floating.
//! - Blocks are clipped to `[from, to)`; empty ones are dropped. The result is sorted by start
//!   and not merged (blocks of one calendar may overlap).
//! - A local time inside a DST gap maps to the first instant after the gap, an ambiguous one to
//!   the earlier instant.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use rrule::{RRule, RRuleSet, Unvalidated};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// One busy stretch of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Busy {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The owner answered "maybe".
    pub tentative: bool,
}

/// Busy time in [from, to) from Google Calendar Event resources as `events.list` returns them
/// with singleEvents=false and showDeleted=true: series (with `recurrence` lines RRULE / EXDATE /
/// RDATE), their exceptions (`recurringEventId` + `originalStartTime`, possibly `status: cancelled`
/// or moved), and single events. `owner` is the calendar owner's address (whose declines free the time).
pub fn busy_blocks(
    events: &[Value],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    owner: Option<&str>,
    calendar_tz: Tz,
) -> Vec<Busy> {
    let mut out = Vec::new();
    if to <= from {
        return out;
    }
    // Exceptions by the series they belong to.
    let mut overrides: HashMap<&str, Vec<When>> = HashMap::new();
    for ev in events {
        if let (Some(series), Some(orig)) = (
            ev["recurringEventId"].as_str(),
            parse_when(&ev["originalStartTime"], calendar_tz),
        ) {
            overrides.entry(series).or_default().push(orig);
        }
    }
    let window = Window { from, to };
    for ev in events {
        let tentative = match attendance(ev, owner) {
            Attendance::Free => continue,
            Attendance::Busy => false,
            Attendance::Tentative => true,
        };
        let recurrence: Vec<&str> = ev["recurrence"]
            .as_array()
            .map(|lines| lines.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let Some(start) = parse_when(&ev["start"], calendar_tz) else {
            continue;
        };
        let Some(end) = parse_when(&ev["end"], calendar_tz) else {
            continue;
        };
        if recurrence.is_empty() {
            if let Some((s, e)) = span(start, end, calendar_tz) {
                window.push(&mut out, s, e, tentative);
            }
            continue;
        }
        let skip = ev["id"]
            .as_str()
            .and_then(|id| overrides.get(id))
            .map(Vec::as_slice)
            .unwrap_or_default();
        match (start, end) {
            (When::Instant(s, zone), When::Instant(e, _)) => {
                let series = TimedSeries {
                    start: s,
                    duration: e - s,
                    zone: zone.unwrap_or(calendar_tz),
                };
                series.expand(&recurrence, skip, &window, tentative, &mut out);
            }
            (When::Date(s), When::Date(e)) => {
                let series = AllDaySeries {
                    start: s,
                    days: (e - s).num_days().max(1),
                    calendar_tz,
                };
                series.expand(&recurrence, skip, &window, tentative, &mut out);
            }
            _ => {}
        }
    }
    out.sort();
    out
}

/// The instant a local time stands for: the earlier one when ambiguous (fall-back), the first
/// valid instant after it when it falls in a gap (spring-forward).
pub(crate) fn resolve_local(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => {
            // Gaps end on a whole minute; the longest on record is a day (Samoa, 2011).
            for minutes in 1..=(26 * 60) {
                let later = local + Duration::minutes(minutes);
                match tz.from_local_datetime(&later) {
                    LocalResult::Single(t) => return t.with_timezone(&Utc),
                    LocalResult::Ambiguous(a, b) => return a.min(b).with_timezone(&Utc),
                    LocalResult::None => {}
                }
            }
            Utc.from_utc_datetime(&local)
        }
    }
}

/// An event's `start`, `end` or `originalStartTime`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum When {
    Date(NaiveDate),
    /// The instant and the event's `timeZone`, if it names a known zone.
    Instant(DateTime<Utc>, Option<Tz>),
}

fn parse_when(v: &Value, calendar_tz: Tz) -> Option<When> {
    let zone = v["timeZone"].as_str().and_then(|z| z.parse::<Tz>().ok());
    if let Some(s) = v["dateTime"].as_str() {
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Some(When::Instant(t.with_timezone(&Utc), zone));
        }
        // Google allows a dateTime without offset when timeZone names the zone.
        let local = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
        return Some(When::Instant(
            resolve_local(zone.unwrap_or(calendar_tz), local),
            zone,
        ));
    }
    let d = v["date"].as_str()?;
    NaiveDate::parse_from_str(d, "%Y-%m-%d")
        .ok()
        .map(When::Date)
}

fn local_midnight(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    resolve_local(tz, date.and_time(chrono::NaiveTime::MIN))
}

/// The busy span of a single event or exception.
fn span(start: When, end: When, calendar_tz: Tz) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    match (start, end) {
        (When::Instant(s, _), When::Instant(e, _)) => Some((s, e)),
        (When::Date(s), When::Date(e)) => {
            let e = if e > s { e } else { s.succ_opt()? };
            Some((
                local_midnight(calendar_tz, s),
                local_midnight(calendar_tz, e),
            ))
        }
        _ => None,
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Attendance {
    Busy,
    Tentative,
    Free,
}

fn attendance(ev: &Value, owner: Option<&str>) -> Attendance {
    if ev["status"].as_str() == Some("cancelled")
        || ev["transparency"].as_str() == Some("transparent")
    {
        return Attendance::Free;
    }
    let attendees = ev["attendees"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let me = attendees
        .iter()
        .find(|a| a["self"].as_bool() == Some(true))
        .or_else(|| {
            let owner = owner?;
            attendees.iter().find(|a| {
                a["email"]
                    .as_str()
                    .is_some_and(|e| e.eq_ignore_ascii_case(owner))
            })
        });
    match me.and_then(|a| a["responseStatus"].as_str()) {
        Some("declined") => Attendance::Free,
        Some("tentative") => Attendance::Tentative,
        _ => Attendance::Busy,
    }
}

struct Window {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

impl Window {
    fn push(&self, out: &mut Vec<Busy>, start: DateTime<Utc>, end: DateTime<Utc>, tentative: bool) {
        let start = start.max(self.from);
        let end = end.min(self.to);
        if start < end {
            out.push(Busy {
                start,
                end,
                tentative,
            });
        }
    }
}

/// A date or date-time value of an EXDATE or RDATE line, its TZID already applied.
#[derive(Debug, Clone, Copy, PartialEq)]
enum DateValue {
    Date(NaiveDate),
    Utc(DateTime<Utc>),
    Floating(NaiveDateTime),
}

/// Splits a content line into its upper-cased name, the zone its TZID names (an unknown one
/// leaves the values floating) and its value.
fn content_line(line: &str) -> Option<(String, Option<Tz>, &str)> {
    let (head, value) = line.trim().split_once(':')?;
    let mut parts = head.split(';');
    let name = parts.next()?.trim().to_ascii_uppercase();
    let zone = parts
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("TZID"))
        .and_then(|(_, v)| v.trim().trim_matches('"').parse::<Tz>().ok());
    Some((name, zone, value.trim()))
}

fn parse_ical_value(v: &str, zone: Option<Tz>) -> Option<DateValue> {
    let v = v.trim();
    // A PERIOD counts from its start.
    let v = v.split_once('/').map_or(v, |(start, _)| start);
    if v.len() == 8 {
        return NaiveDate::parse_from_str(v, "%Y%m%d")
            .ok()
            .map(DateValue::Date);
    }
    let (body, utc) = match v.strip_suffix(['Z', 'z']) {
        Some(b) => (b, true),
        None => (v, false),
    };
    let local = NaiveDateTime::parse_from_str(body, "%Y%m%dT%H%M%S").ok()?;
    Some(match (utc, zone) {
        (true, _) => DateValue::Utc(Utc.from_utc_datetime(&local)),
        (false, Some(tz)) => DateValue::Utc(resolve_local(tz, local)),
        (false, None) => DateValue::Floating(local),
    })
}

/// The values of an EXDATE or RDATE line (comma-separated, possibly several).
fn parse_date_line(zone: Option<Tz>, value: &str) -> Vec<DateValue> {
    value
        .split(',')
        .filter_map(|v| parse_ical_value(v, zone))
        .collect()
}

/// What the expansion needs to know about an RRULE line beyond what the crate checks.
struct Rule {
    /// The rule text with UNTIL made UTC.
    text: String,
    freq: String,
    interval: i64,
    has_count: bool,
    until: Option<DateTime<Utc>>,
}

/// Reads an RRULE value; `until_of` turns its UNTIL value into an instant.
fn parse_rule(value: &str, until_of: impl Fn(DateValue) -> DateTime<Utc>) -> Option<Rule> {
    let mut parts = Vec::new();
    let mut freq = String::new();
    let mut interval = 1;
    let mut has_count = false;
    let mut until = None;
    for part in value.split(';').filter(|p| !p.trim().is_empty()) {
        let (k, v) = part.split_once('=')?;
        let k = k.trim().to_ascii_uppercase();
        match k.as_str() {
            "UNTIL" => {
                // Four-digit years only, as the crate reads them ("forever" is often 99991231).
                let last = NaiveDate::from_ymd_opt(9999, 12, 31)?.and_hms_opt(23, 59, 59)?;
                let u = until_of(parse_ical_value(v, None)?).min(Utc.from_utc_datetime(&last));
                until = Some(u);
                parts.push(format!("UNTIL={}", u.format("%Y%m%dT%H%M%SZ")));
                continue;
            }
            "FREQ" => freq = v.trim().to_ascii_uppercase(),
            "INTERVAL" => interval = v.trim().parse().ok().filter(|i: &i64| *i > 0)?,
            "COUNT" => has_count = true,
            _ => {}
        }
        parts.push(format!("{k}={}", v.trim().to_ascii_uppercase()));
    }
    Some(Rule {
        text: parts.join(";"),
        freq,
        interval,
        has_count,
        until,
    })
}

/// The recurrence lines of a series, read.
struct Lines {
    rules: Vec<Rule>,
    exdates: Vec<DateValue>,
    rdates: Vec<DateValue>,
}

fn read_lines(recurrence: &[&str], until_of: impl Fn(DateValue) -> DateTime<Utc>) -> Option<Lines> {
    let mut lines = Lines {
        rules: Vec::new(),
        exdates: Vec::new(),
        rdates: Vec::new(),
    };
    for line in recurrence {
        let Some((name, zone, value)) = content_line(line) else {
            continue;
        };
        match name.as_str() {
            "RRULE" => lines.rules.push(parse_rule(value, &until_of)?),
            "EXDATE" => lines.exdates.extend(parse_date_line(zone, value)),
            "RDATE" => lines.rdates.extend(parse_date_line(zone, value)),
            _ => {}
        }
    }
    Some(lines)
}

/// How far a DTSTART may be moved forward, in whole periods of its only rule, without changing
/// later occurrences. Rules without COUNT only (a COUNT is counted from the first occurrence).
/// The rules are validated against the original DTSTART, which fixes the defaults it implies
/// (weekday, day of month, month, time of day); moving by whole periods keeps the alignment of
/// INTERVAL and WKST.
#[derive(Debug, Clone, Copy)]
enum Period {
    Days(i64),
    /// To the first of the month, whole periods later.
    Months(i64),
}

fn movable_period(rules: &[Rule]) -> Option<Period> {
    let [rule] = rules else { return None };
    if rule.has_count {
        return None;
    }
    let i = rule.interval;
    match rule.freq.as_str() {
        "DAILY" => Some(Period::Days(i)),
        "WEEKLY" => i.checked_mul(7).map(Period::Days),
        "MONTHLY" => Some(Period::Months(i)),
        "YEARLY" => i.checked_mul(12).map(Period::Months),
        _ => None,
    }
}

/// Dates at least one period before `target` reached from `start` by whole periods, latest
/// first (a few, in case the time of day does not exist on one of them).
fn moved_dates(start: NaiveDate, target: NaiveDate, period: Period) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    match period {
        Period::Days(p) if p > 0 => {
            let k = (target - start).num_days() / p - 1;
            for k in (1..=k).rev().take(3) {
                if let Some(d) = k
                    .checked_mul(p)
                    .and_then(|days| start.checked_add_signed(Duration::days(days)))
                {
                    out.push(d);
                }
            }
        }
        Period::Months(p) if p > 0 => {
            let month_index = |d: NaiveDate| i64::from(d.year()) * 12 + i64::from(d.month0());
            let k = (month_index(target) - month_index(start)) / p - 1;
            for k in (1..=k).rev().take(3) {
                let Some(m) = k.checked_mul(p).map(|m| month_index(start) + m) else {
                    continue;
                };
                let (Ok(year), Ok(month0)) = (i32::try_from(m / 12), u32::try_from(m % 12)) else {
                    continue;
                };
                if let Some(d) = NaiveDate::from_ymd_opt(year, month0 + 1, 1) {
                    out.push(d);
                }
            }
        }
        _ => {}
    }
    out
}

/// Occurrences of one series in one window at most; Google's own rules come nowhere near (a
/// daily series over 90 days has 90), a hostile SECONDLY rule would.
const MAX_OCCURRENCES: usize = 50_000;

const SUB_DAILY: [&str; 3] = ["HOURLY", "MINUTELY", "SECONDLY"];

/// Occurrence starts of a set in [after, before], as instants.
fn occurrences(
    dt_start: DateTime<rrule::Tz>,
    iter_start: DateTime<rrule::Tz>,
    rules: &[Rule],
    exdates: Vec<DateTime<rrule::Tz>>,
    rdates: Vec<DateTime<rrule::Tz>>,
    after: DateTime<Utc>,
    before: DateTime<Utc>,
) -> Option<Vec<DateTime<Utc>>> {
    let tz = dt_start.timezone();
    let mut set = RRuleSet::new(iter_start)
        .set_exdates(exdates)
        .set_rdates(rdates);
    for rule in rules {
        // A rule that ended before the window adds nothing there. Google does not create
        // sub-daily rules; walking one minute by minute from a DTSTART years back is too costly.
        if rule.until.is_some_and(|u| u < after) || SUB_DAILY.contains(&rule.freq.as_str()) {
            continue;
        }
        let mut parsed: RRule<Unvalidated> = rule.text.parse().ok()?;
        if rule.until.is_some_and(|u| u < dt_start.with_timezone(&Utc)) {
            // UNTIL before DTSTART: the rule yields nothing beyond DTSTART.
            parsed = parsed.until(dt_start.with_timezone(&rrule::Tz::UTC));
        }
        set = set.rrule(parsed.validate(dt_start).ok()?);
    }
    // Occurrences come in order; `limit` bounds the crate's search for rules that match
    // nothing (BYMONTHDAY=31;BYMONTH=2).
    let set = set.limit();
    let (after, before) = (after.with_timezone(&tz), before.with_timezone(&tz));
    let mut out: Vec<DateTime<Utc>> = set
        .into_iter()
        .skip_while(|d| *d < after)
        .take_while(|d| *d <= before)
        .take(MAX_OCCURRENCES)
        .map(|d| d.with_timezone(&Utc))
        .collect();
    out.sort();
    out.dedup();
    Some(out)
}

struct TimedSeries {
    start: DateTime<Utc>,
    duration: Duration,
    zone: Tz,
}

impl TimedSeries {
    fn instant(&self, v: DateValue) -> DateTime<Utc> {
        match v {
            DateValue::Utc(t) => t,
            DateValue::Floating(local) => resolve_local(self.zone, local),
            DateValue::Date(d) => {
                let time = self.start.with_timezone(&self.zone).time();
                resolve_local(self.zone, d.and_time(time))
            }
        }
    }

    fn at(&self, t: DateTime<Utc>) -> DateTime<rrule::Tz> {
        t.with_timezone(&rrule::Tz::Tz(self.zone))
    }

    /// Where to start iterating: DTSTART moved forward by whole periods to before `after`.
    fn iter_start(&self, period: Option<Period>, after: DateTime<Utc>) -> DateTime<Utc> {
        let Some(period) = period else {
            return self.start;
        };
        let local = self.start.with_timezone(&self.zone).naive_local();
        let target = after.with_timezone(&self.zone).date_naive();
        for d in moved_dates(local.date(), target, period) {
            // Only where the local time exists once, so that it stays the same.
            if let LocalResult::Single(t) = self.zone.from_local_datetime(&d.and_time(local.time()))
            {
                return t.with_timezone(&Utc);
            }
        }
        self.start
    }

    fn expand(
        &self,
        recurrence: &[&str],
        skip: &[When],
        window: &Window,
        tentative: bool,
        out: &mut Vec<Busy>,
    ) {
        if self.duration <= Duration::zero() {
            return;
        }
        let Some(lines) = read_lines(recurrence, |v| self.instant_until(v)) else {
            return;
        };
        let after = window.from - self.duration;
        let iter_start = self.iter_start(movable_period(&lines.rules), after);
        let exdates = lines
            .exdates
            .iter()
            .map(|v| self.at(self.instant(*v)))
            .collect();
        let mut rdates: Vec<_> = lines
            .rdates
            .iter()
            .map(|v| self.at(self.instant(*v)))
            .collect();
        rdates.push(self.at(self.start));
        let Some(starts) = occurrences(
            self.at(self.start),
            self.at(iter_start),
            &lines.rules,
            exdates,
            rdates,
            after,
            window.to,
        ) else {
            return;
        };
        let skip_instants: HashSet<i64> = skip
            .iter()
            .filter_map(|w| match w {
                When::Instant(t, _) => Some(t.timestamp()),
                When::Date(_) => None,
            })
            .collect();
        let skip_dates: HashSet<NaiveDate> = skip
            .iter()
            .filter_map(|w| match w {
                When::Date(d) => Some(*d),
                When::Instant(..) => None,
            })
            .collect();
        for s in starts {
            if skip_instants.contains(&s.timestamp())
                || (!skip_dates.is_empty()
                    && skip_dates.contains(&s.with_timezone(&self.zone).date_naive()))
            {
                continue;
            }
            window.push(out, s, s + self.duration, tentative);
        }
    }

    /// UNTIL of a timed series: a date includes that whole local day.
    fn instant_until(&self, v: DateValue) -> DateTime<Utc> {
        match v {
            DateValue::Date(d) => match d.succ_opt() {
                Some(next) => local_midnight(self.zone, next) - Duration::seconds(1),
                None => DateTime::<Utc>::MAX_UTC,
            },
            other => self.instant(other),
        }
    }
}

/// An all-day series, expanded on dates (as midnights in UTC) and mapped to local midnights of
/// the calendar's zone.
struct AllDaySeries {
    start: NaiveDate,
    days: i64,
    calendar_tz: Tz,
}

impl AllDaySeries {
    fn date(&self, v: DateValue) -> NaiveDate {
        match v {
            DateValue::Date(d) => d,
            DateValue::Floating(local) => local.date(),
            DateValue::Utc(t) => t.with_timezone(&self.calendar_tz).date_naive(),
        }
    }

    fn at(d: NaiveDate) -> DateTime<rrule::Tz> {
        rrule::Tz::UTC.from_utc_datetime(&d.and_time(chrono::NaiveTime::MIN))
    }

    fn expand(
        &self,
        recurrence: &[&str],
        skip: &[When],
        window: &Window,
        tentative: bool,
        out: &mut Vec<Busy>,
    ) {
        let Some(lines) = read_lines(recurrence, |v| Self::at(self.date(v)).with_timezone(&Utc))
        else {
            return;
        };
        // Dates whose local days can overlap the window, with a day's slack for the zone.
        let first = window.from.with_timezone(&self.calendar_tz).date_naive();
        let last = window.to.with_timezone(&self.calendar_tz).date_naive();
        let (Some(after), Some(before)) = (
            first.checked_sub_signed(Duration::days(self.days)),
            last.succ_opt(),
        ) else {
            return;
        };
        let iter_start = movable_period(&lines.rules)
            .and_then(|p| moved_dates(self.start, after, p).first().copied())
            .unwrap_or(self.start);
        let exdates = lines
            .exdates
            .iter()
            .map(|v| Self::at(self.date(*v)))
            .collect();
        let mut rdates: Vec<_> = lines
            .rdates
            .iter()
            .map(|v| Self::at(self.date(*v)))
            .collect();
        rdates.push(Self::at(self.start));
        let Some(starts) = occurrences(
            Self::at(self.start),
            Self::at(iter_start),
            &lines.rules,
            exdates,
            rdates,
            Self::at(after).with_timezone(&Utc),
            Self::at(before).with_timezone(&Utc),
        ) else {
            return;
        };
        let skip: HashSet<NaiveDate> = skip
            .iter()
            .map(|w| match w {
                When::Date(d) => *d,
                When::Instant(t, zone) => t
                    .with_timezone(&zone.unwrap_or(self.calendar_tz))
                    .date_naive(),
            })
            .collect();
        for s in starts {
            let d = s.date_naive();
            if skip.contains(&d) {
                continue;
            }
            let Some(end) = d.checked_add_signed(Duration::days(self.days)) else {
                continue;
            };
            window.push(
                out,
                local_midnight(self.calendar_tz, d),
                local_midnight(self.calendar_tz, end),
                tentative,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America::New_York, Europe::Berlin};
    use serde_json::json;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn blocks(events: &[Value], from: &str, to: &str) -> Vec<(String, String)> {
        busy_blocks(events, utc(from), utc(to), Some("me@example.com"), Berlin)
            .iter()
            .map(|b| (b.start.to_rfc3339(), b.end.to_rfc3339()))
            .collect()
    }

    fn pair(s: &str, e: &str) -> (String, String) {
        (utc(s).to_rfc3339(), utc(e).to_rfc3339())
    }

    fn timed(id: &str, start: &str, end: &str) -> Value {
        json!({"id": id, "status": "confirmed",
               "start": {"dateTime": start, "timeZone": "Europe/Berlin"},
               "end": {"dateTime": end, "timeZone": "Europe/Berlin"}})
    }

    fn series(id: &str, start: &str, end: &str, lines: &[&str]) -> Value {
        let mut ev = timed(id, start, end);
        ev["recurrence"] = json!(lines);
        ev
    }

    #[test]
    fn single_event_is_busy_and_clipped_to_window() {
        let evs = [timed(
            "a",
            "2027-01-05T08:30:00+01:00",
            "2027-01-05T10:00:00+01:00",
        )];
        assert_eq!(
            blocks(&evs, "2027-01-05T08:00:00Z", "2027-01-06T00:00:00Z"),
            vec![pair("2027-01-05T08:00:00Z", "2027-01-05T09:00:00Z")]
        );
        assert!(blocks(&evs, "2027-01-06T00:00:00Z", "2027-01-07T00:00:00Z").is_empty());
    }

    #[test]
    fn event_across_midnight_is_one_block() {
        let evs = [timed(
            "a",
            "2027-01-05T22:00:00+01:00",
            "2027-01-06T02:00:00+01:00",
        )];
        assert_eq!(
            blocks(&evs, "2027-01-05T00:00:00Z", "2027-01-07T00:00:00Z"),
            vec![pair("2027-01-05T21:00:00Z", "2027-01-06T01:00:00Z")]
        );
    }

    #[test]
    fn weekly_series_keeps_local_time_across_dst() {
        // Tuesdays 10:00 Berlin; Berlin goes to summer time on 2027-03-28.
        let evs = [series(
            "w",
            "2027-03-16T10:00:00+01:00",
            "2027-03-16T11:00:00+01:00",
            &["RRULE:FREQ=WEEKLY;BYDAY=TU"],
        )];
        assert_eq!(
            blocks(&evs, "2027-03-20T00:00:00Z", "2027-04-04T00:00:00Z"),
            vec![
                pair("2027-03-23T09:00:00Z", "2027-03-23T10:00:00Z"),
                pair("2027-03-30T08:00:00Z", "2027-03-30T09:00:00Z"),
            ]
        );
    }

    #[test]
    fn weekly_series_new_york_across_fall_back() {
        // Mondays 09:00 New York; the US leaves summer time on 2027-11-07.
        let evs = [json!({
            "id": "ny", "recurrence": ["RRULE:FREQ=WEEKLY"],
            "start": {"dateTime": "2027-10-25T09:00:00-04:00", "timeZone": "America/New_York"},
            "end": {"dateTime": "2027-10-25T09:30:00-04:00", "timeZone": "America/New_York"}
        })];
        let got = busy_blocks(
            &evs,
            utc("2027-11-01T00:00:00Z"),
            utc("2027-11-09T00:00:00Z"),
            None,
            New_York,
        );
        let starts: Vec<_> = got.iter().map(|b| b.start).collect();
        assert_eq!(
            starts,
            vec![utc("2027-11-01T13:00:00Z"), utc("2027-11-08T14:00:00Z")]
        );
    }

    #[test]
    fn series_that_began_years_ago_expands_in_the_window() {
        // Every other Wednesday since 2015; the moved DTSTART must keep the fortnight's parity.
        let evs = [series(
            "old",
            "2015-01-07T10:00:00+01:00",
            "2015-01-07T10:30:00+01:00",
            &["RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=WE"],
        )];
        let got = blocks(&evs, "2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z");
        // 2015-01-07 + 52 fortnights·k: 2027-01-06 is 626 weeks later (313 fortnights).
        assert_eq!(
            got,
            vec![
                pair("2027-01-06T09:00:00Z", "2027-01-06T09:30:00Z"),
                pair("2027-01-20T09:00:00Z", "2027-01-20T09:30:00Z"),
            ]
        );
        let daily = [series(
            "d",
            "2012-06-01T23:30:00+02:00",
            "2012-06-02T00:30:00+02:00",
            &["RRULE:FREQ=DAILY;INTERVAL=3"],
        )];
        let got = blocks(&daily, "2027-01-01T00:00:00Z", "2027-01-08T00:00:00Z");
        // 2012-06-01 + 3·k days: 2026-12-30 is 5325 days later (k = 1775).
        assert_eq!(
            got,
            vec![
                pair("2027-01-02T22:30:00Z", "2027-01-02T23:30:00Z"),
                pair("2027-01-05T22:30:00Z", "2027-01-05T23:30:00Z"),
            ]
        );
    }

    #[test]
    fn moved_start_matches_expansion_from_the_first_occurrence() {
        // A huge COUNT keeps DTSTART where it is, so the crate walks every occurrence since
        // 2019: the answer must be the same as with the moved start.
        let rules = [
            "FREQ=DAILY;INTERVAL=3;BYHOUR=8,17",
            "FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,FR;WKST=SU",
            "FREQ=WEEKLY;INTERVAL=2",
            "FREQ=MONTHLY",
            "FREQ=MONTHLY;BYDAY=-1FR",
            "FREQ=MONTHLY;INTERVAL=5;BYMONTHDAY=15,-1",
            "FREQ=MONTHLY;BYDAY=MO,TU;BYSETPOS=-1",
            "FREQ=YEARLY;INTERVAL=2",
            "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
        ];
        let starts = [
            ("2019-01-31T02:30:00+01:00", "2019-01-31T03:15:00+01:00"),
            ("2019-03-29T09:00:00+01:00", "2019-03-29T09:45:00+01:00"),
            ("2020-08-17T23:00:00+02:00", "2020-08-18T01:00:00+02:00"),
        ];
        for rule in rules {
            let mut seen = 0;
            for (start, end) in starts {
                let moved = [series("m", start, end, &[&format!("RRULE:{rule}")])];
                let walked = [series(
                    "w",
                    start,
                    end,
                    &[&format!("RRULE:{rule};COUNT=60000")],
                )];
                for (from, to) in [
                    ("2027-02-20T00:00:00Z", "2027-04-15T00:00:00Z"),
                    ("2027-10-01T00:00:00Z", "2027-11-30T00:00:00Z"),
                ] {
                    let got = blocks(&moved, from, to);
                    assert_eq!(got, blocks(&walked, from, to), "{rule} from {start}");
                    seen += got.len();
                }
            }
            assert!(seen > 0, "{rule}");
        }
        let all_day = |rule: &str| {
            [json!({"id": "a", "recurrence": [rule],
                    "start": {"date": "2019-01-31"}, "end": {"date": "2019-02-01"}})]
        };
        for rule in [
            "FREQ=DAILY;INTERVAL=4",
            "FREQ=WEEKLY;INTERVAL=3",
            "FREQ=MONTHLY",
        ] {
            let got = blocks(
                &all_day(&format!("RRULE:{rule}")),
                "2027-01-01T00:00:00Z",
                "2027-06-01T00:00:00Z",
            );
            assert!(!got.is_empty());
            assert_eq!(
                got,
                blocks(
                    &all_day(&format!("RRULE:{rule};COUNT=60000")),
                    "2027-01-01T00:00:00Z",
                    "2027-06-01T00:00:00Z"
                ),
                "{rule}"
            );
        }
    }

    #[test]
    fn sub_daily_rules_count_only_their_first_occurrence() {
        let evs = [series(
            "h",
            "2027-01-05T09:00:00+01:00",
            "2027-01-05T09:30:00+01:00",
            &["RRULE:FREQ=HOURLY;INTERVAL=2", "RDATE:20270105T150000Z"],
        )];
        assert_eq!(
            blocks(&evs, "2027-01-05T00:00:00Z", "2027-01-06T00:00:00Z"),
            vec![
                pair("2027-01-05T08:00:00Z", "2027-01-05T08:30:00Z"),
                pair("2027-01-05T15:00:00Z", "2027-01-05T15:30:00Z"),
            ]
        );
    }

    #[test]
    fn count_and_until_end_a_series() {
        let evs = [
            series(
                "c",
                "2027-01-04T09:00:00+01:00",
                "2027-01-04T10:00:00+01:00",
                &["RRULE:FREQ=DAILY;COUNT=2"],
            ),
            series(
                "u",
                "2027-01-04T12:00:00+01:00",
                "2027-01-04T13:00:00+01:00",
                &["RRULE:FREQ=DAILY;UNTIL=20270105T110000Z"],
            ),
            series(
                "ud",
                "2027-01-04T15:00:00+01:00",
                "2027-01-04T16:00:00+01:00",
                &["RRULE:FREQ=DAILY;UNTIL=20270105"],
            ),
        ];
        let got = blocks(&evs, "2027-01-01T00:00:00Z", "2027-01-10T00:00:00Z");
        assert_eq!(
            got,
            vec![
                pair("2027-01-04T08:00:00Z", "2027-01-04T09:00:00Z"),
                pair("2027-01-04T11:00:00Z", "2027-01-04T12:00:00Z"),
                pair("2027-01-04T14:00:00Z", "2027-01-04T15:00:00Z"),
                pair("2027-01-05T08:00:00Z", "2027-01-05T09:00:00Z"),
                pair("2027-01-05T11:00:00Z", "2027-01-05T12:00:00Z"),
                pair("2027-01-05T14:00:00Z", "2027-01-05T15:00:00Z"),
            ]
        );
    }

    #[test]
    fn until_far_in_the_future_and_lowercase_rules() {
        let evs = [
            series(
                "f",
                "2027-01-04T09:00:00+01:00",
                "2027-01-04T10:00:00+01:00",
                &["RRULE:FREQ=WEEKLY;UNTIL=99991231"],
            ),
            series(
                "l",
                "2027-01-04T12:00:00+01:00",
                "2027-01-04T13:00:00+01:00",
                &["rrule:freq=weekly;byday=mo;count=2"],
            ),
        ];
        assert_eq!(
            blocks(&evs, "2027-01-10T00:00:00Z", "2027-01-12T00:00:00Z"),
            vec![
                pair("2027-01-11T08:00:00Z", "2027-01-11T09:00:00Z"),
                pair("2027-01-11T11:00:00Z", "2027-01-11T12:00:00Z"),
            ]
        );
    }

    #[test]
    fn exdate_inside_a_series() {
        let lines = [
            "RRULE:FREQ=DAILY;COUNT=6",
            "EXDATE;TZID=Europe/Berlin:20270105T090000",
            "EXDATE:20270106T080000Z,20270107T080000Z",
            "EXDATE;VALUE=DATE:20270108",
        ];
        let evs = [series(
            "s",
            "2027-01-04T09:00:00+01:00",
            "2027-01-04T10:00:00+01:00",
            &lines,
        )];
        let got = blocks(&evs, "2027-01-01T00:00:00Z", "2027-01-20T00:00:00Z");
        assert_eq!(
            got,
            vec![
                pair("2027-01-04T08:00:00Z", "2027-01-04T09:00:00Z"),
                pair("2027-01-09T08:00:00Z", "2027-01-09T09:00:00Z"),
            ]
        );
    }

    #[test]
    fn rdate_adds_an_occurrence() {
        let evs = [series(
            "s",
            "2027-01-04T09:00:00+01:00",
            "2027-01-04T10:00:00+01:00",
            &[
                "RRULE:FREQ=WEEKLY;COUNT=1",
                "RDATE;TZID=Europe/Berlin:20270107T150000",
            ],
        )];
        let got = blocks(&evs, "2027-01-01T00:00:00Z", "2027-01-20T00:00:00Z");
        assert_eq!(
            got,
            vec![
                pair("2027-01-04T08:00:00Z", "2027-01-04T09:00:00Z"),
                pair("2027-01-07T14:00:00Z", "2027-01-07T15:00:00Z"),
            ]
        );
    }

    #[test]
    fn cancelled_exception_removes_its_occurrence() {
        let evs = [
            series(
                "s",
                "2027-01-04T09:00:00+01:00",
                "2027-01-04T10:00:00+01:00",
                &["RRULE:FREQ=DAILY;COUNT=3"],
            ),
            json!({"id": "s_20270105T080000Z", "status": "cancelled", "recurringEventId": "s",
                   "originalStartTime": {"dateTime": "2027-01-05T09:00:00+01:00",
                                         "timeZone": "Europe/Berlin"}}),
        ];
        let got = blocks(&evs, "2027-01-01T00:00:00Z", "2027-01-20T00:00:00Z");
        assert_eq!(
            got,
            vec![
                pair("2027-01-04T08:00:00Z", "2027-01-04T09:00:00Z"),
                pair("2027-01-06T08:00:00Z", "2027-01-06T09:00:00Z"),
            ]
        );
    }

    #[test]
    fn moved_exception_is_busy_at_its_new_time() {
        let mut moved = timed(
            "s_20270105T080000Z",
            "2027-01-05T19:00:00+01:00",
            "2027-01-05T20:00:00+01:00",
        );
        moved["recurringEventId"] = json!("s");
        // Compared as instants: the same moment written in UTC.
        moved["originalStartTime"] = json!({"dateTime": "2027-01-05T08:00:00Z"});
        let mut far = timed(
            "s_20270106T080000Z",
            "2027-03-01T09:00:00+01:00",
            "2027-03-01T10:00:00+01:00",
        );
        far["recurringEventId"] = json!("s");
        far["originalStartTime"] = json!({"dateTime": "2027-01-06T09:00:00+01:00"});
        let evs = [
            series(
                "s",
                "2027-01-04T09:00:00+01:00",
                "2027-01-04T10:00:00+01:00",
                &["RRULE:FREQ=DAILY;COUNT=3"],
            ),
            moved,
            far,
        ];
        assert_eq!(
            blocks(&evs, "2027-01-01T00:00:00Z", "2027-01-20T00:00:00Z"),
            vec![
                pair("2027-01-04T08:00:00Z", "2027-01-04T09:00:00Z"),
                pair("2027-01-05T18:00:00Z", "2027-01-05T19:00:00Z"),
            ]
        );
        assert_eq!(
            blocks(&evs, "2027-02-20T00:00:00Z", "2027-03-05T00:00:00Z"),
            vec![pair("2027-03-01T08:00:00Z", "2027-03-01T09:00:00Z")]
        );
    }

    #[test]
    fn declined_events_are_not_busy() {
        let mut by_self = timed(
            "a",
            "2027-01-05T09:00:00+01:00",
            "2027-01-05T10:00:00+01:00",
        );
        by_self["attendees"] = json!([
            {"email": "boss@example.com", "responseStatus": "accepted"},
            {"email": "alias@example.com", "self": true, "responseStatus": "declined"}
        ]);
        let mut by_email = timed(
            "b",
            "2027-01-05T11:00:00+01:00",
            "2027-01-05T12:00:00+01:00",
        );
        by_email["attendees"] = json!([{"email": "Me@Example.com", "responseStatus": "declined"}]);
        let mut other_declined = timed(
            "c",
            "2027-01-05T13:00:00+01:00",
            "2027-01-05T14:00:00+01:00",
        );
        other_declined["attendees"] = json!([
            {"email": "other@example.com", "responseStatus": "declined"},
            {"email": "me@example.com", "responseStatus": "accepted"}
        ]);
        let got = blocks(
            &[by_self, by_email, other_declined],
            "2027-01-05T00:00:00Z",
            "2027-01-06T00:00:00Z",
        );
        assert_eq!(
            got,
            vec![pair("2027-01-05T12:00:00Z", "2027-01-05T13:00:00Z")]
        );
    }

    #[test]
    fn declined_series_with_accepted_instance() {
        let mut s = series(
            "s",
            "2027-01-04T09:00:00+01:00",
            "2027-01-04T10:00:00+01:00",
            &["RRULE:FREQ=DAILY;COUNT=3"],
        );
        s["attendees"] = json!([{"email": "me@example.com", "responseStatus": "declined"}]);
        let mut one = timed(
            "s_1",
            "2027-01-05T09:00:00+01:00",
            "2027-01-05T10:00:00+01:00",
        );
        one["recurringEventId"] = json!("s");
        one["originalStartTime"] = json!({"dateTime": "2027-01-05T09:00:00+01:00"});
        one["attendees"] = json!([{"email": "me@example.com", "responseStatus": "accepted"}]);
        assert_eq!(
            blocks(&[s, one], "2027-01-01T00:00:00Z", "2027-01-10T00:00:00Z"),
            vec![pair("2027-01-05T08:00:00Z", "2027-01-05T09:00:00Z")]
        );
    }

    #[test]
    fn tentative_answer_marks_the_block() {
        let mut ev = timed(
            "a",
            "2027-01-05T09:00:00+01:00",
            "2027-01-05T10:00:00+01:00",
        );
        ev["attendees"] =
            json!([{"email": "x@example.com", "self": true, "responseStatus": "tentative"}]);
        let got = busy_blocks(
            &[ev],
            utc("2027-01-05T00:00:00Z"),
            utc("2027-01-06T00:00:00Z"),
            None,
            Berlin,
        );
        assert_eq!(got.len(), 1);
        assert!(got[0].tentative);
    }

    #[test]
    fn transparent_and_cancelled_events_are_not_busy() {
        let mut free = timed(
            "a",
            "2027-01-05T09:00:00+01:00",
            "2027-01-05T10:00:00+01:00",
        );
        free["transparency"] = json!("transparent");
        let mut gone = timed(
            "b",
            "2027-01-05T11:00:00+01:00",
            "2027-01-05T12:00:00+01:00",
        );
        gone["status"] = json!("cancelled");
        let mut gone_series = series(
            "c",
            "2027-01-04T09:00:00+01:00",
            "2027-01-04T10:00:00+01:00",
            &["RRULE:FREQ=DAILY"],
        );
        gone_series["status"] = json!("cancelled");
        let mut all_day_free = json!({"id": "d", "transparency": "transparent",
            "start": {"date": "2027-01-05"}, "end": {"date": "2027-01-06"}});
        all_day_free["status"] = json!("confirmed");
        assert!(blocks(
            &[free, gone, gone_series, all_day_free],
            "2027-01-01T00:00:00Z",
            "2027-01-10T00:00:00Z"
        )
        .is_empty());
    }

    #[test]
    fn all_day_events_single_and_multi_day() {
        let evs = [
            json!({"id": "one", "start": {"date": "2027-01-05"}, "end": {"date": "2027-01-06"}}),
            json!({"id": "three", "start": {"date": "2027-02-01"}, "end": {"date": "2027-02-04"}}),
        ];
        assert_eq!(
            blocks(&evs, "2027-01-01T00:00:00Z", "2027-03-01T00:00:00Z"),
            vec![
                pair("2027-01-04T23:00:00Z", "2027-01-05T23:00:00Z"),
                pair("2027-01-31T23:00:00Z", "2027-02-03T23:00:00Z"),
            ]
        );
    }

    #[test]
    fn all_day_event_on_dst_days_is_23_or_25_hours() {
        let evs = [
            json!({"id": "spring", "start": {"date": "2027-03-28"}, "end": {"date": "2027-03-29"}}),
            json!({"id": "fall", "start": {"date": "2027-10-31"}, "end": {"date": "2027-11-01"}}),
        ];
        let got = busy_blocks(
            &evs,
            utc("2027-01-01T00:00:00Z"),
            utc("2028-01-01T00:00:00Z"),
            None,
            Berlin,
        );
        let hours: Vec<i64> = got.iter().map(|b| (b.end - b.start).num_hours()).collect();
        assert_eq!(hours, vec![23, 25]);
    }

    #[test]
    fn all_day_series_with_exdate_and_exception() {
        let evs = [
            json!({"id": "bd", "recurrence": ["RRULE:FREQ=DAILY;UNTIL=20270108", "EXDATE;VALUE=DATE:20270106"],
                   "start": {"date": "2027-01-04"}, "end": {"date": "2027-01-05"}}),
            json!({"id": "bd_20270107", "recurringEventId": "bd", "status": "cancelled",
                   "originalStartTime": {"date": "2027-01-07"}}),
        ];
        let got = busy_blocks(
            &evs,
            utc("2027-01-01T00:00:00Z"),
            utc("2027-02-01T00:00:00Z"),
            None,
            New_York,
        );
        let days: Vec<_> = got
            .iter()
            .map(|b| b.start.with_timezone(&New_York).date_naive().to_string())
            .collect();
        assert_eq!(days, vec!["2027-01-04", "2027-01-05", "2027-01-08"]);
        assert_eq!(got[0].start, utc("2027-01-04T05:00:00Z"));
    }

    #[test]
    fn unparseable_events_are_skipped() {
        let evs = [
            json!(null),
            json!("text"),
            json!({"id": "nostart", "end": {"dateTime": "2027-01-05T10:00:00Z"}}),
            json!({"id": "bad", "start": {"dateTime": "tomorrow"}, "end": {"dateTime": "later"}}),
            series(
                "r",
                "2027-01-05T09:00:00+01:00",
                "2027-01-05T10:00:00+01:00",
                &["RRULE:FREQ=SOMETIMES"],
            ),
            series(
                "r2",
                "2027-01-05T09:00:00+01:00",
                "2027-01-05T10:00:00+01:00",
                &["RRULE:FREQ=DAILY;INTERVAL=0"],
            ),
            series(
                "r3",
                "2027-01-05T09:00:00+01:00",
                "2027-01-05T10:00:00+01:00",
                &["RRULE:FREQ=DAILY;UNTIL=garbage"],
            ),
            json!({"id": "mixed", "start": {"date": "2027-01-05"}, "end": {"dateTime": "2027-01-05T10:00:00Z"},
                   "recurrence": ["RRULE:FREQ=DAILY"]}),
            timed(
                "ok",
                "2027-01-05T11:00:00+01:00",
                "2027-01-05T12:00:00+01:00",
            ),
        ];
        assert_eq!(
            blocks(&evs, "2027-01-05T00:00:00Z", "2027-01-06T00:00:00Z"),
            vec![pair("2027-01-05T10:00:00Z", "2027-01-05T11:00:00Z")]
        );
    }

    #[test]
    fn date_time_without_offset_uses_its_zone() {
        let evs = [json!({"id": "a",
            "start": {"dateTime": "2027-07-01T09:00:00", "timeZone": "America/New_York"},
            "end": {"dateTime": "2027-07-01T10:00:00", "timeZone": "America/New_York"}})];
        assert_eq!(
            blocks(&evs, "2027-07-01T00:00:00Z", "2027-07-02T00:00:00Z"),
            vec![pair("2027-07-01T13:00:00Z", "2027-07-01T14:00:00Z")]
        );
    }

    #[test]
    fn local_times_in_gaps_and_overlaps() {
        let gap = NaiveDate::from_ymd_opt(2027, 3, 28)
            .unwrap()
            .and_hms_opt(2, 30, 0)
            .unwrap();
        assert_eq!(resolve_local(Berlin, gap), utc("2027-03-28T01:00:00Z"));
        let twice = NaiveDate::from_ymd_opt(2027, 10, 31)
            .unwrap()
            .and_hms_opt(2, 30, 0)
            .unwrap();
        assert_eq!(resolve_local(Berlin, twice), utc("2027-10-31T00:30:00Z"));
        let ny_gap = NaiveDate::from_ymd_opt(2027, 3, 14)
            .unwrap()
            .and_hms_opt(2, 15, 0)
            .unwrap();
        assert_eq!(resolve_local(New_York, ny_gap), utc("2027-03-14T07:00:00Z"));
    }
}
