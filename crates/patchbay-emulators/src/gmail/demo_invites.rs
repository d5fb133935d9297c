//! Invitations in the demo mailbox: a weekly meeting invitation as Google Calendar sends it
//! (a `text/calendar; method=REQUEST` alternative plus `invite.ics`), its later cancellation
//! (`method=CANCEL`, same UID, higher SEQUENCE), and a webinar invitation carried only as an
//! `.ics` attachment.

use super::calendar::Event;
use super::demo::{Seeder, CHRIS, ZOE};
use chrono::{Datelike, Duration, NaiveDateTime, NaiveTime, Weekday};

const UID: &str = "7kq2m9f1c0v3b8d4e6a5s2h1j0@google.com";

/// The first `weekday` after the anchor at `hour` (wall clock).
fn next(s: &Seeder, weekday: Weekday, hour: u32) -> NaiveDateTime {
    let mut day = s.anchor.date_naive() + Duration::days(1);
    while day.weekday() != weekday {
        day += Duration::days(1);
    }
    day.and_time(NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or_default())
}

pub fn seed(s: &mut Seeder) {
    let me = (s.me.0.clone(), s.me.1.clone());
    let sent = s.ago(9, 0);
    let mut event = Event {
        uid: UID.into(),
        method: "REQUEST",
        sequence: 0,
        summary: "Weekly finance sync".into(),
        description:
            "Budget, forecast and open invoices. Agenda: https://docs.example.com/finance-sync"
                .into(),
        location: "Konferenzraum 3, Friedrichstraße 68, 10117 Berlin".into(),
        start: next(s, Weekday::Tue, 10),
        minutes: 30,
        rrule: Some("FREQ=WEEKLY;BYDAY=TU".into()),
        organizer: (ZOE.0.into(), ZOE.1.into()),
        attendees: vec![
            (ZOE.0.into(), ZOE.1.into(), "ACCEPTED"),
            (me.0.clone(), me.1.clone(), "NEEDS-ACTION"),
            (CHRIS.0.into(), CHRIS.1.into(), "TENTATIVE"),
        ],
        stamp: sent,
    };
    let when = "Weekly from 10:00 to 10:30 on Tuesday (CET)";
    let subject = format!("Invitation: Weekly finance sync @ {when} ({})", me.1);
    let text = format!(
        "You have been invited to the following event.\n\nWeekly finance sync\nWhen: {when}\n\
         Where: Konferenzraum 3, Friedrichstraße 68, 10117 Berlin\nOrganizer: {} <{}>\n\n\
         Going? Yes - Maybe - No\n\nInvitation from Google Calendar",
        ZOE.0, ZOE.1
    );
    let html = format!(
        "<html><body><h3>Weekly finance sync</h3><p><b>When</b>: {when}</p><p><b>Where</b>: \
         Konferenzraum 3, Friedrichstraße 68, 10117 Berlin</p><p><b>Organizer</b>: {}</p>\
         <p>Going? <a href=\"https://calendar.example.com/rsvp?yes\">Yes</a> - Maybe - No</p>\
         </body></html>",
        ZOE.0
    );
    let ics = event.to_ics();
    let mail = s
        .incoming(ZOE, &subject, "invite.finsync.0@google.example", sent)
        .cc_named(CHRIS.0, CHRIS.1)
        .text(&text)
        .html(&html)
        .calendar("REQUEST", &ics)
        .attach("invite.ics", "application/ics", ics.clone().into_bytes());
    s.add(mail, &["INBOX", "CATEGORY_PERSONAL"]);

    event.method = "CANCEL";
    event.sequence = 1;
    event.stamp = s.ago(1, 8);
    let subject = format!("Canceled event: Weekly finance sync @ {when} ({})", me.1);
    let text = format!(
        "This event has been canceled and removed from your calendar.\n\nWeekly finance sync\n\
         When: {when}\nOrganizer: {} <{}>\n\nInvitation from Google Calendar",
        ZOE.0, ZOE.1
    );
    let mail = s
        .incoming(
            ZOE,
            &subject,
            "invite.finsync.1@google.example",
            event.stamp,
        )
        .text(&text)
        .calendar("CANCEL", &event.to_ics());
    s.add(mail, &["INBOX", "UNREAD", "CATEGORY_PERSONAL"]);

    let contoso = ("Events at Contoso", "events@contoso.example");
    let webinar = Event {
        uid: "webinar-idempotent-apis-2026@contoso.example".into(),
        method: "REQUEST",
        sequence: 0,
        summary: "Webinar: Designing idempotent APIs".into(),
        description:
            "Join us for a one-hour session on idempotency keys, retries and exactly-once \
                      side effects."
                .into(),
        location: "https://meet.contoso.example/j/8812".into(),
        start: next(s, Weekday::Thu, 14) + Duration::days(7),
        minutes: 60,
        rrule: None,
        organizer: (contoso.0.into(), contoso.1.into()),
        attendees: vec![(me.0.clone(), me.1.clone(), "NEEDS-ACTION")],
        stamp: s.ago(2, 6),
    };
    let text = "Hi Ada,\n\nThanks for registering. Your calendar invitation is attached \
                (invite.ics).\n\nSee you there,\nThe Contoso events team";
    let mail = s
        .incoming(
            contoso,
            "Webinar: Designing idempotent APIs — Thu 14:00 CET",
            "webinar.8812@contoso.example",
            webinar.stamp,
        )
        .text(text)
        .attach(
            "invite.ics",
            "text/calendar; method=REQUEST",
            webinar.to_ics().into_bytes(),
        );
    s.add(mail, &["INBOX", "UNREAD", "CATEGORY_UPDATES"]);
}
