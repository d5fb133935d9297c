//! The provider catalog: `providers/providers.yaml` embedded in the binary, with an operator file
//! merged over it field by field, and `alias` entries inheriting from another entry.

use patchbay_core::AuthKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The catalog shipped with patchbay.
pub const EMBEDDED: &str = include_str!("../../../providers/providers.yaml");

/// How the token endpoint authenticates the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// HTTP Basic with the url-encoded id and secret (RFC 6749 2.3.1, the default).
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Body,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitHeaders {
    pub remaining: Option<String>,
    pub reset: Option<String>,
    pub retry_after: Option<String>,
}

/// An entry as written: every field optional, so files can name only what they change.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartialEntry {
    alias: Option<String>,
    display_name: Option<String>,
    auth_mode: Option<AuthKind>,
    authorization_url: Option<String>,
    token_url: Option<String>,
    revocation_url: Option<String>,
    userinfo_url: Option<String>,
    account_id_field: Option<String>,
    default_scopes: Option<Vec<String>>,
    user_scope_param: Option<String>,
    default_user_scopes: Option<Vec<String>>,
    user_token_field: Option<String>,
    scope_separator: Option<String>,
    pkce: Option<bool>,
    client_auth: Option<ClientAuth>,
    authorization_params: Option<BTreeMap<String, String>>,
    metadata_fields: Option<Vec<String>>,
    api_base_url: Option<String>,
    rate_limit_headers: Option<RateLimitHeaders>,
    refresh_ahead_seconds: Option<u64>,
    requests_per_second: Option<f64>,
    burst: Option<u32>,
    connection_requests_per_second: Option<f64>,
    retries: Option<u32>,
    jwks_url: Option<String>,
    token_issuers: Option<Vec<String>>,
}

impl PartialEntry {
    /// Fields set in `over` replace ours.
    fn merge(&mut self, over: PartialEntry) {
        macro_rules! take {
            ($($f:ident),*) => { $( if over.$f.is_some() { self.$f = over.$f; } )* };
        }
        take!(
            alias,
            display_name,
            auth_mode,
            authorization_url,
            token_url,
            revocation_url,
            userinfo_url,
            account_id_field,
            default_scopes,
            user_scope_param,
            default_user_scopes,
            user_token_field,
            scope_separator,
            pkce,
            client_auth,
            authorization_params,
            metadata_fields,
            api_base_url,
            rate_limit_headers,
            refresh_ahead_seconds,
            requests_per_second,
            burst,
            connection_requests_per_second,
            retries,
            jwks_url,
            token_issuers
        );
    }

    /// Fields we lack are taken from `base`.
    fn inherit(&mut self, base: &PartialEntry) {
        let mut merged = base.clone();
        merged.merge(std::mem::take(self));
        *self = merged;
    }
}

/// A resolved provider entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Provider {
    pub key: String,
    pub display_name: String,
    pub auth_mode: AuthKind,
    pub authorization_url: Option<String>,
    pub token_url: Option<String>,
    pub revocation_url: Option<String>,
    pub userinfo_url: Option<String>,
    pub account_id_field: Option<String>,
    pub default_scopes: Vec<String>,
    /// The authorize parameter naming scopes asked on the user's behalf besides the app's
    /// (Slack's `user_scope`); none: the provider has no such thing.
    pub user_scope_param: Option<String>,
    /// User scopes asked when a connect session names none.
    pub default_user_scopes: Vec<String>,
    /// Where the token answer nests the user token (`authed_user.access_token`).
    pub user_token_field: Option<String>,
    pub scope_separator: String,
    pub pkce: bool,
    pub client_auth: ClientAuth,
    pub authorization_params: BTreeMap<String, String>,
    pub metadata_fields: Vec<String>,
    pub api_base_url: Option<String>,
    pub rate_limit_headers: RateLimitHeaders,
    pub refresh_ahead_seconds: u64,
    /// A request budget for all calls to this provider (none: unlimited until it says 429).
    pub requests_per_second: Option<f64>,
    pub burst: Option<u32>,
    /// A budget per connection, for providers that limit per account.
    pub connection_requests_per_second: Option<f64>,
    /// How often a proxied idempotent request is tried again after a 429 or 5xx.
    pub retries: u32,
    /// Keys that sign the provider's push tokens (OIDC JWTs), as a JWKS document.
    pub jwks_url: Option<String>,
    /// The `iss` values those tokens may carry.
    pub token_issuers: Vec<String>,
}

