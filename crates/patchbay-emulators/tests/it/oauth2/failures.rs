//! Injected failures and request counting.

use super::{authorize_url, emulator, token, tokens, userinfo};
use crate::http;
use patchbay_emulators::oauth2::TokenFault;
use patchbay_emulators::OAuthConfig;
use std::time::{Duration, Instant};

#[tokio::test]
async fn injected_token_failures() {
    let emu = emulator(OAuthConfig::default()).await;
    let grant = [("grant_type", "client_credentials")];

    emu.fail_token_next(2, TokenFault::InvalidGrant);
    token(&emu, &grant).await.assert_error(400, "invalid_grant");
    token(&emu, &grant).await.assert_error(400, "invalid_grant");
    assert_eq!(token(&emu, &grant).await.status, 200);

    emu.fail_token_next(1, TokenFault::ServerError);
    token(&emu, &grant).await.assert_error(500, "server_error");

    emu.fail_token_next(1, TokenFault::Garbage);
    let answer = token(&emu, &grant).await;
    assert_eq!(answer.status, 200);
    assert!(serde_json::from_str::<serde_json::Value>(&answer.text).is_err());

    emu.fail_token_next(1, TokenFault::Slow(Duration::from_millis(300)));
    let started = Instant::now();
    assert_eq!(token(&emu, &grant).await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(emu.token_requests("client_credentials"), 6);
    assert_eq!(emu.tokens_issued("client_credentials"), 2);
}

#[tokio::test]
async fn generic_faults_apply_to_every_endpoint() {
    let emu = emulator(OAuthConfig::default()).await;
    let (access, _) = tokens(&emu).await;

    emu.fail_next(1);
    assert!(emu
        .approve(&authorize_url(&emu, &[]))
        .await
        .unwrap_err()
        .contains("500"));
    emu.rate_limit_next(1);
    let answer = userinfo(&emu, &access).await;
    answer.assert_error(429, "temporarily_unavailable");
    assert_eq!(answer.header("retry-after"), "1");
    emu.truncate_next(1);
    let answer = token(&emu, &[("grant_type", "client_credentials")]).await;
    assert!(serde_json::from_str::<serde_json::Value>(&answer.text).is_err());
    assert_eq!(userinfo(&emu, &access).await.status, 200);
}

#[tokio::test]
async fn counts_concurrent_token_requests() {
    let emu = emulator(OAuthConfig::default()).await;
    let (_, refresh_token) = tokens(&emu).await;
    let c = emu.config().clone();
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let form = [
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", refresh_token.clone()),
            ("client_id", c.client_id.clone()),
            ("client_secret", c.client_secret.clone()),
        ];
        let request = http().post(emu.token_url()).form(&form);
        calls.spawn(async move { request.send().await.unwrap().status() });
    }
    while let Some(status) = calls.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
    assert_eq!(emu.token_requests("refresh_token"), 100);
    assert_eq!(emu.tokens_issued("refresh_token"), 100);
}
