//! Calendar invitations carried by mail (`text/calendar` parts and `.ics` attachments), read
//! with the icalendar crate's parser: UID, method, status, sequence, summary, start and end
//! with their time zones, all-day, recurrence, location, organizer and attendees.
//!
//! Time zones are reported by IANA name where the TZID names one: Windows zone names
//! (Outlook, Exchange, Teams) and Outlook's display names go through a table of the common
//! zones, libical's and Mozilla's prefixed ids lose their prefix, and a TZID that is none of
//! these (Exchange's "Customized Time Zone", say) is reported unchanged. UTC times, `Z` or a
//! UTC zone, read `…Z` with time zone `UTC`; floating times have no time zone.
//!
//! A VEVENT without a UID is skipped: RFC 5545 requires one, and without it a later update
//! or cancellation of the event could never be matched to it.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};
use icalendar::parser::{read_calendar, unfold, Component, Property};
use serde_json::{json, Value};

fn param<'a>(p: &'a Property<'_>, key: &str) -> Option<&'a str> {
    p.params
        .iter()
        .find(|x| x.key.as_str().eq_ignore_ascii_case(key))
        .and_then(|x| x.val.as_ref())
        .map(|v| v.as_str().trim_matches('"'))
}

/// A property's value, trimmed. The parser has already unescaped TEXT values (`\,` `\;` `\n`
/// `\\`); a second pass would read an escaped backslash as the start of another escape.
fn text(c: &Component<'_>, name: &str) -> Option<String> {
    c.find_prop(name)
        .map(|p| p.val.as_str().trim().to_string())
        .filter(|s| !s.is_empty())
}

/// `mailto:ada@example.com` → `ada@example.com`, lower case.
fn cal_address(v: &str) -> String {
    let v = v.trim();
    let v = if v.len() >= 7 && v[..7].eq_ignore_ascii_case("mailto:") {
        &v[7..]
    } else {
        v
    };
    v.to_ascii_lowercase()
}

