//! Authentication, quota and injected faults, request counting, unknown resources.

use super::{assert_google_error, empty, get};
use crate::google::{self, with_token};

const LIST: &str = "/calendar/v3/users/me/calendarList";

#[tokio::test]
async fn a_missing_or_unknown_token_gets_googles_401() {
    let emu = empty().await;
    google::assert_tokens_are_checked(&emu, LIST).await;
}

#[tokio::test]
async fn tokens_of_the_oauth_emulator_work_until_they_expire() {
    let emu = empty().await;
    google::assert_oauth_tokens_work_until_they_expire(&emu, LIST).await;
}

#[tokio::test]
async fn quota_errors_come_as_calendar_sends_them() {
    let emu = empty().await;
    let path = "calendars/primary/events";
    emu.rate_limit_next_429(2);
    for _ in 0..2 {
        let a = get(&emu, path, &[]).await;
        assert_google_error(&a, 429, "rateLimitExceeded", "RESOURCE_EXHAUSTED");
        assert_eq!(a.header("retry-after"), "1");
        assert_eq!(a.json()["error"]["errors"][0]["domain"], "usageLimits");
    }
    assert_eq!(get(&emu, path, &[]).await.status, 200);

    emu.rate_limit_next_403(1);
    let a = get(&emu, path, &[]).await;
    assert_google_error(&a, 403, "userRateLimitExceeded", "PERMISSION_DENIED");
    assert_eq!(a.json()["error"]["message"], "User Rate Limit Exceeded");
    assert_eq!(a.header("retry-after"), "1");

    emu.rate_limit_next_403_project(1);
    let a = get(&emu, path, &[]).await;
    assert_google_error(&a, 403, "rateLimitExceeded", "PERMISSION_DENIED");
    assert_eq!(a.json()["error"]["message"], "Rate Limit Exceeded");
    assert_eq!(get(&emu, path, &[]).await.status, 200);

    // Unauthenticated requests are refused before any quota is spent.
    emu.rate_limit_next_429(1);
    let a = with_token(&emu.base_url, LIST, None).await;
    assert_eq!(a.status, 401);
    assert_eq!(get(&emu, path, &[]).await.status, 429);
}

#[tokio::test]
async fn generic_faults_use_googles_shape_and_requests_are_counted() {
    let emu = empty().await;
    emu.fail_next(1);
    let a = get(&emu, "calendars/primary/events", &[]).await;
    assert_google_error(&a, 500, "backendError", "INTERNAL");
    emu.rate_limit_next(1);
    let a = get(&emu, "calendars/primary/events", &[]).await;
    assert_google_error(&a, 429, "rateLimitExceeded", "RESOURCE_EXHAUSTED");
    assert_eq!(get(&emu, "calendars/primary/events", &[]).await.status, 200);
    get(&emu, "calendars/primary/events/abcdef", &[]).await;
    get(&emu, "calendars/primary/events/abcdef/instances", &[]).await;

    let counts = emu.request_counts();
    assert_eq!(counts["GET /calendar/v3/calendars/{calendarId}/events"], 3);
    assert_eq!(
        counts["GET /calendar/v3/calendars/{calendarId}/events/{eventId}"],
        1
    );
    assert_eq!(
        counts["GET /calendar/v3/calendars/{calendarId}/events/{eventId}/instances"],
        1
    );
    assert_eq!(emu.request_count(), 5);
}

#[tokio::test]
async fn unknown_calendars_and_events_are_404() {
    let emu = empty().await;
    for path in [
        "calendars/nobody@example.com",
        "calendars/nobody@example.com/events",
        "users/me/calendarList/nobody@example.com",
        "calendars/primary/events/abcdef12345",
        "calendars/primary/events/abcdef12345_20270301T090000Z",
        "no/such/route",
    ] {
        let a = get(&emu, path, &[]).await;
        assert_google_error(&a, 404, "notFound", "NOT_FOUND");
        assert_eq!(a.json()["error"]["message"], "Not Found");
    }
}
