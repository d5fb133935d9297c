//! A small OAuth 2.0 client (RFC 6749, PKCE per RFC 7636, revocation per RFC 7009) driven by the
//! provider catalog. Token requests are form-encoded, client authentication is HTTP Basic or in
//! the body as the provider entry says, `token_type` is compared case-insensitively, and
//! `expires_in` and `scope` are optional. Redirects are never followed (the shared client
//! refuses them), and every call goes through the private-network policy.

use crate::http::HttpClient;
use crate::providers::{ClientAuth, Provider};
use base64::Engine as _;
use patchbay_core::{ConnectorError, Secret};
use rand::RngCore;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::fmt;

/// Client credentials of an OAuth app registered with a provider.
pub struct OAuthApp {
    pub client_id: String,
    pub client_secret: Secret,
    /// The secret the provider signs webhooks with, when the operator set one.
    pub webhook_secret: Option<Secret>,
}

/// What a token endpoint granted.
pub struct TokenSet {
    pub access_token: Secret,
    pub token_type: String,
    pub expires_in: Option<u64>,
    pub refresh_token: Option<Secret>,
    pub scope: Option<String>,
    /// A token granted on the user's behalf besides the app's (Slack's `authed_user`), where
    /// the provider entry's `user_token_field` says.
    pub user_token: Option<Secret>,
    /// Every other field of the answer except anything token-like, at any depth, for metadata.
    pub extra: Value,
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("has_refresh_token", &self.refresh_token.is_some())
            .field("has_user_token", &self.user_token.is_some())
            .field("scope", &self.scope)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The authorization server refused (RFC 6749 section 5.2), e.g. `invalid_grant`.
    #[error("the authorization server refused: {error}{}", .description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Rejected {
        error: String,
        description: Option<String>,
        status: u16,
    },
    /// Network trouble, 5xx or 429: worth retrying later; says nothing about the grant.
    #[error("the authorization server is unavailable: {0}")]
    Transient(String),
    /// A success answer without a usable token.
    #[error("the authorization server's answer could not be used: {0}")]
    BadResponse(String),
    #[error("provider misconfigured: {0}")]
    Config(String),
}

impl OAuthError {
    /// The grant is dead (expired, revoked, or the app's access was removed).
    pub fn is_invalid_grant(&self) -> bool {
        matches!(self, OAuthError::Rejected { error, .. } if error == "invalid_grant" || error == "invalid_token" || error == "token_revoked")
    }
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce_pair() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let verifier = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    (verifier.clone(), pkce_challenge(&verifier))
}

pub fn pkce_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn form_encode(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The URL to send the user to for consent.
pub fn authorization_url(
    provider: &Provider,
    client_id: &str,
    redirect_uri: &str,
    scopes: &[String],
    user_scopes: &[String],
    state: &str,
    code_challenge: Option<&str>,
) -> Result<String, OAuthError> {
    let base = provider
        .authorization_url
        .as_deref()
        .ok_or_else(|| OAuthError::Config(format!("{} has no authorization_url", provider.key)))?;
    let mut url =
        url::Url::parse(base).map_err(|e| OAuthError::Config(format!("authorization_url: {e}")))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code");
        q.append_pair("client_id", client_id);
        q.append_pair("redirect_uri", redirect_uri);
        if !scopes.is_empty() {
            q.append_pair("scope", &scopes.join(&provider.scope_separator));
        }
        if let Some(param) = provider.user_scope_param.as_deref() {
            if !user_scopes.is_empty() {
                q.append_pair(param, &user_scopes.join(&provider.scope_separator));
            }
        }
        q.append_pair("state", state);
        if let Some(challenge) = code_challenge {
            q.append_pair("code_challenge", challenge);
            q.append_pair("code_challenge_method", "S256");
        }
        for (k, v) in &provider.authorization_params {
            q.append_pair(k, v);
        }
    }
    Ok(url.to_string())
}

/// Removes every key naming a token or a secret, at any depth (`authed_user.access_token`).
pub fn scrub_tokens(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|k, _| !k.contains("token") && !k.contains("secret"));
            map.values_mut().for_each(scrub_tokens);
        }
        Value::Array(items) => items.iter_mut().for_each(scrub_tokens),
        _ => {}
    }
}

/// Looks up a dotted path (`team.id`) in a JSON value.
pub fn json_path<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |v, key| v.get(key))
}

#[derive(Clone)]
pub struct OAuthClient {
    http: HttpClient,
}

impl OAuthClient {
    pub fn new(http: HttpClient) -> Self {
        OAuthClient { http }
    }

