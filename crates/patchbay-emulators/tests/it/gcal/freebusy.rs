//! freeBusy: expanded series, transparent, declined and cancelled events, merging,
//! clipping, zones and unknown calendars.

use super::{call, demo, send, ADA};
use reqwest::Method;
use serde_json::{json, Value};

async fn query(emu: &patchbay_emulators::GcalEmulator, body: Value) -> Value {
    let a = call(emu, Method::POST, "freeBusy", &[], Some(body)).await;
    assert_eq!(a.status, 200, "{}", a.text);
    a.json()
}

fn day(d: u32) -> Value {
    json!({
        "timeMin": format!("2027-03-{d:02}T00:00:00+01:00"),
        "timeMax": format!("2027-03-{:02}T00:00:00+01:00", d + 1),
        "timeZone": "Europe/Berlin",
        "items": [{"id": "primary"}],
    })
}

fn periods(answer: &Value, id: &str) -> Vec<(String, String)> {
    let busy = answer["calendars"][id]["busy"].as_array().unwrap();
    busy.iter()
        .map(|p| {
            (
                p["start"].as_str().unwrap().to_string(),
                p["end"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn local(pairs: &[(&str, &str)], d: u32) -> Vec<(String, String)> {
    let at = |t: &str| {
        if t == "24:00" {
            format!("2027-03-{:02}T00:00:00+01:00", d + 1)
        } else {
            format!("2027-03-{d:02}T{t}:00+01:00")
        }
    };
    pairs.iter().map(|(s, e)| (at(s), at(e))).collect()
}

#[tokio::test]
async fn busy_periods_of_a_demo_week() {
    let emu = demo().await;
    let tuesday = query(&emu, day(2)).await;
    assert_eq!(tuesday["kind"], "calendar#freeBusy");
    assert_eq!(tuesday["timeMin"], "2027-03-01T23:00:00.000Z");
    // Focus time (08:00) is transparent.
    assert_eq!(
        periods(&tuesday, "primary"),
        local(
            &[("09:30", "09:45"), ("10:00", "11:00"), ("14:00", "15:00")],
            2
        )
    );
    // Wednesday: no standup (EXDATE); the NYC call and the tentative 1:1 overlap.
    let wednesday = query(&emu, day(3)).await;
    assert_eq!(
        periods(&wednesday, "primary"),
        local(&[("16:00", "17:00")], 3)
    );
    // Thursday: the moved standup; the vendor pitch Ada declined is free.
    let thursday = query(&emu, day(4)).await;
    assert_eq!(
        periods(&thursday, "primary"),
        local(&[("11:00", "11:15")], 4)
    );
    // Friday: release night runs past midnight and is clipped to the window.
    let friday = query(&emu, day(5)).await;
    assert_eq!(
        periods(&friday, "primary"),
        local(&[("09:30", "09:45"), ("22:00", "24:00")], 5)
    );
}

#[tokio::test]
async fn several_calendars_utc_unknown_ids_and_cancelled_instances() {
    let emu = demo().await;
    let team = emu.calendar_ids().into_iter().find(|c| c != ADA).unwrap();
    let standup = emu.event_id_by_summary("primary", "Daily standup").unwrap();
    let path = format!("calendars/primary/events/{standup}_20270305T083000Z");
    let a = call(&emu, Method::DELETE, &path, &[], None).await;
    assert_eq!(a.status, 204);
    let answer = query(
        &emu,
        json!({
            "timeMin": "2027-03-05T00:00:00Z",
            "timeMax": "2027-03-05T23:00:00Z",
            "items": [{"id": ADA}, {"id": team}, {"id": "nobody@example.com"}],
        }),
    )
    .await;
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(s, e)| (s.to_string(), e.to_string()))
            .collect()
    };
    assert_eq!(
        periods(&answer, ADA),
        pairs(&[("2027-03-05T21:00:00Z", "2027-03-05T23:00:00Z")])
    );
    assert_eq!(
        periods(&answer, &team),
        pairs(&[
            ("2027-03-05T14:00:00Z", "2027-03-05T15:00:00Z"),
            ("2027-03-05T16:00:00Z", "2027-03-05T16:15:00Z")
        ])
    );
    assert_eq!(
        answer["calendars"]["nobody@example.com"],
        json!({"errors": [{"domain": "global", "reason": "notFound"}], "busy": []})
    );

    // All-day events are busy unless transparent; a whole series can be made free.
    let answer = query(
        &emu,
        json!({"timeMin": "2027-03-16T09:00:00Z", "timeMax": "2027-03-16T12:00:00Z",
                                   "items": [{"id": "primary"}]}),
    )
    .await;
    assert_eq!(
        periods(&answer, "primary"),
        pairs(&[("2027-03-16T09:00:00Z", "2027-03-16T12:00:00Z")])
    );
    let rustweek = emu.event_id_by_summary("primary", "RustWeek").unwrap();
    send(
        &emu,
        Method::PATCH,
        &format!("calendars/primary/events/{rustweek}"),
        json!({"transparency": "transparent"}),
    )
    .await;
    let answer = query(
        &emu,
        json!({"timeMin": "2027-03-16T09:00:00Z", "timeMax": "2027-03-16T12:00:00Z",
                                   "items": [{"id": "primary"}]}),
    )
    .await;
    // Left: the standup (09:30 Berlin = 08:30Z) is outside; the cancelled weekly sync too.
    assert_eq!(periods(&answer, "primary"), pairs(&[]));

    let a = call(
        &emu,
        Method::POST,
        "freeBusy",
        &[],
        Some(json!({"timeMin": "2027-03-02T00:00:00Z"})),
    )
    .await;
    super::assert_google_error(&a, 400, "required", "INVALID_ARGUMENT");
}
