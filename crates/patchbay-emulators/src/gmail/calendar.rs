//! iCalendar (RFC 5545) invitations as calendar servers send them by mail (RFC 6047):
//! a VEVENT with organizer, attendees and a local-time start in a named zone.

use chrono::{DateTime, NaiveDateTime, Utc};

#[derive(Debug, Clone)]
pub struct Event {
    pub uid: String,
    /// `REQUEST` or `CANCEL`.
    pub method: &'static str,
    pub sequence: u32,
    pub summary: String,
    pub description: String,
    pub location: String,
    /// Wall-clock time in Europe/Berlin.
    pub start: NaiveDateTime,
    pub minutes: i64,
    /// e.g. `FREQ=WEEKLY;BYDAY=TU`.
    pub rrule: Option<String>,
    pub organizer: (String, String),
    /// `(name, address, PARTSTAT)`.
    pub attendees: Vec<(String, String, &'static str)>,
    pub stamp: DateTime<Utc>,
}

const BERLIN: &str = "BEGIN:VTIMEZONE
TZID:Europe/Berlin
X-LIC-LOCATION:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE";

/// Escapes a TEXT value (RFC 5545 3.3.11).
fn text(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace('\n', "\\n")
}

/// Folds a content line at 75 octets, never inside a character (RFC 5545 3.1).
fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + line.len() / 70 * 3);
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out
}

fn local(t: NaiveDateTime) -> String {
    t.format("%Y%m%dT%H%M%S").to_string()
}

fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

impl Event {
    pub fn to_ics(&self) -> String {
        let cancelled = self.method == "CANCEL";
        let mut lines = vec![
            "BEGIN:VCALENDAR".to_string(),
            "PRODID:-//Google Inc//Google Calendar 70.9054//EN".into(),
            "VERSION:2.0".into(),
            "CALSCALE:GREGORIAN".into(),
            format!("METHOD:{}", self.method),
        ];
        lines.extend(BERLIN.lines().map(str::to_string));
        let end = self.start + chrono::Duration::minutes(self.minutes);
        lines.extend([
            "BEGIN:VEVENT".to_string(),
            format!("DTSTART;TZID=Europe/Berlin:{}", local(self.start)),
            format!("DTEND;TZID=Europe/Berlin:{}", local(end)),
        ]);
        if let Some(rule) = &self.rrule {
            lines.push(format!("RRULE:{rule}"));
        }
        let (org_name, org_mail) = &self.organizer;
        lines.extend([
            format!("DTSTAMP:{}", utc(self.stamp)),
            format!("ORGANIZER;CN={org_name}:mailto:{org_mail}"),
            format!("UID:{}", self.uid),
        ]);
        for (name, mail, partstat) in &self.attendees {
            let rsvp = if *partstat == "NEEDS-ACTION" {
                "TRUE"
            } else {
                "FALSE"
            };
            lines.push(format!(
                "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT={partstat};\
                 RSVP={rsvp};CN={name};X-NUM-GUESTS=0:mailto:{mail}"
            ));
        }
        let status = if cancelled { "CANCELLED" } else { "CONFIRMED" };
        lines.extend([
            format!("CREATED:{}", utc(self.stamp - chrono::Duration::days(2))),
            format!("DESCRIPTION:{}", text(&self.description)),
            format!("LAST-MODIFIED:{}", utc(self.stamp)),
            format!("LOCATION:{}", text(&self.location)),
            format!("SEQUENCE:{}", self.sequence),
            format!("STATUS:{status}"),
            format!("SUMMARY:{}", text(&self.summary)),
            "TRANSP:OPAQUE".into(),
            "END:VEVENT".into(),
            "END:VCALENDAR".into(),
        ]);
        let mut out: String = lines.iter().map(|l| fold(l) + "\r\n").collect();
        out.shrink_to_fit();
        out
    }
}
