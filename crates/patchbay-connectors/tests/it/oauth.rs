//! The OAuth 2.0 client against the emulated authorization server.

use crate::support;
use patchbay_connectors::oauth::{authorization_url, pkce_pair, OAuthApp, OAuthClient, OAuthError};
use patchbay_connectors::providers::{Catalog, ClientAuth, Provider};
use patchbay_core::Secret;
use patchbay_emulators::oauth2::{self, OAuthConfig, OAuthEmulator, TokenFault};
use serde_json::json;
use std::time::Duration;

const REDIRECT: &str = "https://patchbay.example/v1/oauth/callback";

fn provider(em: &OAuthEmulator, auth: ClientAuth) -> Provider {
    let yaml = format!(
        "probe: {{auth_mode: oauth2, authorization_url: '{}', token_url: '{}', revocation_url: '{}', userinfo_url: '{}', account_id_field: id, default_scopes: [read], pkce: true, client_auth: {}}}",
        em.authorize_url(),
        em.token_url(),
        em.revoke_url(),
        em.userinfo_url(),
        if auth == ClientAuth::Basic { "basic" } else { "body" }
    );
    Catalog::load(Some(&yaml))
        .unwrap()
        .get("probe")
        .unwrap()
        .clone()
}

fn app(em: &OAuthEmulator) -> OAuthApp {
    OAuthApp {
        client_id: em.config().client_id.clone(),
        client_secret: Secret::new(em.config().client_secret.clone()),
        webhook_secret: None,
    }
}

async fn code_for(em: &OAuthEmulator, p: &Provider, challenge: &str) -> String {
    let url = authorization_url(
        p,
        &em.config().client_id,
        REDIRECT,
        &p.default_scopes,
        &[],
        "st-1",
        Some(challenge),
    )
    .unwrap();
    let location = em.approve(&url).await.unwrap();
    let q: std::collections::BTreeMap<String, String> = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(q["state"], "st-1");
    q["code"].clone()
}

#[tokio::test]
async fn code_flow_refresh_and_revoke_with_each_client_auth() {
    for auth in [ClientAuth::Basic, ClientAuth::Body] {
        let em = oauth2::spawn(OAuthConfig {
            rotate_refresh_tokens: true,
            access_token_ttl: Some(Duration::from_secs(600)),
            ..Default::default()
        })
        .await
        .unwrap();
        let p = provider(&em, auth);
        let client = OAuthClient::new(support::http());
        let (verifier, challenge) = pkce_pair();
        let code = code_for(&em, &p, &challenge).await;
        let query = em.last_authorize_query().unwrap();
        assert_eq!(
            (
                query["code_challenge_method"].as_str(),
                query["scope"].as_str()
            ),
            ("S256", "read")
        );
        let tokens = client
            .exchange_code(&p, &app(&em), &code, REDIRECT, Some(&verifier))
            .await
            .unwrap();
        assert_eq!(tokens.expires_in, Some(600));
        assert!(tokens.token_type.eq_ignore_ascii_case("bearer"));
        let info = client.userinfo(&p, &tokens.access_token).await.unwrap();
        assert_eq!(info["login"], "octo");
        // Refresh rotates; the old refresh token then fails with invalid_grant.
        let old = tokens.refresh_token.unwrap();
        let refreshed = client.refresh(&p, &app(&em), &old).await.unwrap();
        let err = client.refresh(&p, &app(&em), &old).await.unwrap_err();
        assert!(err.is_invalid_grant(), "{err}");
        // Revocation of the new refresh token kills its access token too.
        assert!(client
            .revoke(
                &p,
                &app(&em),
                refreshed.refresh_token.as_ref().unwrap(),
                "refresh_token"
            )
            .await
            .unwrap());
        assert!(!em.access_token_valid(refreshed.access_token.expose()));
        // A replayed code is refused.
        assert!(client
            .exchange_code(&p, &app(&em), &code, REDIRECT, Some(&verifier))
            .await
            .unwrap_err()
            .is_invalid_grant());
    }
}

#[tokio::test]
async fn optional_fields_and_provider_quirks() {
    let em = oauth2::spawn(OAuthConfig {
        access_token_ttl: None,
        token_type_casing: "bearer".into(),
        extra_token_fields: json!({"team": {"id": "T42", "name": "Acme"}}),
        ..Default::default()
    })
    .await
    .unwrap();
    let p = provider(&em, ClientAuth::Basic);
    let client = OAuthClient::new(support::http());
    let (verifier, challenge) = pkce_pair();
    let code = code_for(&em, &p, &challenge).await;
    let t = client
        .exchange_code(&p, &app(&em), &code, REDIRECT, Some(&verifier))
        .await
        .unwrap();
    assert_eq!(t.expires_in, None, "expires_in is optional");
    assert_eq!(
        t.extra["team"]["id"], "T42",
        "extra fields are kept for metadata"
    );
    assert!(t.extra.get("access_token").is_none() && t.extra.get("refresh_token").is_none());
    // Without rotation the answer omits refresh_token: the caller keeps the old one.
    let r = client
        .refresh(&p, &app(&em), t.refresh_token.as_ref().unwrap())
        .await
        .unwrap();
    assert!(r.refresh_token.is_none());
    let cc = client
        .client_credentials(&p, &app(&em), &["read".into()])
        .await
        .unwrap();
    assert!(cc.refresh_token.is_none());
    assert!(
        !format!("{t:?}").contains(t.access_token.expose()),
        "Debug hides tokens"
    );
}

#[tokio::test]
async fn failures_are_classified() {
    let em = oauth2::spawn(OAuthConfig::default()).await.unwrap();
    let p = provider(&em, ClientAuth::Basic);
    let client = OAuthClient::new(support::http());
    let rt = Secret::new("not-a-real-refresh-token");
    let err = client.refresh(&p, &app(&em), &rt).await.unwrap_err();
    assert!(err.is_invalid_grant(), "{err}");
    let bad_app = OAuthApp {
        client_id: em.config().client_id.clone(),
        client_secret: Secret::new("wrong-secret"),
        webhook_secret: None,
    };
    let err = client
        .client_credentials(&p, &bad_app, &[])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OAuthError::Rejected { error, status: 401, .. } if error == "invalid_client"),
        "{err}"
    );
    assert!(!err.to_string().contains("wrong-secret"));
    em.fail_token_next(1, TokenFault::ServerError);
    assert!(matches!(
        client.client_credentials(&p, &app(&em), &[]).await,
        Err(OAuthError::Transient(_))
    ));
    em.fail_token_next(1, TokenFault::Garbage);
    assert!(matches!(
        client.client_credentials(&p, &app(&em), &[]).await,
        Err(OAuthError::BadResponse(_))
    ));
    em.rate_limit_next(1);
    assert!(matches!(
        client.client_credentials(&p, &app(&em), &[]).await,
        Err(OAuthError::Transient(_))
    ));
    em.fail_token_next(1, TokenFault::InvalidGrant);
    assert!(client
        .client_credentials(&p, &app(&em), &[])
        .await
        .unwrap_err()
        .is_invalid_grant());
    // Token endpoints on loopback are refused unless private networks are allowed.
    let strict = OAuthClient::new(patchbay_connectors::HttpClient::new(
        patchbay_connectors::NetworkPolicy::DenyPrivate,
        Duration::from_secs(5),
    ));
    let err = strict
        .client_credentials(&p, &app(&em), &[])
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("PATCHBAY_ALLOW_PRIVATE_NETWORKS"),
        "{err}"
    );
}