    async fn token_request(
        &self,
        provider: &Provider,
        app: &OAuthApp,
        mut form: Vec<(&str, &str)>,
    ) -> Result<TokenSet, OAuthError> {
        let url = provider
            .token_url
            .as_deref()
            .ok_or_else(|| OAuthError::Config(format!("{} has no token_url", provider.key)))?;
        let secret = app.client_secret.expose();
        let mut req = self
            .http
            .request(Method::POST, url)
            .map_err(map_transport)?;
        match provider.client_auth {
            ClientAuth::Basic => {
                let pair = format!("{}:{}", url_encode(&app.client_id), url_encode(secret));
                let basic = base64::engine::general_purpose::STANDARD.encode(pair);
                req = req.header(AUTHORIZATION, format!("Basic {basic}"));
            }
            ClientAuth::Body => {
                form.push(("client_id", &app.client_id));
                form.push(("client_secret", secret));
            }
        }
        let req = req
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            // Some providers answer form-encoded unless JSON is asked for.
            .header(ACCEPT, "application/json")
            .body(form_encode(&form));
        let (status, headers, body) = self.http.send_raw(req).await.map_err(map_transport)?;
        let is_form = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        let parsed: Option<Map<String, Value>> = if is_form {
            Some(
                url::form_urlencoded::parse(&body)
                    .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                    .collect(),
            )
        } else {
            serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| match v {
                    Value::Object(m) => Some(m),
                    _ => None,
                })
        };
        if status >= 500 || status == 429 {
            return Err(OAuthError::Transient(format!(
                "token endpoint answered {status}"
            )));
        }
        let Some(mut fields) = parsed else {
            return Err(if (200..300).contains(&status) {
                OAuthError::BadResponse("the token answer is not JSON".into())
            } else {
                OAuthError::Rejected {
                    error: format!("http_{status}"),
                    description: None,
                    status,
                }
            });
        };
        // RFC 6749 5.2 errors, and providers that report them with a 200 (`ok: false`).
        if let Some(error) = fields.get("error").and_then(Value::as_str) {
            if !(200..300).contains(&status) || !fields.contains_key("access_token") {
                return Err(OAuthError::Rejected {
                    error: error.to_string(),
                    description: fields
                        .get("error_description")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    status,
                });
            }
        }
        if !(200..300).contains(&status) {
            return Err(OAuthError::Rejected {
                error: format!("http_{status}"),
                description: None,
                status,
            });
        }
        let take_str = |fields: &mut Map<String, Value>, key: &str| match fields.remove(key) {
            Some(Value::String(s)) if !s.is_empty() => Some(s),
            _ => None,
        };
        let access_token = take_str(&mut fields, "access_token")
            .ok_or_else(|| OAuthError::BadResponse("no access_token in the token answer".into()))?;
        let refresh_token = take_str(&mut fields, "refresh_token");
        let token_type = take_str(&mut fields, "token_type").unwrap_or_else(|| "bearer".into());
        let expires_in = match fields.remove("expires_in") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        let scope = take_str(&mut fields, "scope");
        let mut extra = Value::Object(fields);
        let user_token = provider
            .user_token_field
            .as_deref()
            .and_then(|path| json_path(&extra, path))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(|s| Secret::new(s.to_string()));
        // Nothing token-like is kept as metadata, however deep it is nested.
        scrub_tokens(&mut extra);
        Ok(TokenSet {
            access_token: Secret::new(access_token),
            token_type,
            expires_in,
            refresh_token: refresh_token.map(Secret::new),
            scope,
            user_token,
            extra,
        })
    }

    pub async fn exchange_code(
        &self,
        provider: &Provider,
        app: &OAuthApp,
        code: &str,
        redirect_uri: &str,
        code_verifier: Option<&str>,
    ) -> Result<TokenSet, OAuthError> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
        ];
        if let Some(v) = code_verifier {
            form.push(("code_verifier", v));
        }
        if provider.client_auth == ClientAuth::Basic {
            // RFC 6749 4.1.3: public clients send client_id; confidential ones may too.
            form.push(("client_id", &app.client_id));
        }
        self.token_request(provider, app, form).await
    }

    pub async fn refresh(
        &self,
        provider: &Provider,
        app: &OAuthApp,
        refresh_token: &Secret,
    ) -> Result<TokenSet, OAuthError> {
        let form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
        ];
        self.token_request(provider, app, form).await
    }

    pub async fn client_credentials(
        &self,
        provider: &Provider,
        app: &OAuthApp,
        scopes: &[String],
    ) -> Result<TokenSet, OAuthError> {
        let joined = scopes.join(&provider.scope_separator);
        let mut form = vec![("grant_type", "client_credentials")];
        if !scopes.is_empty() {
            form.push(("scope", &joined));
        }
        self.token_request(provider, app, form).await
    }

    /// RFC 7009 revocation. Providers without a revocation endpoint are skipped (`Ok(false)`).
    pub async fn revoke(
        &self,
        provider: &Provider,
        app: &OAuthApp,
        token: &Secret,
        hint: &str,
    ) -> Result<bool, OAuthError> {
        let Some(url) = provider.revocation_url.as_deref() else {
            return Ok(false);
        };
        let mut form = vec![("token", token.expose()), ("token_type_hint", hint)];
        let mut req = self
            .http
            .request(Method::POST, url)
            .map_err(map_transport)?;
        match provider.client_auth {
            ClientAuth::Basic => {
                let pair = format!(
                    "{}:{}",
                    url_encode(&app.client_id),
                    url_encode(app.client_secret.expose())
                );
                req = req.header(
                    AUTHORIZATION,
                    format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode(pair)
                    ),
                );
            }
            ClientAuth::Body => {
                form.push(("client_id", &app.client_id));
                form.push(("client_secret", app.client_secret.expose()));
            }
        }
        let req = req
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form_encode(&form));
        let (status, _, _) = self.http.send_raw(req).await.map_err(map_transport)?;
        match status {
            200..=299 => Ok(true),
            429 | 500..=599 => Err(OAuthError::Transient(format!(
                "revocation endpoint answered {status}"
            ))),
            _ => Err(OAuthError::Rejected {
                error: format!("http_{status}"),
                description: None,
                status,
            }),
        }
    }

    /// Calls the provider's userinfo URL with a bearer token.
    pub async fn userinfo(
        &self,
        provider: &Provider,
        access_token: &Secret,
    ) -> Result<Value, ConnectorError> {
        let url = provider.userinfo_url.as_deref().ok_or_else(|| {
            ConnectorError::Config(format!("{} has no userinfo_url", provider.key))
        })?;
        let req = self
            .http
            .request(Method::GET, url)?
            .bearer_auth(access_token.expose())
            .header(ACCEPT, "application/json");
        Ok(self.http.send_json(req).await?.0)
    }
}

