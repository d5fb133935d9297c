//! Authorization code, refresh and client credentials grants.

use super::{authorize_url, code, emulator, exchange, refresh, token, tokens, userinfo};
use crate::{http, pkce, query_param, Answer};
use patchbay_emulators::oauth2::Consent;
use patchbay_emulators::OAuthConfig;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn code_flow_with_pkce_checks_the_verifier() {
    let emu = emulator(OAuthConfig {
        require_pkce: true,
        ..Default::default()
    })
    .await;
    let (verifier, challenge) = pkce("good");

    let url = authorize_url(
        &emu,
        &[
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("access_type", "offline"),
        ],
    );
    let location = emu.approve(&url).await.unwrap();
    let recorded = emu.last_authorize_query().unwrap();
    assert_eq!(recorded["code_challenge"], challenge);
    assert_eq!(recorded["code_challenge_method"], "S256");
    assert_eq!(recorded["access_type"], "offline");
    let good = query_param(&location, "code").unwrap();

    let (other_verifier, _) = pkce("bad");
    let bad = code(&emu, Some(&challenge)).await;
    exchange(&emu, &bad, Some(&other_verifier))
        .await
        .assert_error(400, "invalid_grant");
    let bad = code(&emu, Some(&challenge)).await;
    exchange(&emu, &bad, None)
        .await
        .assert_error(400, "invalid_grant");

    let answer = exchange(&emu, &good, Some(&verifier)).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("cache-control"), "no-store");
    let body = answer.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "read write");
    assert!(body["refresh_token"]
        .as_str()
        .is_some_and(|t| !t.is_empty()));
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&emu, access).await.json(), emu.config().userinfo);

    assert_eq!(emu.token_requests("authorization_code"), 3);
    assert_eq!(emu.tokens_issued("authorization_code"), 1);

    // Without a challenge, or with the plain method, the request is refused.
    for extra in [
        vec![],
        vec![
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "plain"),
        ],
    ] {
        let location = emu.approve(&authorize_url(&emu, &extra)).await.unwrap();
        assert_eq!(
            query_param(&location, "error").as_deref(),
            Some("invalid_request")
        );
        assert_eq!(query_param(&location, "state").as_deref(), Some("st-1"));
    }
}

#[tokio::test]
async fn replayed_code_is_refused_and_revokes_its_tokens() {
    let emu = emulator(OAuthConfig::default()).await;
    let code = code(&emu, None).await;
    let body = exchange(&emu, &code, None).await.json();
    let access = body["access_token"].as_str().unwrap();
    let refresh_token = body["refresh_token"].as_str().unwrap();
    assert_eq!(userinfo(&emu, access).await.status, 200);

    exchange(&emu, &code, None)
        .await
        .assert_error(400, "invalid_grant");
    assert_eq!(userinfo(&emu, access).await.status, 401);
    refresh(&emu, refresh_token)
        .await
        .assert_error(400, "invalid_grant");
}

#[tokio::test]
async fn authorization_errors_redirect_only_to_a_known_redirect_uri() {
    let emu = emulator(OAuthConfig::default()).await;
    let error_of = |location: String| query_param(&location, "error").unwrap();

    let unknown_client = authorize_url(&emu, &[("client_id", "someone-else")]);
    assert!(emu
        .approve(&unknown_client)
        .await
        .unwrap_err()
        .contains("400"));
    let foreign_redirect = authorize_url(&emu, &[("redirect_uri", "http://evil.example/cb")]);
    assert!(emu.approve(&foreign_redirect).await.is_err());

    let bad_scope = authorize_url(&emu, &[("scope", "read admin")]);
    assert_eq!(
        error_of(emu.approve(&bad_scope).await.unwrap()),
        "invalid_scope"
    );
    let implicit = authorize_url(&emu, &[("response_type", "token")]);
    assert_eq!(
        error_of(emu.approve(&implicit).await.unwrap()),
        "unauthorized_client"
    );

    emu.set_consent(Consent::Deny);
    let location = emu.approve(&authorize_url(&emu, &[])).await.unwrap();
    assert_eq!(error_of(location.clone()), "access_denied");
    assert_eq!(query_param(&location, "state").as_deref(), Some("st-1"));
    emu.set_consent(Consent::Approve);

    // Codes last 60 seconds.
    let code = code(&emu, None).await;
    emu.advance_time(Duration::from_secs(61));
    exchange(&emu, &code, None)
        .await
        .assert_error(400, "invalid_grant");
}

