//! An OAuth 2.0 authorization server: the authorization code grant (RFC 6749) with PKCE
//! (RFC 7636), refresh and client credentials grants, token revocation (RFC 7009) and a
//! userinfo endpoint. The knobs cover how real providers differ (client authentication,
//! refresh token rotation, `token_type` casing, extra response fields, non-expiring
//! tokens), and tests can skip time ahead, expire or revoke tokens, and break the token
//! endpoint on purpose.

mod browser;

/// Plays the browser for one step: where a URL redirects to, without following it.
pub use browser::redirect_location;
pub(crate) mod form;
mod request;
mod routes;
mod store;
mod token;

use crate::faults::Faults;
use crate::EmulatorHandle;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use store::Store;

pub use store::CODE_TTL;

/// Which client authentication the token and revocation endpoints accept (RFC 6749 2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// `Authorization: Basic` only.
    Basic,
    /// `client_id` and `client_secret` in the form body only; an `Authorization` header is
    /// ignored, as servers that do not support Basic do.
    Body,
    /// Either, but not both in one request.
    #[default]
    Either,
}

/// What the resource owner answers at the authorization endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Consent {
    #[default]
    Approve,
    Deny,
}

/// A failure of the token endpoint, injected with [`OAuthEmulator::fail_token_next`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFault {
    /// 400 `invalid_grant`, as when the provider has revoked the grant.
    InvalidGrant,
    /// 500 `server_error`.
    ServerError,
    /// 200 with an HTML body, as from a misconfigured proxy.
    Garbage,
    /// Waits this long, then answers normally.
    Slow(Duration),
}

