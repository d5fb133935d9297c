//! Calendar invitations carried by mail (`text/calendar` parts and `.ics` attachments), read
//! with the icalendar crate's parser: UID, method, status, sequence, summary, start and end
//! with their time zones, all-day, recurrence, location, organizer and attendees.

use icalendar::parser::{read_calendar, unfold, Component, Property};
use serde_json::{json, Value};

fn param<'a>(p: &'a Property<'_>, key: &str) -> Option<&'a str> {
    p.params
        .iter()
        .find(|x| x.key.as_str().eq_ignore_ascii_case(key))
        .and_then(|x| x.val.as_ref())
        .map(|v| v.as_str().trim_matches('"'))
}

fn text(c: &Component<'_>, name: &str) -> Option<String> {
    c.find_prop(name)
        .map(|p| p.val.clone().unescape_text().as_str().trim().to_string())
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

/// A DTSTART/DTEND as `{date}` (all day) or `{date_time, time_zone}`; `Z` times are UTC.
fn when(p: &Property<'_>) -> (Value, bool) {
    let raw = p.val.as_str().trim();
    let is_date = param(p, "VALUE").is_some_and(|v| v.eq_ignore_ascii_case("DATE"))
        || (raw.len() == 8 && raw.chars().all(|c| c.is_ascii_digit()));
    if is_date {
        return match chrono::NaiveDate::parse_from_str(raw, "%Y%m%d") {
            Ok(d) => (json!({"date": d.to_string()}), true),
            Err(_) => (json!({"raw": raw}), true),
        };
    }
    let (local, utc) = match raw.strip_suffix('Z') {
        Some(r) => (r, true),
        None => (raw, false),
    };
    match chrono::NaiveDateTime::parse_from_str(local, "%Y%m%dT%H%M%S") {
        Ok(t) if utc => (
            json!({"date_time": format!("{}Z", t.format("%Y-%m-%dT%H:%M:%S")), "time_zone": "UTC"}),
            false,
        ),
        Ok(t) => (
            json!({"date_time": t.format("%Y-%m-%dT%H:%M:%S").to_string(),
                   "time_zone": param(p, "TZID")}),
            false,
        ),
        Err(_) => (json!({"raw": raw}), false),
    }
}

fn person(p: &Property<'_>) -> Value {
    json!({
        "address": cal_address(p.val.as_str()),
        "name": param(p, "CN"),
        "status": param(p, "PARTSTAT").map(str::to_ascii_lowercase),
        "role": param(p, "ROLE").map(str::to_ascii_lowercase),
    })
}

/// The events of one calendar text; nothing for text that does not parse.
pub fn parse(calendar: &str) -> Vec<Value> {
    let unfolded = unfold(calendar);
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
        let (start, all_day) = ev.find_prop("DTSTART").map_or((Value::Null, false), when);
        let end = ev.find_prop("DTEND").map_or(Value::Null, |p| when(p).0);
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
            .map(|p| {
                format!(
                    "{}:{}",
                    p.name.as_str().to_ascii_uppercase(),
                    p.val.as_str()
                )
            })
            .collect();
        let attendees: Vec<Value> = ev
            .properties
            .iter()
            .filter(|p| p.name.as_str().eq_ignore_ascii_case("ATTENDEE"))
            .map(person)
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
            "start": start,
            "end": end,
            "all_day": all_day,
            "recurrence": recurrence,
            "organizer": ev.find_prop("ORGANIZER").map(person),
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
