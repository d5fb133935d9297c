//! Authentication, the user id, quota and injected faults, profile, watch and stop.

use super::{assert_google_error, demo, empty, get, ok, post, TOKEN};
use crate::google::{self, with_token};
use serde_json::json;

#[tokio::test]
async fn a_missing_or_unknown_token_gets_googles_401() {
    let emu = empty().await;
    google::assert_tokens_are_checked(&emu, "/gmail/v1/users/me/profile").await;
}

#[tokio::test]
async fn tokens_of_the_oauth_emulator_work_until_they_expire() {
    let emu = empty().await;
    google::assert_oauth_tokens_work_until_they_expire(&emu, "/gmail/v1/users/me/profile").await;
}

#[tokio::test]
async fn the_user_is_me_or_the_address_and_nobody_else() {
    let emu = empty().await;
    let by_address = "/gmail/v1/users/ada%40example.com/profile";
    let a = with_token(&emu.base_url, by_address, Some(TOKEN)).await;
    assert_eq!(a.json()["emailAddress"], "ada@example.com");
    let other = "/gmail/v1/users/eve@example.com/profile";
    let a = with_token(&emu.base_url, other, Some(TOKEN)).await;
    assert_google_error(&a, 403, "forbidden", "PERMISSION_DENIED");
    assert_eq!(
        a.json()["error"]["message"],
        "Delegation denied for eve@example.com"
    );
}

#[tokio::test]
async fn quota_errors_come_as_gmail_sends_them() {
    let emu = empty().await;
    emu.rate_limit_next_429(2);
    for _ in 0..2 {
        let a = get(&emu, "profile", &[]).await;
        assert_google_error(&a, 429, "rateLimitExceeded", "RESOURCE_EXHAUSTED");
        assert_eq!(a.header("retry-after"), "1");
        let message = a.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(
            message.starts_with("User-rate limit exceeded.  Retry after "),
            "{message}"
        );
        assert_eq!(a.json()["error"]["errors"][0]["domain"], "usageLimits");
    }
    assert_eq!(get(&emu, "profile", &[]).await.status, 200);

    emu.rate_limit_next_403(1);
    let a = get(&emu, "labels", &[]).await;
    assert_google_error(&a, 403, "userRateLimitExceeded", "PERMISSION_DENIED");
    assert_eq!(a.json()["error"]["message"], "User Rate Limit Exceeded");
    assert_eq!(a.header("retry-after"), "1");
    assert_eq!(get(&emu, "labels", &[]).await.status, 200);

    // Unauthenticated requests are refused before any quota is spent.
    emu.rate_limit_next_429(1);
    let a = with_token(&emu.base_url, "/gmail/v1/users/me/profile", None).await;
    assert_eq!(a.status, 401);
    assert_eq!(get(&emu, "profile", &[]).await.status, 429);
}

#[tokio::test]
async fn generic_faults_use_googles_shape_and_requests_are_counted() {
    let emu = empty().await;
    emu.fail_next(1);
    let a = get(&emu, "messages", &[]).await;
    assert_google_error(&a, 500, "backendError", "INTERNAL");
    emu.rate_limit_next(1);
    let a = get(&emu, "messages", &[]).await;
    assert_google_error(&a, 429, "rateLimitExceeded", "RESOURCE_EXHAUSTED");
    assert_eq!(a.header("retry-after"), "1");
    assert_eq!(get(&emu, "messages", &[]).await.status, 200);
    get(&emu, "messages/abc", &[]).await;

    let counts = emu.request_counts();
    assert_eq!(counts["GET /gmail/v1/users/{userId}/messages"], 3);
    assert_eq!(counts["GET /gmail/v1/users/{userId}/messages/{id}"], 1);
    assert_eq!(emu.request_count(), 4);
}

#[tokio::test]
async fn the_profile_counts_the_mailbox() {
    let emu = demo().await;
    let profile = ok(&emu, "profile", &[]).await;
    assert_eq!(profile["emailAddress"], "ada@example.com");
    assert_eq!(profile["messagesTotal"], emu.message_ids().len());
    assert!(profile["threadsTotal"].as_u64().unwrap() < emu.message_ids().len() as u64);
    assert_eq!(profile["historyId"], emu.history_id().to_string());
}

#[tokio::test]
async fn watch_is_recorded_and_stop_ends_it() {
    let emu = empty().await;
    let a = post(&emu, "watch", json!({"topicName": "gmail-topic"})).await;
    assert_google_error(&a, 400, "invalidArgument", "INVALID_ARGUMENT");
    let a = post(
        &emu,
        "watch",
        json!({"topicName": "projects/p/topics/t", "labelIds": ["NOPE"]}),
    )
    .await;
    assert_google_error(&a, 400, "invalidArgument", "INVALID_ARGUMENT");

    let body = json!({"topicName": "projects/demo/topics/gmail", "labelIds": ["INBOX"],
                      "labelFilterBehavior": "INCLUDE"});
    let a = post(&emu, "watch", body).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let answer = a.json();
    assert_eq!(answer["historyId"], emu.history_id().to_string());
    let expiration: i64 = answer["expiration"].as_str().unwrap().parse().unwrap();
    let week = chrono::Utc::now().timestamp_millis() + 7 * 86_400_000;
    assert!((expiration - week).abs() < 60_000, "{expiration} vs {week}");
    let watch = emu.watch().unwrap();
    assert_eq!(watch.topic_name, "projects/demo/topics/gmail");
    assert_eq!(watch.label_ids, ["INBOX"]);
    assert_eq!(watch.label_filter_behavior.as_deref(), Some("include"));
    assert_eq!(watch.expiration, expiration);

    let a = post(&emu, "stop", json!({})).await;
    assert_eq!(a.status, 204);
    assert!(a.text.is_empty());
    assert!(emu.watch().is_none());
}