impl Provider {
    pub fn is_oauth(&self) -> bool {
        matches!(
            self.auth_mode,
            AuthKind::Oauth2 | AuthKind::Oauth2ClientCredentials
        )
    }
}

#[derive(Debug, Clone, Default)]
pub struct Catalog {
    providers: BTreeMap<String, Provider>,
}

fn parse(text: &str, origin: &str) -> Result<BTreeMap<String, PartialEntry>, String> {
    serde_norway::from_str::<Option<BTreeMap<String, PartialEntry>>>(text)
        .map(Option::unwrap_or_default)
        .map_err(|e| format!("{origin}: {e}"))
}

fn check_url(key: &str, field: &str, value: &Option<String>) -> Result<(), String> {
    match value {
        Some(v) => match url::Url::parse(v) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(()),
            _ => Err(format!(
                "provider {key}: {field} '{v}' is not an http(s) URL"
            )),
        },
        None => Ok(()),
    }
}

impl Catalog {
    /// The embedded catalog with `overrides` (the operator file's text) merged over it.
    pub fn load(overrides: Option<&str>) -> Result<Catalog, String> {
        let mut raw = parse(EMBEDDED, "embedded providers.yaml")?;
        if let Some(text) = overrides {
            for (key, entry) in parse(text, "providers override file")? {
                raw.entry(key).or_default().merge(entry);
            }
        }
        let mut providers = BTreeMap::new();
        for key in raw.keys() {
            let mut entry = raw[key].clone();
            let mut seen = vec![key.clone()];
            while let Some(parent) = entry.alias.take() {
                if seen.contains(&parent) {
                    return Err(format!(
                        "provider {key}: alias cycle through {}",
                        seen.join(" -> ")
                    ));
                }
                let base = raw.get(&parent).ok_or_else(|| {
                    format!("provider {key}: alias '{parent}' is not in the catalog")
                })?;
                seen.push(parent);
                entry.inherit(base);
            }
            let provider = Provider {
                key: key.clone(),
                display_name: entry.display_name.clone().unwrap_or_else(|| key.clone()),
                auth_mode: entry
                    .auth_mode
                    .ok_or_else(|| format!("provider {key}: auth_mode is required"))?,
                authorization_url: entry.authorization_url.clone(),
                token_url: entry.token_url.clone(),
                revocation_url: entry.revocation_url.clone(),
                userinfo_url: entry.userinfo_url.clone(),
                account_id_field: entry.account_id_field.clone(),
                default_scopes: entry.default_scopes.clone().unwrap_or_default(),
                user_scope_param: entry.user_scope_param.clone(),
                default_user_scopes: entry.default_user_scopes.clone().unwrap_or_default(),
                user_token_field: entry.user_token_field.clone(),
                scope_separator: entry.scope_separator.clone().unwrap_or_else(|| " ".into()),
                pkce: entry.pkce.unwrap_or(true),
                client_auth: entry.client_auth.unwrap_or(ClientAuth::Basic),
                authorization_params: entry.authorization_params.clone().unwrap_or_default(),
                metadata_fields: entry.metadata_fields.clone().unwrap_or_default(),
                api_base_url: entry.api_base_url.clone(),
                rate_limit_headers: entry.rate_limit_headers.clone().unwrap_or_default(),
                refresh_ahead_seconds: entry.refresh_ahead_seconds.unwrap_or(300),
                requests_per_second: entry.requests_per_second,
                burst: entry.burst,
                connection_requests_per_second: entry.connection_requests_per_second,
                retries: entry.retries.unwrap_or(2),
                jwks_url: entry.jwks_url.clone(),
                token_issuers: entry.token_issuers.clone().unwrap_or_default(),
            };
            for (field, value) in [
                ("authorization_url", &provider.authorization_url),
                ("token_url", &provider.token_url),
                ("revocation_url", &provider.revocation_url),
                ("userinfo_url", &provider.userinfo_url),
                ("api_base_url", &provider.api_base_url),
                ("jwks_url", &provider.jwks_url),
            ] {
                check_url(key, field, value)?;
            }
            match provider.auth_mode {
                AuthKind::Oauth2
                    if provider.authorization_url.is_none() || provider.token_url.is_none() =>
                {
                    return Err(format!(
                        "provider {key}: oauth2 needs authorization_url and token_url"
                    ));
                }
                AuthKind::Oauth2ClientCredentials if provider.token_url.is_none() => {
                    return Err(format!(
                        "provider {key}: oauth2_client_credentials needs token_url"
                    ));
                }
                _ => {}
            }
            providers.insert(key.clone(), provider);
        }
        Ok(Catalog { providers })
    }

