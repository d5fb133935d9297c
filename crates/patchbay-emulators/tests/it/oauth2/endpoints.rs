//! Client authentication, revocation and userinfo.

use super::{emulator, refresh, revoke, token, token_with_header, tokens, userinfo};
use crate::{basic, http, Answer};
use patchbay_emulators::oauth2::ClientAuth;
use patchbay_emulators::OAuthConfig;
use std::time::Duration;

#[tokio::test]
async fn client_authentication_follows_the_configured_method() {
    let grant = [("grant_type", "client_credentials")];
    let secret = "s3cr3t:+/ é";

    let emu = emulator(OAuthConfig {
        client_secret: secret.into(),
        client_auth: ClientAuth::Basic,
        ..Default::default()
    })
    .await;
    let id = emu.config().client_id.clone();
    assert_eq!(
        token_with_header(&emu, &basic(&id, secret), &grant)
            .await
            .status,
        200
    );
    let answer = token(&emu, &grant).await;
    answer.assert_error(401, "invalid_client");
    assert!(answer.header("www-authenticate").starts_with("Basic"));
    let answer = token_with_header(&emu, &basic(&id, "wrong"), &grant).await;
    answer.assert_error(401, "invalid_client");
    assert!(answer.header("www-authenticate").starts_with("Basic"));

    let emu = emulator(OAuthConfig {
        client_auth: ClientAuth::Body,
        ..Default::default()
    })
    .await;
    let c = emu.config().clone();
    assert_eq!(token(&emu, &grant).await.status, 200);
    let answer = token_with_header(&emu, &basic(&c.client_id, &c.client_secret), &grant).await;
    answer.assert_error(400, "invalid_client");

    let emu = emulator(OAuthConfig::default()).await;
    let c = emu.config().clone();
    assert_eq!(token(&emu, &grant).await.status, 200);
    let header = basic(&c.client_id, &c.client_secret);
    assert_eq!(token_with_header(&emu, &header, &grant).await.status, 200);
    let both = [
        ("grant_type", "client_credentials"),
        ("client_secret", &c.client_secret),
    ];
    token_with_header(&emu, &header, &both)
        .await
        .assert_error(400, "invalid_request");
    let wrong = [
        ("grant_type", "client_credentials"),
        ("client_id", &c.client_id),
        ("client_secret", "nope"),
    ];
    token_with_header(&emu, "", &wrong)
        .await
        .assert_error(400, "invalid_client");
}

#[tokio::test]
async fn revocation_follows_rfc_7009() {
    let emu = emulator(OAuthConfig::default()).await;

    // Revoking an access token leaves the refresh token working.
    let (access, refresh_token) = tokens(&emu).await;
    assert_eq!(revoke(&emu, &access, "access_token").await.status, 200);
    assert_eq!(userinfo(&emu, &access).await.status, 401);
    assert_eq!(refresh(&emu, &refresh_token).await.status, 200);

    // Revoking a refresh token takes its access tokens with it, whatever the hint says.
    let (access, refresh_token) = tokens(&emu).await;
    assert_eq!(
        revoke(&emu, &refresh_token, "access_token").await.status,
        200
    );
    assert_eq!(userinfo(&emu, &access).await.status, 401);
    refresh(&emu, &refresh_token)
        .await
        .assert_error(400, "invalid_grant");

    assert_eq!(revoke(&emu, "never-issued", "").await.status, 200);
    assert_eq!(emu.revocations().len(), 3);
    assert_eq!(emu.revocations()[2], "never-issued");

    let unauthenticated = http()
        .post(emu.revoke_url())
        .form(&[("token", access.as_str())]);
    let answer = Answer::from(unauthenticated.send().await.unwrap()).await;
    answer.assert_error(400, "invalid_client");
    assert_eq!(emu.revocations().len(), 3);
}

#[tokio::test]
async fn userinfo_refuses_expired_tokens() {
    let emu = emulator(OAuthConfig::default()).await;
    let (access, refresh_token) = tokens(&emu).await;
    assert_eq!(userinfo(&emu, &access).await.status, 200);

    emu.expire_access_tokens();
    let answer = userinfo(&emu, &access).await;
    answer.assert_error(401, "invalid_token");
    assert!(answer
        .header("www-authenticate")
        .contains("error=\"invalid_token\""));

    let fresh = refresh(&emu, &refresh_token).await.json();
    let fresh = fresh["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&emu, fresh).await.status, 200);
    emu.advance_time(Duration::from_secs(3601));
    assert_eq!(userinfo(&emu, fresh).await.status, 401);

    let anonymous = Answer::from(http().get(emu.userinfo_url()).send().await.unwrap()).await;
    assert_eq!(anonymous.status, 401);
    assert!(anonymous.header("www-authenticate").starts_with("Bearer"));
}