/// Windows zone names → IANA, after CLDR's windowsZones table (territory 001), for the zones
/// invitations most often name.
const WINDOWS_ZONES: &[(&str, &str)] = &[
    ("Dateline Standard Time", "Etc/GMT+12"),
    ("UTC-11", "Etc/GMT+11"),
    ("Hawaiian Standard Time", "Pacific/Honolulu"),
    ("Alaskan Standard Time", "America/Anchorage"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("Pacific Standard Time (Mexico)", "America/Tijuana"),
    ("US Mountain Standard Time", "America/Phoenix"),
    ("Mountain Standard Time", "America/Denver"),
    ("Mountain Standard Time (Mexico)", "America/Mazatlan"),
    ("Central Standard Time", "America/Chicago"),
    ("Central Standard Time (Mexico)", "America/Mexico_City"),
    ("Central America Standard Time", "America/Guatemala"),
    ("Canada Central Standard Time", "America/Regina"),
    ("Eastern Standard Time", "America/New_York"),
    ("US Eastern Standard Time", "America/Indiana/Indianapolis"),
    ("SA Pacific Standard Time", "America/Bogota"),
    ("Venezuela Standard Time", "America/Caracas"),
    ("Atlantic Standard Time", "America/Halifax"),
    ("SA Western Standard Time", "America/La_Paz"),
    ("Pacific SA Standard Time", "America/Santiago"),
    ("Newfoundland Standard Time", "America/St_Johns"),
    ("E. South America Standard Time", "America/Sao_Paulo"),
    ("Argentina Standard Time", "America/Argentina/Buenos_Aires"),
    ("Azores Standard Time", "Atlantic/Azores"),
    ("GMT Standard Time", "Europe/London"),
    ("Greenwich Standard Time", "Atlantic/Reykjavik"),
    ("Morocco Standard Time", "Africa/Casablanca"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Central Europe Standard Time", "Europe/Budapest"),
    ("Central European Standard Time", "Europe/Warsaw"),
    ("Romance Standard Time", "Europe/Paris"),
    ("W. Central Africa Standard Time", "Africa/Lagos"),
    ("GTB Standard Time", "Europe/Bucharest"),
    ("E. Europe Standard Time", "Europe/Chisinau"),
    ("FLE Standard Time", "Europe/Kyiv"),
    ("Israel Standard Time", "Asia/Jerusalem"),
    ("Egypt Standard Time", "Africa/Cairo"),
    ("South Africa Standard Time", "Africa/Johannesburg"),
    ("Turkey Standard Time", "Europe/Istanbul"),
    ("Russian Standard Time", "Europe/Moscow"),
    ("Arab Standard Time", "Asia/Riyadh"),
    ("E. Africa Standard Time", "Africa/Nairobi"),
    ("Iran Standard Time", "Asia/Tehran"),
    ("Arabian Standard Time", "Asia/Dubai"),
    ("Pakistan Standard Time", "Asia/Karachi"),
    ("India Standard Time", "Asia/Kolkata"),
    ("Sri Lanka Standard Time", "Asia/Colombo"),
    ("Nepal Standard Time", "Asia/Kathmandu"),
    ("Bangladesh Standard Time", "Asia/Dhaka"),
    ("SE Asia Standard Time", "Asia/Bangkok"),
    ("China Standard Time", "Asia/Shanghai"),
    ("Singapore Standard Time", "Asia/Singapore"),
    ("Taipei Standard Time", "Asia/Taipei"),
    ("W. Australia Standard Time", "Australia/Perth"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("Korea Standard Time", "Asia/Seoul"),
    ("Cen. Australia Standard Time", "Australia/Adelaide"),
    ("AUS Central Standard Time", "Australia/Darwin"),
    ("E. Australia Standard Time", "Australia/Brisbane"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("New Zealand Standard Time", "Pacific/Auckland"),
];

/// Outlook's display names, "(UTC+01:00) Amsterdam, Berlin, …", by the text after the offset
/// (the offset in front changes with Windows versions, the places do not).
const WINDOWS_DISPLAY_NAMES: &[(&str, &str)] = &[
    ("Pacific Time (US & Canada)", "America/Los_Angeles"),
    ("Mountain Time (US & Canada)", "America/Denver"),
    ("Central Time (US & Canada)", "America/Chicago"),
    ("Eastern Time (US & Canada)", "America/New_York"),
    ("Atlantic Time (Canada)", "America/Halifax"),
    ("Brasilia", "America/Sao_Paulo"),
    ("Dublin, Edinburgh, Lisbon, London", "Europe/London"),
    (
        "Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna",
        "Europe/Berlin",
    ),
    (
        "Belgrade, Bratislava, Budapest, Ljubljana, Prague",
        "Europe/Budapest",
    ),
    ("Brussels, Copenhagen, Madrid, Paris", "Europe/Paris"),
    ("Sarajevo, Skopje, Warsaw, Zagreb", "Europe/Warsaw"),
    ("Athens, Bucharest", "Europe/Bucharest"),
    (
        "Helsinki, Kyiv, Riga, Sofia, Tallinn, Vilnius",
        "Europe/Kyiv",
    ),
    (
        "Helsinki, Kiev, Riga, Sofia, Tallinn, Vilnius",
        "Europe/Kyiv",
    ),
    ("Jerusalem", "Asia/Jerusalem"),
    ("Istanbul", "Europe/Istanbul"),
    ("Moscow, St. Petersburg", "Europe/Moscow"),
    ("Abu Dhabi, Muscat", "Asia/Dubai"),
    ("Chennai, Kolkata, Mumbai, New Delhi", "Asia/Kolkata"),
    ("Beijing, Chongqing, Hong Kong, Urumqi", "Asia/Shanghai"),
    ("Kuala Lumpur, Singapore", "Asia/Singapore"),
    ("Osaka, Sapporo, Tokyo", "Asia/Tokyo"),
    ("Seoul", "Asia/Seoul"),
    ("Canberra, Melbourne, Sydney", "Australia/Sydney"),
    ("Auckland, Wellington", "Pacific/Auckland"),
];

/// The first path segment of an IANA zone name; libical and Mozilla put their own prefix in
/// front (`/freeassociation.sourceforge.net/Europe/Prague`, `/mozilla.org/20050126_1/…`).
const IANA_AREAS: &[&str] = &[
    "Africa",
    "America",
    "Antarctica",
    "Arctic",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
    "Etc",
];

/// The IANA name for a TZID where one is known (`UTC` for the UTC aliases), else the TZID
/// unchanged.
fn zone(tzid: &str) -> String {
    let t = tzid.trim().trim_matches('"').trim();
    if ["UTC", "Etc/UTC", "GMT", "Etc/GMT", "Zulu", "Etc/Zulu"]
        .iter()
        .any(|z| z.eq_ignore_ascii_case(t))
    {
        return "UTC".into();
    }
    let lookup = |table: &[(&str, &'static str)], name: &str| {
        table
            .iter()
            .find(|(w, _)| w.eq_ignore_ascii_case(name))
            .map(|(_, iana)| iana.to_string())
    };
    if let Some(iana) = lookup(WINDOWS_ZONES, t) {
        return iana;
    }
    if t.starts_with("(UTC") || t.starts_with("(GMT") {
        if let Some(iana) = t
            .split_once(')')
            .and_then(|(_, places)| lookup(WINDOWS_DISPLAY_NAMES, places.trim()))
        {
            return iana;
        }
    }
    if t.starts_with('/') {
        let segments: Vec<&str> = t.split('/').collect();
        if let Some(i) = segments.iter().position(|s| IANA_AREAS.contains(s)) {
            return segments[i..].join("/");
        }
    }
    t.to_string()
}

/// A DTSTART/DTEND read: a date (all day), a date-time in UTC, in a zone or floating, or a
/// value that did not parse.
#[derive(Clone)]
enum When {
    Date(NaiveDate),
    Time(NaiveDateTime, Option<String>),
    Raw(String, bool),
}

impl When {
    fn all_day(&self) -> bool {
        matches!(self, When::Date(_) | When::Raw(_, true))
    }

    /// `{date}` all day, else `{date_time, time_zone}`; UTC times end in `Z`.
    fn to_json(&self) -> Value {
        match self {
            When::Date(d) => json!({"date": d.to_string()}),
            When::Time(t, Some(z)) if z == "UTC" => json!({
                "date_time": format!("{}Z", t.format("%Y-%m-%dT%H:%M:%S")),
                "time_zone": "UTC",
            }),
            When::Time(t, z) => json!({
                "date_time": t.format("%Y-%m-%dT%H:%M:%S").to_string(),
                "time_zone": z,
            }),
            When::Raw(raw, _) => json!({"raw": raw}),
        }
    }

    fn plus(&self, d: TimeDelta) -> Option<When> {
        match self {
            When::Date(x) => x.checked_add_signed(d).map(When::Date),
            When::Time(x, z) => x.checked_add_signed(d).map(|t| When::Time(t, z.clone())),
            When::Raw(..) => None,
        }
    }
}

fn when(p: &Property<'_>) -> When {
    let raw = p.val.as_str().trim();
    let is_date = param(p, "VALUE").is_some_and(|v| v.eq_ignore_ascii_case("DATE"))
        || (raw.len() == 8 && raw.chars().all(|c| c.is_ascii_digit()));
    if is_date {
        return match NaiveDate::parse_from_str(raw, "%Y%m%d") {
            Ok(d) => When::Date(d),
            Err(_) => When::Raw(raw.to_string(), true),
        };
    }
    let (local, utc) = match raw.strip_suffix(['Z', 'z']) {
        Some(r) => (r, true),
        None => (raw, false),
    };
    match NaiveDateTime::parse_from_str(local, "%Y%m%dT%H%M%S") {
        Ok(t) if utc => When::Time(t, Some("UTC".into())),
        Ok(t) => When::Time(t, param(p, "TZID").map(zone)),
        Err(_) => When::Raw(raw.to_string(), false),
    }
}

/// An RFC 5545 DURATION: `PT20M`, `P1D`, `P1W`, `-PT15M`, `P1DT2H`.
fn duration(v: &str) -> Option<TimeDelta> {
    let v = v.trim();
    let (negative, v) = match v.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, v.strip_prefix('+').unwrap_or(v)),
    };
    let v = v.strip_prefix(['P', 'p'])?;
    let (mut total, mut number, mut in_time, mut any) =
        (TimeDelta::zero(), String::new(), false, false);
    for c in v.chars() {
        match c.to_ascii_uppercase() {
            '0'..='9' => number.push(c),
            'T' if number.is_empty() && !in_time => in_time = true,
            unit => {
                let n: i64 = number.parse().ok()?;
                number.clear();
                let part = match (unit, in_time) {
                    ('W', false) => TimeDelta::try_weeks(n),
                    ('D', false) => TimeDelta::try_days(n),
                    ('H', true) => TimeDelta::try_hours(n),
                    ('M', true) => TimeDelta::try_minutes(n),
                    ('S', true) => TimeDelta::try_seconds(n),
                    _ => None,
                }?;
                total = total.checked_add(&part)?;
                any = true;
            }
        }
    }
    (any && number.is_empty()).then_some(if negative { -total } else { total })
}

/// A calendar user's address, lower case: the EMAIL parameter (RFC 7986) where there is one,
/// since iCloud puts a reply relay (`…@imip.me.com`) in the value, else the value.
fn address(p: &Property<'_>) -> String {
    match param(p, "EMAIL").filter(|e| e.contains('@')) {
        Some(email) => cal_address(email),
        None => cal_address(p.val.as_str()),
    }
}

/// `status` falls back to `default_status` where PARTSTAT is absent.
fn person(p: &Property<'_>, default_status: Option<&str>) -> Value {
    json!({
        "address": address(p),
        "name": param(p, "CN"),
        "status": param(p, "PARTSTAT").or(default_status).map(str::to_ascii_lowercase),
        "role": param(p, "ROLE").map(str::to_ascii_lowercase),
    })
}

/// A recurrence property as its content line (`EXDATE;TZID=Europe/Berlin:20261228T093000`),
/// parameters kept since an EXDATE's time means nothing without its zone.
fn content_line(p: &Property<'_>) -> String {
    let mut line = p.name.as_str().to_ascii_uppercase();
    for x in &p.params {
        line.push(';');
        line.push_str(&x.key.as_str().to_ascii_uppercase());
        if let Some(v) = &x.val {
            let v = v.as_str().trim_matches('"');
            let v = if x.key.as_str().eq_ignore_ascii_case("TZID") {
                zone(v)
            } else {
                v.to_string()
            };
            line.push('=');
            if v.contains([';', ':', ',']) {
                line.push_str(&format!("\"{v}\""));
            } else {
                line.push_str(&v);
            }
        }
    }
    line.push(':');
    line.push_str(p.val.as_str().trim());
    line
}

/// The events of one calendar text; nothing for text that does not parse.
pub fn parse(calendar: &str) -> Vec<Value> {
    // .NET writers put a byte order mark in front. Line ends may be CRLF, LF or a mix; where
    // the text has any CRLF the parser reads each value up to the next one, so LF-ended lines
    // before it would merge.
    let normalized = calendar
        .trim_start_matches('\u{feff}')
        .replace("\r\n", "\n");
    let unfolded = unfold(normalized.trim());
    let Ok(cal) = read_calendar(&unfolded) else {
        return Vec::new();
    };
    let method = cal
        .properties
        .iter()
        .find(|p| p.name.as_str().eq_ignore_ascii_case("METHOD"))
        .map(|p| p.val.as_str().trim().to_ascii_uppercase())
        .unwrap_or_else(|| "PUBLISH".into());
    let mut out = Vec::new();
    for ev in cal
        .components
        .iter()
        .filter(|c| c.name.as_str().eq_ignore_ascii_case("VEVENT"))
    {
        let Some(uid) = text(ev, "UID") else { continue };
        let mut start = ev.find_prop("DTSTART").map(when);
        let mut end = match (ev.find_prop("DTEND"), &start) {
            (Some(p), _) => Some(when(p)),
            (None, Some(s)) => match ev.find_prop("DURATION") {
                Some(d) => duration(d.val.as_str()).and_then(|d| s.plus(d)),
                // RFC 5545 3.6.1: a date without an end lasts the day, a date-time is an instant.
                None if s.all_day() => s.plus(TimeDelta::days(1)),
                None => Some(s.clone()),
            },
            (None, None) => None,
        };
        // Older Exchange writes all-day events as local midnight to midnight, flagged here.
        let flagged_all_day = [
            "X-MICROSOFT-CDO-ALLDAYEVENT",
            "X-MICROSOFT-MSNCALENDAR-ALLDAYEVENT",
        ]
        .iter()
        .any(|n| text(ev, n).is_some_and(|v| v.eq_ignore_ascii_case("TRUE")));
        if flagged_all_day {
            if let (Some(When::Time(s, _)), Some(When::Time(e, _))) = (&start, &end) {
                if s.time() == NaiveTime::MIN && e.time() == NaiveTime::MIN {
                    (start, end) = (Some(When::Date(s.date())), Some(When::Date(e.date())));
                }
            }
        }
        let status = match (method.as_str(), text(ev, "STATUS")) {
            ("CANCEL", _) => "cancelled".to_string(),
            (_, Some(s)) => s.to_ascii_lowercase(),
            _ => "confirmed".to_string(),
        };
        let recurrence: Vec<String> = ev
            .properties
            .iter()
            .filter(|p| {
                ["RRULE", "RDATE", "EXDATE"]
                    .iter()
                    .any(|n| p.name.as_str().eq_ignore_ascii_case(n))
            })
            .map(content_line)
            .collect();
        // RFC 5545 3.2.12: an attendee without PARTSTAT has not answered yet.
        let attendees: Vec<Value> = ev
            .properties
            .iter()
            .filter(|p| p.name.as_str().eq_ignore_ascii_case("ATTENDEE"))
            .map(|p| person(p, Some("needs-action")))
            .collect();
        out.push(json!({
            "uid": uid,
            "method": method,
            "status": status,
            "sequence": text(ev, "SEQUENCE").and_then(|s| s.parse::<i64>().ok()).unwrap_or(0),
            "recurrence_id": text(ev, "RECURRENCE-ID"),
            "summary": text(ev, "SUMMARY"),
            "description": text(ev, "DESCRIPTION"),
            "location": text(ev, "LOCATION"),
            "start": start.as_ref().map_or(Value::Null, When::to_json),
            "end": end.as_ref().map_or(Value::Null, When::to_json),
            "all_day": start.as_ref().is_some_and(When::all_day),
            "recurrence": recurrence,
            "organizer": ev.find_prop("ORGANIZER").map(|p| person(p, None)),
            "attendees": attendees,
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &str =
        "BEGIN:VCALENDAR\r\nPRODID:-//Example//EN\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\n\
BEGIN:VEVENT\r\nUID:weekly-sync-42@example.com\r\nSEQUENCE:0\r\nDTSTAMP:20261120T090000Z\r\n\
DTSTART;TZID=Europe/Berlin:20261210T100000\r\nDTEND;TZID=Europe/Berlin:20261210T110000\r\n\
RRULE:FREQ=WEEKLY;BYDAY=TH;COUNT=10\r\nSUMMARY:Weekly sync\\, Q4\r\nLOCATION:Room 4\\; Berlin\r\n\
ORGANIZER;CN=Zoë Müller:mailto:Zoe@Example.com\r\n\
ATTENDEE;CN=Ada;PARTSTAT=NEEDS-ACTION;ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:ada@example.com\r\n\
ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED:mailto:bob@example.com\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn requests_and_cancellations_parse() {
        let ev = &parse(REQUEST)[0];
        assert_eq!(ev["uid"], "weekly-sync-42@example.com");
        assert_eq!(ev["method"], "REQUEST");
        assert_eq!(ev["status"], "confirmed");
        assert_eq!(ev["summary"], "Weekly sync, Q4");
        assert_eq!(ev["location"], "Room 4; Berlin");
        assert_eq!(ev["start"]["date_time"], "2026-12-10T10:00:00");
        assert_eq!(ev["start"]["time_zone"], "Europe/Berlin");
        assert_eq!(ev["all_day"], false);
        assert_eq!(ev["recurrence"][0], "RRULE:FREQ=WEEKLY;BYDAY=TH;COUNT=10");
        assert_eq!(ev["organizer"]["address"], "zoe@example.com");
        assert_eq!(ev["organizer"]["name"], "Zoë Müller");
        assert_eq!(ev["attendees"][0]["status"], "needs-action");
        assert_eq!(ev["attendees"][1]["status"], "accepted");
        let cancel = REQUEST
            .replace("METHOD:REQUEST", "METHOD:CANCEL")
            .replace("SEQUENCE:0", "SEQUENCE:1");
        let ev = &parse(&cancel)[0];
        assert_eq!(
            (ev["status"].as_str(), ev["sequence"].as_i64()),
            (Some("cancelled"), Some(1))
        );
    }

    #[test]
    fn zones_durations_and_escaped_backslashes() {
        assert_eq!(zone("W. Europe Standard Time"), "Europe/Berlin");
        assert_eq!(
            zone("(UTC-05:00) Eastern Time (US & Canada)"),
            "America/New_York"
        );
        assert_eq!(
            zone("/freeassociation.sourceforge.net/Tzfile/Europe/Prague"),
            "Europe/Prague"
        );
        assert_eq!(zone("Etc/UTC"), "UTC");
        assert_eq!(zone("Customized Time Zone"), "Customized Time Zone");
        assert_eq!(duration("PT20M"), TimeDelta::try_minutes(20));
        assert_eq!(duration("-P1DT2H"), TimeDelta::try_hours(-26));
        assert_eq!(duration("P1H"), None);
        let ev = &parse(
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:p\nDTSTART;TZID=UTC:20261210T100000\n\
DURATION:PT1H\nLOCATION:\\\\\\\\fs01\\\\rooms\nEND:VEVENT\nEND:VCALENDAR\n",
        )[0];
        assert_eq!(ev["location"], "\\\\fs01\\rooms");
        assert_eq!(ev["start"]["date_time"], "2026-12-10T10:00:00Z");
        assert_eq!(ev["end"]["date_time"], "2026-12-10T11:00:00Z");
    }

    #[test]
    fn all_day_utc_and_garbage() {
        let cal = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART;VALUE=DATE:20261224\r\n\
END:VEVENT\r\nBEGIN:VEVENT\r\nUID:b\r\nDTSTART:20261224T090000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let evs = parse(cal);
        assert_eq!(evs[0]["start"]["date"], "2026-12-24");
        assert_eq!(evs[0]["all_day"], true);
        assert_eq!(evs[0]["method"], "PUBLISH");
        assert_eq!(evs[1]["start"]["date_time"], "2026-12-24T09:00:00Z");
        assert!(parse("not a calendar").is_empty());
        assert!(parse(
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:no uid\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        )
        .is_empty());
    }
}