    /// Reads the override file named by the operator, if any.
    pub fn load_with_file(path: Option<&std::path::Path>) -> Result<Catalog, String> {
        match path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| format!("cannot read providers file {}: {e}", p.display()))?;
                Self::load(Some(&text))
            }
            None => Self::load(None),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Provider> {
        self.providers.get(key)
    }

    pub fn keys(&self) -> Vec<String> {
        self.providers.keys().cloned().collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Provider> {
        self.providers.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalog_has_the_required_entries() {
        let c = Catalog::load(None).unwrap();
        for key in [
            "github",
            "google",
            "google-mail",
            "google-calendar",
            "slack",
            "todoist",
            "telegram",
            "printing_partner",
            "venue_ops",
        ] {
            assert!(c.get(key).is_some(), "missing {key}");
        }
        let gmail = c.get("google-mail").unwrap();
        assert_eq!(
            gmail.token_url.as_deref(),
            Some("https://oauth2.googleapis.com/token"),
            "inherited from google"
        );
        assert!(
            gmail
                .default_scopes
                .iter()
                .any(|s| s.contains("gmail.send")),
            "own scopes"
        );
        assert_eq!(
            gmail
                .authorization_params
                .get("access_type")
                .map(String::as_str),
            Some("offline")
        );
        let slack = c.get("slack").unwrap();
        assert_eq!(slack.scope_separator, ",");
        assert_eq!(slack.user_scope_param.as_deref(), Some("user_scope"));
        assert_eq!(
            slack.user_token_field.as_deref(),
            Some("authed_user.access_token")
        );
        assert_eq!(c.get("telegram").unwrap().auth_mode, AuthKind::BotToken);
    }

    #[test]
    fn overrides_change_only_what_they_name() {
        let c = Catalog::load(Some("todoist: {token_url: 'http://127.0.0.1:9/token'}\ngoogle: {token_url: 'http://127.0.0.1:9/g'}\n")).unwrap();
        let t = c.get("todoist").unwrap();
        assert_eq!(t.token_url.as_deref(), Some("http://127.0.0.1:9/token"));
        assert_eq!(
            t.authorization_url.as_deref(),
            Some("https://todoist.com/oauth/authorize")
        );
        assert_eq!(t.scope_separator, ",");
        // Aliases see the overridden parent.
        assert_eq!(
            c.get("google-calendar").unwrap().token_url.as_deref(),
            Some("http://127.0.0.1:9/g")
        );
        // New entries may be added.
        let c = Catalog::load(Some(
            "acme: {alias: github, api_base_url: 'https://ghe.acme.test/api/v3'}",
        ))
        .unwrap();
        assert_eq!(
            c.get("acme").unwrap().token_url,
            c.get("github").unwrap().token_url
        );
    }

    #[test]
    fn bad_files_are_explained() {
        assert!(Catalog::load(Some("github: {tokn_url: x}"))
            .unwrap_err()
            .contains("tokn_url"));
        assert!(Catalog::load(Some("github: {token_url: 'not a url'}"))
            .unwrap_err()
            .contains("token_url"));
        assert!(Catalog::load(Some("a: {alias: b}\nb: {alias: a}"))
            .unwrap_err()
            .contains("cycle"));
        assert!(Catalog::load(Some("a: {alias: nowhere}"))
            .unwrap_err()
            .contains("nowhere"));
        assert!(Catalog::load(Some("x: {auth_mode: oauth2}"))
            .unwrap_err()
            .contains("authorization_url"));
    }
}