#[tokio::test]
async fn refresh_rotation_invalidates_the_old_refresh_token() {
    let emu = emulator(OAuthConfig {
        rotate_refresh_tokens: true,
        ..Default::default()
    })
    .await;
    let (_, first) = tokens(&emu).await;
    let body = refresh(&emu, &first).await.json();
    let second = body["refresh_token"].as_str().unwrap();
    assert_ne!(second, first);
    assert_eq!(body["scope"], "read write");
    assert_eq!(
        userinfo(&emu, body["access_token"].as_str().unwrap())
            .await
            .status,
        200
    );

    refresh(&emu, &first)
        .await
        .assert_error(400, "invalid_grant");
    assert!(emu.refresh_token_valid(second));

    // A narrower scope is fine, a wider one is not; the refresh token keeps the full scope.
    let narrow = token(
        &emu,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", second),
            ("scope", "read"),
        ],
    )
    .await
    .json();
    assert_eq!(narrow["scope"], "read");
    let third = narrow["refresh_token"].as_str().unwrap();
    assert_eq!(refresh(&emu, third).await.json()["scope"], "read write");
    assert_eq!(emu.token_requests("refresh_token"), 4);
    assert_eq!(emu.tokens_issued("refresh_token"), 3);

    emu.revoke_all_refresh_tokens();
    refresh(&emu, third)
        .await
        .assert_error(400, "invalid_grant");
}

#[tokio::test]
async fn refresh_without_rotation_keeps_the_refresh_token() {
    let emu = emulator(OAuthConfig {
        token_type_casing: "bearer".into(),
        extra_token_fields: json!({"ok": true, "team": {"id": "T123", "name": "Acme"}}),
        ..Default::default()
    })
    .await;
    let (_, refresh_token) = tokens(&emu).await;
    for _ in 0..2 {
        let body = refresh(&emu, &refresh_token).await.json();
        assert!(body.get("refresh_token").is_none(), "{body}");
        assert_eq!(body["token_type"], "bearer");
        assert_eq!(body["team"]["id"], "T123");
        assert_eq!(body["ok"], true);
    }
    let wider = [
        ("grant_type", "refresh_token"),
        ("refresh_token", &refresh_token),
        ("scope", "read delete"),
    ];
    token(&emu, &wider).await.assert_error(400, "invalid_scope");
}

#[tokio::test]
async fn client_credentials_grant_issues_no_refresh_token() {
    let emu = emulator(OAuthConfig {
        access_token_ttl: None,
        ..Default::default()
    })
    .await;
    let body = token(
        &emu,
        &[("grant_type", "client_credentials"), ("scope", "read")],
    )
    .await
    .json();
    assert_eq!(body["scope"], "read");
    assert!(
        body.get("refresh_token").is_none() && body.get("expires_in").is_none(),
        "{body}"
    );
    assert_eq!(
        userinfo(&emu, body["access_token"].as_str().unwrap())
            .await
            .status,
        200
    );

    let bad_scope = [("grant_type", "client_credentials"), ("scope", "admin")];
    token(&emu, &bad_scope)
        .await
        .assert_error(400, "invalid_scope");
    token(&emu, &[("grant_type", "password")])
        .await
        .assert_error(400, "unsupported_grant_type");
    token(&emu, &[]).await.assert_error(400, "invalid_request");

    let json_body = json!({"grant_type": "client_credentials", "client_id": emu.config().client_id, "client_secret": emu.config().client_secret});
    let answer = Answer::from(
        http()
            .post(emu.token_url())
            .json(&json_body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    answer.assert_error(400, "invalid_request");
}