fn map_transport(e: ConnectorError) -> OAuthError {
    match e {
        ConnectorError::Network(m) => OAuthError::Transient(m),
        ConnectorError::Config(m) => OAuthError::Config(m),
        other => OAuthError::Transient(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_matches_rfc7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let (v, c) = pkce_pair();
        assert!(v.len() >= 43 && pkce_challenge(&v) == c);
    }

    #[test]
    fn authorization_url_carries_everything() {
        let catalog = crate::providers::Catalog::load(None).unwrap();
        let google = catalog.get("google-calendar").unwrap();
        let url = authorization_url(
            google,
            "cid",
            "https://pb.example/cb",
            &google.default_scopes,
            &[],
            "st",
            Some("ch"),
        )
        .unwrap();
        let q: std::collections::BTreeMap<String, String> = url::Url::parse(&url)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["state"], "st");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["access_type"], "offline");
        assert!(q["scope"].contains("openid email https://www.googleapis.com/auth/calendar"));
        let slack = catalog.get("slack").unwrap();
        let url = authorization_url(
            slack,
            "cid",
            "https://x/cb",
            &["a".into(), "b".into()],
            &["im:history".into(), "im:read".into()],
            "s",
            None,
        )
        .unwrap();
        assert!(url.contains("scope=a%2Cb") && !url.contains("code_challenge"));
        assert!(url.contains("user_scope=im%3Ahistory%2Cim%3Aread"), "{url}");
    }

    #[test]
    fn nested_tokens_are_scrubbed() {
        let mut v = serde_json::json!({"team": {"id": "T1"}, "authed_user": {"id": "U1",
            "access_token": "xoxp-1", "refresh_token": "r"}, "list": [{"bot_token": "x"}]});
        scrub_tokens(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"team": {"id": "T1"}, "authed_user": {"id": "U1"}, "list": [{}]})
        );
    }

    #[test]
    fn paths_resolve() {
        let v = serde_json::json!({"team": {"id": "T1"}});
        assert_eq!(json_path(&v, "team.id"), Some(&Value::from("T1")));
        assert_eq!(json_path(&v, "team.nope"), None);
    }
}
