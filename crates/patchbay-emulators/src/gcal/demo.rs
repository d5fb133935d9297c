//! The demo account: the primary calendar and a "Team" calendar, both Europe/Berlin, with a
//! realistic few weeks around the Monday of the week that holds `now` (called D below;
//! D+1 is Tuesday). All times are Berlin wall-clock.
//!
//! Primary:
//! - "Weekly sync": Tuesdays 10:00–11:00 from D−13, no end (so it always spans a DST
//!   change), attendees in every response status; the D+15 instance is cancelled.
//! - "Daily standup": weekdays 09:30–09:45 from D−7, EXDATE on D+2, the D+3 instance moved
//!   to 11:00–11:15.
//! - "Lunch with Zoë" D 12:30–13:30; "Focus time" D+1 08:00–09:00 (transparent);
//!   "Design review" D+1 14:00–15:00 with a Meet link (meet.google.com/abc-defg-hij);
//!   "Call with NYC office" D+2 10:00–11:00 America/New_York; "1:1 with Grace" D+2
//!   16:15–16:45 (tentative); "Vendor pitch" D+3 15:00–16:00 (declined by Ada, organised
//!   by someone else); "Release night" D+4 22:00 – D+5 02:00; "Old planning session"
//!   D−3 13:00–14:00 (deleted).
//! - All-day: "Ada's birthday" every 10 December (transparent); "RustWeek" D+15 – D+17.
//!
//! Team: "Sprint planning" every other Monday 10:00–11:30 from D−14 plus an RDATE on D+24;
//! "On-call handover" Fridays 17:00–17:15 until D+32; "Retro" D+4 15:00–16:00; "Team
//! offsite" all-day D+10 – D+11.

use super::event::{Context, Person};
use super::store::{Store, Write};
use super::time::{self, When};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde_json::{json, Value};

const ADA: &str = "ada@example.com";
const GRACE: &str = "grace.hopper@example.org";
const LENA: &str = "lena.schmidt@example.de";
const ZOE: &str = "zoe.mueller@example.de";
const BOB: &str = "bob@example.com";
const BERLIN: &str = "Europe/Berlin";

struct Seeder<'a> {
    store: &'a mut Store,
    monday: NaiveDate,
    seq: usize,
}

impl Seeder<'_> {
    fn day(&self, n: i64) -> NaiveDate {
        self.monday + Duration::days(n)
    }

    /// `{dateTime, timeZone}` for day `n` at `hh:mm` in `zone`.
    fn at(&self, n: i64, hm: &str, zone: &str) -> Value {
        json!({"dateTime": format!("{}T{hm}:00", self.day(n)), "timeZone": zone})
    }

    fn date(&self, n: i64) -> Value {
        json!({"date": self.day(n).to_string()})
    }

    /// `YYYYMMDDTHHMMSS` for day `n` at `hh:mm`, as EXDATE and RDATE write local times.
    fn ical(&self, n: i64, hm: &str) -> String {
        format!("{}T{}00", self.day(n).format("%Y%m%d"), hm.replace(':', ""))
    }

    /// The instance id suffix of day `n` at `hh:mm` Berlin.
    fn instance(&self, series: &str, n: i64, hm: &str) -> String {
        let local = self
            .day(n)
            .and_time(chrono::NaiveTime::parse_from_str(hm, "%H:%M").unwrap_or_default());
        let zone = time::zone(BERLIN).unwrap_or(chrono_tz::UTC);
        format!(
            "{series}_{}",
            When::At(time::resolve(zone, local)).id_suffix()
        )
    }

    fn add(&mut self, calendar: &str, body: Value) -> String {
        self.seq += 1;
        let event = super::event::Event::from_json(body).expect("demo event");
        let stored = self.store.insert_event(calendar, event, Some(self.seq));
        stored.expect("demo event is valid").id
    }

    /// Hands an event to another organiser, as an invitation from outside would be.
    fn organised_by(&mut self, calendar: &str, id: &str, email: &str, name: &str) {
        let email_of_account = self.store.email.clone();
        let cal = self
            .store
            .calendars
            .get_mut(calendar)
            .expect("demo calendar");
        let zone = cal.zone;
        if let Some(event) = cal.events.get_mut(id) {
            event.organizer = Some(Person {
                email: Some(email.into()),
                display_name: Some(name.into()),
                ..Default::default()
            });
            let ctx = Context {
                email: &email_of_account,
                zone,
            };
            event.finish(&ctx).expect("demo event is valid");
        }
    }
}

fn person(email: &str, name: &str, status: &str) -> Value {
    json!({"email": email, "displayName": name, "responseStatus": status})
}

