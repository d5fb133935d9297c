//! The OAuth authorization server emulator, driven as a client and a browser would.

mod endpoints;
mod failures;
mod flows;

use crate::{http, query_param, Answer};
use patchbay_emulators::oauth2;
use patchbay_emulators::{OAuthConfig, OAuthEmulator};
use reqwest::Url;

const REDIRECT: &str = "http://127.0.0.1:9/callback";

async fn emulator(config: OAuthConfig) -> OAuthEmulator {
    oauth2::spawn(OAuthConfig {
        redirect_uris: vec![REDIRECT.into()],
        ..config
    })
    .await
    .unwrap()
}

/// An authorization URL as a client builds it; `extra` adds or replaces parameters, and
/// an empty value leaves one out.
fn authorize_url(emu: &OAuthEmulator, extra: &[(&str, &str)]) -> String {
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", emu.config().client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("scope", "read write"),
        ("state", "st-1"),
    ];
    for (k, v) in extra {
        params.retain(|(name, _)| name != k);
        if !v.is_empty() {
            params.push((k, v));
        }
    }
    Url::parse_with_params(&emu.authorize_url(), params)
        .unwrap()
        .to_string()
}

/// Runs the browser step and returns the code from the redirect.
async fn code(emu: &OAuthEmulator, challenge: Option<&str>) -> String {
    let extra = match challenge {
        Some(c) => vec![("code_challenge", c), ("code_challenge_method", "S256")],
        None => vec![],
    };
    let location = emu.approve(&authorize_url(emu, &extra)).await.unwrap();
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(query_param(&location, "state").as_deref(), Some("st-1"));
    query_param(&location, "code").unwrap_or_else(|| panic!("no code in {location}"))
}

/// A token request authenticated with `client_id`/`client_secret` in the body.
async fn token(emu: &OAuthEmulator, form: &[(&str, &str)]) -> Answer {
    let c = emu.config();
    let mut form = form.to_vec();
    form.extend([
        ("client_id", c.client_id.as_str()),
        ("client_secret", &c.client_secret),
    ]);
    Answer::from(
        http()
            .post(emu.token_url())
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// A token request with only the given `Authorization` header as client authentication.
async fn token_with_header(
    emu: &OAuthEmulator,
    authorization: &str,
    form: &[(&str, &str)],
) -> Answer {
    let request = http()
        .post(emu.token_url())
        .header("authorization", authorization);
    Answer::from(request.form(form).send().await.unwrap()).await
}

async fn exchange(emu: &OAuthEmulator, code: &str, verifier: Option<&str>) -> Answer {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
    ];
    form.extend(verifier.map(|v| ("code_verifier", v)));
    token(emu, &form).await
}

async fn refresh(emu: &OAuthEmulator, refresh_token: &str) -> Answer {
    token(
        emu,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

async fn userinfo(emu: &OAuthEmulator, access_token: &str) -> Answer {
    let request = http().get(emu.userinfo_url()).bearer_auth(access_token);
    Answer::from(request.send().await.unwrap()).await
}

async fn revoke(emu: &OAuthEmulator, token: &str, hint: &str) -> Answer {
    let c = emu.config();
    let form = [
        ("token", token),
        ("token_type_hint", hint),
        ("client_id", &c.client_id),
        ("client_secret", &c.client_secret),
    ];
    Answer::from(
        http()
            .post(emu.revoke_url())
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Tokens from a complete code flow without PKCE.
async fn tokens(emu: &OAuthEmulator) -> (String, String) {
    let code = code(emu, None).await;
    let body = exchange(emu, &code, None).await.json();
    let access = body["access_token"].as_str().unwrap().to_string();
    (access, body["refresh_token"].as_str().unwrap().to_string())
}
