//! The GitHub emulator over real HTTP: pagination, ETags, rate limits, errors, search,
//! streaming, the path prefix, OAuth tokens, GitHub's own OAuth web flow and signed webhook
//! deliveries.

use crate::{http, Answer};
use patchbay_emulators::github::{self, hmac_sha256, GithubConfig, GithubEmulator, Permissions};
use patchbay_emulators::oauth2::{self, OAuthConfig};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

const TOKEN: &str = "ghp_emulator_token_0001";

async fn emulator(config: GithubConfig) -> GithubEmulator {
    let emu = github::spawn(config).await.unwrap();
    emu.add_token(TOKEN, "octo");
    emu.add_repo("octo/app", false).unwrap();
    for i in 1..=5 {
        emu.add_issue("octo/app", &format!("Issue {i}"), "octo")
            .unwrap();
    }
    emu.add_pull("octo/app", "Feature", "feature", "octo")
        .unwrap();
    emu
}

async fn get(emu: &GithubEmulator, path: &str, token: &str) -> Answer {
    let resp = http()
        .get(format!("{}{path}", emu.api_url()))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    Answer::from(resp).await
}

#[tokio::test]
async fn lists_paginate_with_link_headers() {
    let emu = emulator(GithubConfig::default()).await;
    let first = get(&emu, "/repos/octo/app/issues?per_page=4", TOKEN).await;
    assert_eq!(first.status, 200);
    let items = first.json();
    assert_eq!(items.as_array().unwrap().len(), 4);
    // Newest first; the pull request is listed as an issue with a `pull_request` key.
    assert_eq!(items[0]["number"], 6);
    assert!(items[0]["pull_request"]["url"].is_string());
    assert!(items[1].get("pull_request").is_none());
    let link = first.header("link").to_string();
    assert!(
        link.contains("rel=\"next\"") && link.contains("rel=\"last\""),
        "{link}"
    );
    let next = link
        .split(';')
        .next()
        .unwrap()
        .trim_matches(['<', '>', ' ']);
    assert!(
        next.contains("page=2") && next.contains("per_page=4"),
        "{next}"
    );
    let resp = http()
        .get(next)
        .header("Authorization", format!("token {TOKEN}"))
        .send()
        .await
        .unwrap();
    let second = Answer::from(resp).await;
    assert_eq!(second.json().as_array().unwrap().len(), 2);
    assert!(!second.header("link").contains("rel=\"next\""));
    for h in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-used",
        "x-ratelimit-reset",
    ] {
        assert!(!second.header(h).is_empty(), "{h}");
    }
    assert_eq!(second.header("x-ratelimit-resource"), "core");
}