#[derive(Debug, Clone)]
pub struct OAuthConfig {
    pub client_id: String,
    pub client_secret: String,
    /// Registered redirect URIs, matched exactly; empty accepts any absolute URI.
    pub redirect_uris: Vec<String>,
    /// Scopes clients may ask for; empty accepts any.
    pub scopes_supported: Vec<String>,
    /// Lifetime of access tokens; `None` issues tokens that never expire and leaves
    /// `expires_in` out, as GitHub OAuth apps do.
    pub access_token_ttl: Option<Duration>,
    /// Issues a refresh token with the code grant.
    pub issue_refresh_token: bool,
    /// Each refresh returns a new refresh token and invalidates the old one; otherwise
    /// the answer carries no refresh token and the old one stays valid.
    pub rotate_refresh_tokens: bool,
    pub client_auth: ClientAuth,
    /// Refuses authorization requests without an S256 `code_challenge`.
    pub require_pkce: bool,
    /// The `token_type` value sent, e.g. `"bearer"` as some providers spell it.
    pub token_type_casing: String,
    /// Merged into every token response, over the standard fields: e.g. Slack's
    /// `{"ok": true, "team": {...}}`, or `{"expires_in": "3600"}` to send a string.
    pub extra_token_fields: Value,
    /// The userinfo answer for a valid access token.
    pub userinfo: Value,
    /// The initial answer at the authorization endpoint; see [`OAuthEmulator::set_consent`].
    pub consent: Consent,
    pub bind: SocketAddr,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        OAuthConfig {
            client_id: "emulator-client-0001".into(),
            client_secret: "emulator-client-secret-0001".into(),
            redirect_uris: Vec::new(),
            scopes_supported: vec!["read".into(), "write".into()],
            access_token_ttl: Some(Duration::from_secs(3600)),
            issue_refresh_token: true,
            rotate_refresh_tokens: false,
            client_auth: ClientAuth::Either,
            require_pkce: false,
            token_type_casing: "Bearer".into(),
            extra_token_fields: json!({}),
            userinfo: json!({"id": "u1", "login": "octo", "name": "Octo Cat"}),
            consent: Consent::Approve,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

/// The authorization server behind a running OAuth emulator.
pub struct AuthServer {
    config: OAuthConfig,
    store: Mutex<Store>,
}

impl AuthServer {
    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether an access token is live now, for emulated APIs that accept this server's
    /// tokens.
    pub(crate) fn access_token_valid(&self, token: &str) -> bool {
        self.store().access_token_valid(token)
    }
}

pub type OAuthEmulator = EmulatorHandle<AuthServer>;

/// Starts the emulator on `config.bind`; returns once it accepts connections.
pub async fn spawn(config: OAuthConfig) -> std::io::Result<OAuthEmulator> {
    let bind = config.bind;
    let server = Arc::new(AuthServer {
        store: Mutex::new(Store::new(config.consent)),
        config,
    });
    let faults = Faults::new(request::error_body);
    let router = routes::router(server.clone(), faults.clone());
    crate::serve(bind, router, faults, server).await
}

impl EmulatorHandle<AuthServer> {
    /// The configuration it started with; [`Self::set_consent`] changes consent later.
    pub fn config(&self) -> &OAuthConfig {
        &self.state.config
    }

    pub fn authorize_url(&self) -> String {
        format!("{}/oauth/authorize", self.base_url)
    }

    pub fn token_url(&self) -> String {
        format!("{}/oauth/token", self.base_url)
    }

    pub fn revoke_url(&self) -> String {
        format!("{}/oauth/revoke", self.base_url)
    }

    pub fn userinfo_url(&self) -> String {
        format!("{}/oauth/userinfo", self.base_url)
    }

    /// Token endpoint requests with this `grant_type`, whatever their outcome (injected
    /// [`TokenFault`]s included; the generic faults answer before the count).
    pub fn token_requests(&self, grant_type: &str) -> u64 {
        let store = self.state.store();
        store.token_requests.get(grant_type).copied().unwrap_or(0)
    }

    /// Successful token responses for this `grant_type`.
    pub fn tokens_issued(&self, grant_type: &str) -> u64 {
        let store = self.state.store();
        store.tokens_issued.get(grant_type).copied().unwrap_or(0)
    }

    /// Tokens sent to the revocation endpoint by an authenticated client, in order, known
    /// or not.
    pub fn revocations(&self) -> Vec<String> {
        self.state.store().revocations.clone()
    }

    /// Parameters of the last authorization request, whatever its outcome.
    pub fn last_authorize_query(&self) -> Option<BTreeMap<String, String>> {
        self.state.store().last_authorize.clone()
    }

    /// Whether the userinfo endpoint would accept this access token now.
    pub fn access_token_valid(&self, token: &str) -> bool {
        self.state.store().access_token_valid(token)
    }

    /// Whether a refresh grant with this token would succeed now.
    pub fn refresh_token_valid(&self, token: &str) -> bool {
        self.state.store().refresh_token(token).is_some()
    }

    /// Makes every access token issued so far expired, including never-expiring ones.
    pub fn expire_access_tokens(&self) {
        self.state.store().expire_access_tokens();
    }

    /// Invalidates every refresh token issued so far, so the next refresh gets
    /// `invalid_grant`, as when a user disconnects the app at the provider.
    pub fn revoke_all_refresh_tokens(&self) {
        self.state.store().revoke_all_refresh_tokens();
    }

    /// Moves the emulator's clock forward, ageing codes and access tokens.
    pub fn advance_time(&self, by: Duration) {
        self.state.store().advance(by);
    }

    pub fn set_consent(&self, consent: Consent) {
        self.state.store().consent = consent;
    }

    /// Answers the next `n` token endpoint requests with `fault`, replacing any pending
    /// token faults.
    pub fn fail_token_next(&self, n: u32, fault: TokenFault) {
        let mut store = self.state.store();
        store.token_faults = std::iter::repeat_n(fault, n as usize).collect();
    }

    /// Tokens as from a code grant for `scope`, without the browser round trip; the
    /// answer is the token response body.
    pub fn issue_tokens(&self, scope: &str) -> Value {
        let config = &self.state.config;
        let mut store = self.state.store();
        let grant = store.new_grant();
        let refresh = config.issue_refresh_token.then_some(scope);
        let issued = store.issue(config, &config.client_id, grant, scope, refresh);
        token::response_body(config, &issued)
    }

    /// Plays the browser: GETs an authorization URL a client built, without following
    /// redirects, and returns the `Location` it was sent to (carrying `code` or `error`).
    /// Errors when the answer is not a redirect, e.g. for an unknown client.
    pub async fn approve(&self, authorize_url_from_client: &str) -> Result<String, String> {
        browser::redirect_location(authorize_url_from_client).await
    }
}
