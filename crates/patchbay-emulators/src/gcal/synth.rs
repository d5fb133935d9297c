//! Generated events for benchmarks: `count` events on the primary calendar spread over the
//! half year either side of `now`, working hours in the calendar's zone, every tenth a
//! weekly or daily series with a few instances. Built as structs (no JSON round trip) so
//! large counts seed quickly; the same count always gives the same times and titles.

use super::event::{Attendee, Event};
use super::store::Store;
use super::time::{self, EventTime};
use chrono::{DateTime, Duration, NaiveTime, Utc};

const TOPICS: [&str; 8] = [
    "Roadmap",
    "Billing",
    "Onboarding",
    "Search",
    "Mobile app",
    "Data pipeline",
    "Security",
    "Hiring",
];
const KINDS: [&str; 6] = ["sync", "review", "planning", "workshop", "check-in", "demo"];
const PEOPLE: [&str; 4] = [
    "grace.hopper@example.org",
    "lena.schmidt@example.de",
    "zoe.mueller@example.de",
    "alan.turing@example.org",
];

/// A cheap, well-mixed hash of the index (splitmix64).
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

pub fn seed(store: &mut Store, count: usize, anchor: DateTime<Utc>) {
    let primary = store.email.clone();
    let (zone, time_zone) = {
        let cal = &store.calendars[&primary];
        (cal.zone, cal.time_zone.clone())
    };
    let today = time::local(anchor, zone).date();
    for i in 0..count {
        let h = mix(i as u64);
        let day = today + Duration::days((h % 361) as i64 - 180);
        let hour = 8 + (h >> 9) % 10;
        let minutes = [30, 45, 60, 90][((h >> 13) % 4) as usize];
        let start = day.and_time(NaiveTime::from_hms_opt(hour as u32, 0, 0).unwrap_or_default());
        let end = start + Duration::minutes(minutes);
        let at = |t: chrono::NaiveDateTime| EventTime {
            date_time: Some(t.format("%Y-%m-%dT%H:%M:%S").to_string()),
            time_zone: Some(time_zone.clone()),
            ..Default::default()
        };
        let topic = TOPICS[((h >> 17) % TOPICS.len() as u64) as usize];
        let kind = KINDS[((h >> 21) % KINDS.len() as u64) as usize];
        let mut event = Event {
            summary: Some(format!("{topic} {kind} #{i}")),
            start: Some(at(start)),
            end: Some(at(end)),
            ..Default::default()
        };
        if i.is_multiple_of(10) {
            let rule = if (h >> 25).is_multiple_of(2) {
                format!("RRULE:FREQ=WEEKLY;COUNT={}", 4 + (h >> 27) % 9)
            } else {
                format!("RRULE:FREQ=DAILY;COUNT={}", 3 + (h >> 27) % 5)
            };
            event.recurrence = Some(vec![rule]);
        }
        if i.is_multiple_of(3) {
            let email = PEOPLE[((h >> 31) % PEOPLE.len() as u64) as usize];
            let status =
                ["accepted", "needsAction", "tentative", "declined"][((h >> 35) % 4) as usize];
            event.attendees = Some(vec![Attendee {
                email: Some(email.to_string()),
                response_status: status.to_string(),
                ..Default::default()
            }]);
        }
        if let Err(e) = store.insert_event(&primary, event, Some(i)) {
            panic!("generated event {i}: {}", e.message);
        }
    }
}