#[tokio::test]
async fn etags_answer_304_without_counting() {
    let emu = emulator(GithubConfig::default()).await;
    let first = get(&emu, "/repos/octo/app", TOKEN).await;
    let etag = first.header("etag").to_string();
    assert!(etag.starts_with("W/\""), "{etag}");
    assert_eq!(
        first.json()["permissions"],
        json!({"admin": true, "push": true, "pull": true})
    );
    let used = emu.rate_limit_used();
    let resp = http()
        .get(format!("{}/repos/octo/app", emu.api_url()))
        .header("Authorization", format!("Bearer {TOKEN}"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);
    assert_eq!(emu.rate_limit_used(), used);
    assert_eq!(emu.not_modified_count(), 1);
}

#[tokio::test]
async fn credentials_and_rate_limits() {
    let emu = emulator(GithubConfig::default()).await;
    let bad = get(&emu, "/user", "nope").await;
    assert_eq!(bad.status, 401);
    assert_eq!(bad.json()["message"], "Bad credentials");
    assert!(bad.json()["documentation_url"].is_string());

    emu.secondary_rate_limit_next(1, 17);
    let secondary = get(&emu, "/user", TOKEN).await;
    assert_eq!(secondary.status, 403);
    assert_eq!(secondary.header("retry-after"), "17");
    assert!(secondary.json()["message"]
        .as_str()
        .unwrap()
        .contains("secondary rate limit"));

    emu.exhaust_rate_limit();
    let primary = get(&emu, "/user", TOKEN).await;
    assert_eq!(primary.status, 403);
    assert_eq!(primary.header("x-ratelimit-remaining"), "0");
    assert!(primary.json()["message"]
        .as_str()
        .unwrap()
        .starts_with("API rate limit exceeded for"));
    let limits = get(&emu, "/rate_limit", TOKEN).await;
    assert_eq!(limits.status, 403, "an exhausted window refuses everything");
    emu.reset_rate_limit();
    let limits = get(&emu, "/rate_limit", TOKEN).await;
    assert_eq!(limits.json()["resources"]["core"]["remaining"], 5000);
}

#[tokio::test]
async fn validation_errors_use_githubs_shape() {
    let emu = emulator(GithubConfig::default()).await;
    let post = |body: Value| {
        http()
            .post(format!("{}/repos/octo/app/pulls", emu.api_url()))
            .header("Authorization", format!("Bearer {TOKEN}"))
            .json(&body)
            .send()
    };
    let answer = Answer::from(post(json!({"title": "x", "base": "main"})).await.unwrap()).await;
    assert_eq!(answer.status, 422);
    let body = answer.json();
    assert_eq!(body["message"], "Validation Failed");
    assert_eq!(
        body["errors"][0],
        json!({"resource": "PullRequest", "field": "head", "code": "missing_field"})
    );
    let created = Answer::from(
        post(json!({"title": "x", "head": "feature", "base": "main", "draft": true}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.json()["draft"], true);
    assert_eq!(created.json()["base"]["ref"], "main");
}

#[tokio::test]
async fn search_finds_assigned_issues_and_review_requests() {
    let emu = emulator(GithubConfig::default()).await;
    emu.add_user("mona");
    emu.assign("octo/app", 2, "octo").unwrap();
    emu.assign("octo/app", 3, "mona").unwrap();
    emu.request_review("octo/app", 6, "octo").unwrap();
    let found = get(
        &emu,
        "/search/issues?q=is:open+is:issue+assignee:@me",
        TOKEN,
    )
    .await;
    assert_eq!(found.header("x-ratelimit-resource"), "search");
    let body = found.json();
    assert_eq!(body["total_count"], 1);
    assert_eq!(body["incomplete_results"], false);
    assert_eq!(body["items"][0]["number"], 2);
    let reviews = get(&emu, "/search/issues?q=is:pr+review-requested:octo", TOKEN)
        .await
        .json();
    assert_eq!(reviews["items"][0]["number"], 6);
    // As on GitHub, `assignee:` finds pull requests too, and `is:pr` keeps only them.
    emu.assign("octo/app", 6, "octo").unwrap();
    let assigned = get(&emu, "/search/issues?q=is:open+is:pr+assignee:@me", TOKEN)
        .await
        .json();
    assert_eq!(assigned["total_count"], 1, "{assigned}");
    assert_eq!(assigned["items"][0]["number"], 6);
    assert!(assigned["items"][0]["pull_request"].is_object());
    let any = get(&emu, "/search/issues?q=is:open+assignee:@me", TOKEN)
        .await
        .json();
    assert_eq!(any["total_count"], 2, "{any}");
}

#[tokio::test]
async fn private_repos_hide_and_prefix_applies() {
    let emu = emulator(GithubConfig {
        path_prefix: "/api/v3".into(),
        ..Default::default()
    })
    .await;
    assert!(emu.api_url().ends_with("/api/v3"));
    emu.add_repo("mona/secret", true).unwrap();
    assert_eq!(get(&emu, "/repos/mona/secret", TOKEN).await.status, 404);
    emu.grant("mona/secret", "octo", Permissions::READ);
    let seen = get(&emu, "/repos/mona/secret", TOKEN).await.json();
    assert_eq!(seen["permissions"]["push"], false);
    assert_eq!(emu.calls("/repos/mona/secret"), 2);
    let unprefixed = http()
        .get(format!("{}/user", emu.base_url))
        .header("Authorization", format!("Bearer {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(unprefixed.status(), 404);
}

#[tokio::test]
async fn tarballs_stream_the_configured_size() {
    let emu = emulator(GithubConfig::default()).await;
    emu.set_tarball_size(3 * 1024 * 1024 + 5);
    let resp = http()
        .get(format!("{}/repos/octo/app/tarball/main", emu.api_url()))
        .header("Authorization", format!("Bearer {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("etag").is_none());
    assert_eq!(resp.bytes().await.unwrap().len(), 3 * 1024 * 1024 + 5);
}

#[tokio::test]
async fn oauth_emulator_tokens_are_accepted() {
    let oauth = oauth2::spawn(OAuthConfig::default()).await.unwrap();
    let emu = emulator(GithubConfig::default()).await;
    emu.accept_tokens_from(&oauth, "mona");
    let tokens = oauth.issue_tokens("read");
    let access = tokens["access_token"].as_str().unwrap();
    let me = get(&emu, "/user", access).await;
    assert_eq!(me.json()["login"], "mona");
    oauth.expire_access_tokens();
    assert_eq!(get(&emu, "/user", access).await.status, 401);
}

type Received = Arc<Mutex<Vec<(axum::http::HeaderMap, Vec<u8>)>>>;

/// A receiver on port 0 that records what it is sent.
async fn receiver() -> (String, Received) {
    let got: Received = Arc::default();
    let store = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let store = store.clone();
                async move {
                    store.lock().unwrap().push((headers, body.to_vec()));
                    "ok"
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), got)
}

#[test]
fn hmac_matches_githubs_documented_example() {
    let mac = hmac_sha256(b"It's a Secret to Everybody", b"Hello, World!");
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    );
}

#[tokio::test]
async fn webhooks_are_signed_and_delivered() {
    let emu = emulator(GithubConfig {
        installation_id: Some(42),
        ..Default::default()
    })
    .await;
    let (url, got) = receiver().await;
    emu.set_webhook(&url, "hook-secret-0123456789");

    let delivery = emu
        .emit_pull_request("octo/app", 6, "merged")
        .await
        .unwrap();
    assert_eq!(delivery.status, Some(200));
    let push = emu.emit_push("octo/app", "main", 3).await.unwrap();
    assert_eq!(push.event, "push");
    // Creating through the API delivers too.
    let resp = http()
        .post(format!("{}/repos/octo/app/issues", emu.api_url()))
        .header("Authorization", format!("Bearer {TOKEN}"))
        .json(&json!({"title": "From the API", "labels": ["bug"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);

    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 3);
    for (headers, body) in &got {
        let sig = headers["x-hub-signature-256"].to_str().unwrap();
        let mac = hmac_sha256(b"hook-secret-0123456789", body);
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(sig, format!("sha256={hex}"));
        assert!(headers["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("GitHub-Hookshot/"));
        assert_eq!(headers["x-github-delivery"].to_str().unwrap().len(), 36);
    }
    let pr: Value = serde_json::from_slice(&got[0].1).unwrap();
    assert_eq!(got[0].0["x-github-event"], "pull_request");
    assert_eq!(pr["action"], "closed");
    assert_eq!(pr["pull_request"]["merged"], true);
    assert_eq!(pr["installation"]["id"], 42);
    let push: Value = serde_json::from_slice(&got[1].1).unwrap();
    assert_eq!(push["ref"], "refs/heads/main");
    assert_eq!(push["commits"].as_array().unwrap().len(), 3);
    assert_eq!(push["after"], push["commits"][2]["id"]);
    let issue: Value = serde_json::from_slice(&got[2].1).unwrap();
    assert_eq!(got[2].0["x-github-event"], "issues");
    assert_eq!(issue["action"], "opened");
    assert_eq!(issue["issue"]["labels"][0]["name"], "bug");
}

/// The `Location` of a redirect and its query parameters.
fn redirect_query(a: &Answer) -> std::collections::BTreeMap<String, String> {
    let location = a.headers["location"].to_str().unwrap();
    let (_, q) = location.split_once('?').unwrap_or((location, ""));
    q.split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), v.replace("%3A", ":").replace("%2C", ",")))
        .collect()
}

#[tokio::test]
async fn oauth_web_flow_as_github_documents_it() {
    use base64::Engine;
    use sha2::Digest;
    let emu = emulator(GithubConfig {
        path_prefix: "/api/v3".into(),
        ..Default::default()
    })
    .await;
    let callback = "http://127.0.0.1:9/v1/oauth/callback";
    emu.register_oauth_app("Iv1.abc", "s3cret", callback);
    let verifier = "a-verifier-of-at-least-43-characters-0123456789";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let authorize = |extra: &str| {
        format!(
            "{}?client_id=Iv1.abc&redirect_uri={callback}&scope=repo%20read:org&state=st8&code_challenge={challenge}&code_challenge_method=S256{extra}",
            emu.authorize_url()
        )
    };
    let go = |url: String| async move { Answer::from(http().get(url).send().await.unwrap()).await };

    // Nobody signed in: GitHub's sign-in page, no redirect.
    let page = go(authorize("")).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("Sign in"), "{}", page.text);
    // Unknown apps get a 404 page.
    let unknown = go(authorize("").replace("Iv1.abc", "Iv1.nope")).await;
    assert_eq!(unknown.status, 404);

    emu.sign_in(Some("octo"));
    // A redirect outside the registered callback goes back to the callback with the error.
    let wrong = go(authorize("").replace("127.0.0.1:9", "evil.example")).await;
    assert_eq!(wrong.status, 302);
    assert!(wrong.headers["location"]
        .to_str()
        .unwrap()
        .starts_with(callback));
    let q = redirect_query(&wrong);
    assert_eq!(
        (q["error"].as_str(), q["state"].as_str()),
        ("redirect_uri_mismatch", "st8")
    );

    let granted = go(authorize("")).await;
    assert_eq!(granted.status, 302);
    let q = redirect_query(&granted);
    assert_eq!(q["state"], "st8");
    let code = q["code"].clone();
    assert_eq!(code.len(), 20);

    let token = |form: String, json: bool| {
        let mut req = http()
            .post(emu.token_url())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form);
        if json {
            req = req.header("accept", "application/json");
        }
        async move { Answer::from(req.send().await.unwrap()).await }
    };
    // Failures come with status 200 and an `error` field.
    let bad_secret = token(
        format!("client_id=Iv1.abc&client_secret=nope&code={code}"),
        true,
    )
    .await;
    assert_eq!(bad_secret.status, 200);
    assert_eq!(bad_secret.json()["error"], "incorrect_client_credentials");
    // A request that fails client authentication leaves the code; a wrong verifier spends it.
    let bad_verifier = token(
        format!("client_id=Iv1.abc&client_secret=s3cret&code={code}&code_verifier=wrong"),
        true,
    )
    .await;
    assert_eq!(bad_verifier.json()["error"], "bad_verification_code");
    let spent = token(
        format!("client_id=Iv1.abc&client_secret=s3cret&code={code}&code_verifier={verifier}"),
        true,
    )
    .await;
    assert_eq!(spent.json()["error"], "bad_verification_code");

    // A fresh code, traded without asking for JSON: form-encoded, scopes comma-joined.
    let q = redirect_query(&go(authorize("")).await);
    let form = token(
        format!(
            "client_id=Iv1.abc&client_secret=s3cret&code={}&redirect_uri={callback}&code_verifier={verifier}",
            q["code"]
        ),
        false,
    )
    .await;
    assert_eq!(form.status, 200);
    assert!(form.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/x-www-form-urlencoded"));
    let fields: std::collections::BTreeMap<&str, &str> = form
        .text
        .split('&')
        .filter_map(|p| p.split_once('='))
        .collect();
    assert_eq!(fields["scope"], "repo%2Cread%3Aorg");
    assert_eq!(fields["token_type"], "bearer");
    let issued = fields["access_token"];
    assert!(issued.starts_with("gho_"), "{issued}");
    // The token works on the API as the user who approved.
    let me = get(&emu, "/user", issued).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["login"], "octo");

    // The user denies: access_denied back at the redirect URI.
    emu.deny_authorization(true);
    let denied = go(authorize("")).await;
    assert_eq!(redirect_query(&denied)["error"], "access_denied");
    assert_eq!(emu.oauth_token_requests(), 4);
}