pub fn seed(store: &mut Store, anchor: DateTime<Utc>) {
    let primary = store.email.clone();
    let zone = store.calendars[&primary].zone;
    let today = time::local(anchor, zone).date();
    let monday = today - Duration::days(today.weekday().num_days_from_monday() as i64);
    let team = store.add_calendar("Team", BERLIN, 1);
    if let Some(cal) = store.calendars.get_mut(&team) {
        cal.description = Some("Shared calendar of the platform team".into());
    }
    let mut s = Seeder {
        store,
        monday,
        seq: 0,
    };

    let weekly = s.add(
        &primary,
        json!({
            "summary": "Weekly sync",
            "description": "Status, blockers, next steps.",
            "location": "Room Babbage",
            "start": s.at(-13, "10:00", BERLIN),
            "end": s.at(-13, "11:00", BERLIN),
            "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=TU"],
            "attendees": [
                person(ADA, "Ada Lovelace", "accepted"),
                person(GRACE, "Grace Hopper", "accepted"),
                person(LENA, "Lena Schmidt", "tentative"),
                person(ZOE, "Zoë Müller", "needsAction"),
                person(BOB, "Bob Builder", "declined"),
            ],
            "reminders": {"useDefault": true},
        }),
    );
    let cancelled = s.instance(&weekly, 15, "10:00");
    let _ = s.store.delete(&primary, &cancelled);

    let standup = s.add(
        &primary,
        json!({
            "summary": "Daily standup",
            "start": s.at(-7, "09:30", BERLIN),
            "end": s.at(-7, "09:45", BERLIN),
            "recurrence": [
                "RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR",
                format!("EXDATE;TZID={BERLIN}:{}", s.ical(2, "09:30")),
            ],
        }),
    );
    let moved = s.instance(&standup, 3, "09:30");
    let patch = json!({"start": s.at(3, "11:00", BERLIN), "end": s.at(3, "11:15", BERLIN)});
    let _ = s.store.write(&primary, &moved, patch, Write::Patch, false);

    s.add(&primary, json!({
        "summary": "Lunch with Zoë", "location": "Café Einstein, Unter den Linden 42",
        "start": s.at(0, "12:30", BERLIN), "end": s.at(0, "13:30", BERLIN),
        "attendees": [person(ADA, "Ada Lovelace", "accepted"), person(ZOE, "Zoë Müller", "accepted")],
    }));
    s.add(
        &primary,
        json!({
            "summary": "Focus time", "transparency": "transparent",
            "start": s.at(1, "08:00", BERLIN), "end": s.at(1, "09:00", BERLIN),
        }),
    );
    s.add(&primary, json!({
        "summary": "Design review",
        "description": "Walk through the new sync engine design.",
        "start": s.at(1, "14:00", BERLIN), "end": s.at(1, "15:00", BERLIN),
        "attendees": [person(ADA, "Ada Lovelace", "accepted"), person(GRACE, "Grace Hopper", "accepted")],
        "conferenceData": {
            "conferenceId": "abc-defg-hij",
            "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet"},
            "entryPoints": [{"entryPointType": "video", "uri": "https://meet.google.com/abc-defg-hij",
                             "label": "meet.google.com/abc-defg-hij"}],
        },
    }));
    s.add(&primary, json!({
        "summary": "Call with NYC office",
        "start": s.at(2, "10:00", "America/New_York"), "end": s.at(2, "11:00", "America/New_York"),
    }));
    s.add(&primary, json!({
        "summary": "1:1 with Grace", "status": "tentative",
        "start": s.at(2, "16:15", BERLIN), "end": s.at(2, "16:45", BERLIN),
        "attendees": [person(ADA, "Ada Lovelace", "accepted"), person(GRACE, "Grace Hopper", "tentative")],
    }));
    let pitch = s.add(
        &primary,
        json!({
            "summary": "Vendor pitch", "location": "Zoom",
            "start": s.at(3, "15:00", BERLIN), "end": s.at(3, "16:00", BERLIN),
            "attendees": [person("sam@vendor.example", "Sam Seller", "accepted"),
                          person(ADA, "Ada Lovelace", "declined")],
        }),
    );
    s.organised_by(&primary, &pitch, "sam@vendor.example", "Sam Seller");
    s.add(
        &primary,
        json!({
            "summary": "Release night", "description": "Ship 2.0; pizza provided.",
            "start": s.at(4, "22:00", BERLIN), "end": s.at(5, "02:00", BERLIN),
        }),
    );
    let old = s.add(
        &primary,
        json!({
            "summary": "Old planning session",
            "start": s.at(-3, "13:00", BERLIN), "end": s.at(-3, "14:00", BERLIN),
        }),
    );
    let _ = s.store.delete(&primary, &old);
    s.add(
        &primary,
        json!({
            "summary": "Ada's birthday", "transparency": "transparent",
            "start": {"date": "1815-12-10"}, "end": {"date": "1815-12-11"},
            "recurrence": ["RRULE:FREQ=YEARLY"],
        }),
    );
    s.add(
        &primary,
        json!({
            "summary": "RustWeek", "location": "Utrecht",
            "start": s.date(15), "end": s.date(18),
        }),
    );

    s.add(&team, json!({
        "summary": "Sprint planning",
        "start": s.at(-14, "10:00", BERLIN), "end": s.at(-14, "11:30", BERLIN),
        "recurrence": [
            "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO",
            format!("RDATE;TZID={BERLIN}:{}", s.ical(24, "10:00")),
        ],
        "attendees": [person(ADA, "Ada Lovelace", "accepted"), person(LENA, "Lena Schmidt", "accepted")],
    }));
    s.add(&team, json!({
        "summary": "On-call handover",
        "start": s.at(4, "17:00", BERLIN), "end": s.at(4, "17:15", BERLIN),
        "recurrence": [format!("RRULE:FREQ=WEEKLY;BYDAY=FR;UNTIL={}", s.day(32).format("%Y%m%d"))],
    }));
    s.add(
        &team,
        json!({
            "summary": "Retro", "start": s.at(4, "15:00", BERLIN), "end": s.at(4, "16:00", BERLIN),
        }),
    );
    s.add(
        &team,
        json!({
            "summary": "Team offsite", "location": "Potsdam",
            "start": s.date(10), "end": s.date(12),
        }),
    );
}
