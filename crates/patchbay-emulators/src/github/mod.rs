//! GitHub's REST API as documented publicly: users, repositories, issues, pull requests,
//! comments, commits, issue search and rate limits, with GitHub's paths and field names,
//! Link-header pagination, `{"message","documentation_url"}` error bodies, `X-RateLimit-*`
//! headers, ETags, and signed webhook deliveries; and the OAuth app web flow
//! (`/login/oauth/*`) at the host root. Optionally the API is served under a path prefix, as
//! GitHub Enterprise Server serves `/api/v3`.
//!
//! Rate limits are kept per emulator rather than per user: one `core` and one `search`
//! window shared by every token.

mod events;
mod gate;
mod hooks;
mod issues;
mod model;
mod oauth;
mod routes;

pub use hooks::{hmac_sha256, Delivery};
pub use model::Permissions;

use crate::faults::Faults;
use crate::oauth2::OAuthEmulator;
use crate::{lock, EmulatorHandle};
use model::{Data, Item};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug, Clone)]
pub struct GithubConfig {
    /// Served before every path, e.g. `/api/v3` for GitHub Enterprise Server; empty for
    /// api.github.com.
    pub path_prefix: String,
    /// Requests per hour for the `core` resource.
    pub core_limit: u64,
    /// Requests per hour for the `search` resource.
    pub search_limit: u64,
    /// Size of tarball answers.
    pub tarball_bytes: u64,
    /// Signs deliveries until [`GithubEmulator::set_webhook`] names another secret.
    pub webhook_secret: String,
    /// Sent as `installation.id` in deliveries, as for a GitHub App.
    pub installation_id: Option<u64>,
    pub bind: SocketAddr,
}

impl Default for GithubConfig {
    fn default() -> Self {
        GithubConfig {
            path_prefix: String::new(),
            core_limit: 5000,
            search_limit: 30,
            tarball_bytes: 1024 * 1024,
            webhook_secret: "emulator-github-webhook-secret".into(),
            installation_id: None,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

type TokenCheck = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The state behind a running GitHub emulator.
pub struct GitHub {
    config: GithubConfig,
    data: Mutex<Data>,
    external_tokens: Mutex<Vec<TokenCheck>>,
    webhook: Mutex<Option<(String, String)>>,
    deliveries: Mutex<Vec<Delivery>>,
    oauth: Mutex<oauth::OAuthState>,
    client: reqwest::Client,
}

impl GitHub {
    fn data(&self) -> MutexGuard<'_, Data> {
        lock(&self.data)
    }

    fn hook(&self) -> MutexGuard<'_, Option<(String, String)>> {
        lock(&self.webhook)
    }

    fn deliveries(&self) -> MutexGuard<'_, Vec<Delivery>> {
        lock(&self.deliveries)
    }

    /// The login a token from a pluggable check belongs to.
    fn external_login(&self, token: &str) -> Option<String> {
        lock(&self.external_tokens)
            .iter()
            .find_map(|check| check(token))
    }
}

pub type GithubEmulator = EmulatorHandle<GitHub>;

/// Starts the emulator on `config.bind`; returns once it accepts connections.
pub async fn spawn(mut config: GithubConfig) -> std::io::Result<GithubEmulator> {
    config.path_prefix = config.path_prefix.trim_end_matches('/').to_string();
    if !config.path_prefix.is_empty() && !config.path_prefix.starts_with('/') {
        config.path_prefix.insert(0, '/');
    }
    let bind = config.bind;
    let gh = Arc::new(GitHub {
        data: Mutex::new(Data::new(
            config.core_limit,
            config.search_limit,
            config.tarball_bytes,
        )),
        config,
        external_tokens: Mutex::default(),
        webhook: Mutex::default(),
        deliveries: Mutex::default(),
        oauth: Mutex::default(),
        client: reqwest::Client::new(),
    });
    let faults = Faults::new(gate::error_body);
    let router = routes::router(gh.clone(), faults.clone());
    let handle = crate::serve(bind, router, faults, gh).await?;
    handle.state.data().api = handle.api_url();
    Ok(handle)
}

impl EmulatorHandle<GitHub> {
    pub fn config(&self) -> &GithubConfig {
        &self.state.config
    }

    /// The API root: `base_url` with the path prefix, the value for a connection's
    /// `base_url`.
    pub fn api_url(&self) -> String {
        format!("{}{}", self.base_url, self.state.config.path_prefix)
    }

    /// Where GitHub's OAuth flow starts (`authorization_url` in the provider catalog).
    pub fn authorize_url(&self) -> String {
        format!("{}/login/oauth/authorize", self.base_url)
    }

    /// Where codes are traded for tokens (`token_url` in the provider catalog).
    pub fn token_url(&self) -> String {
        format!("{}/login/oauth/access_token", self.base_url)
    }

    /// Registers an OAuth app; `callback` is its authorization callback URL.
    pub fn register_oauth_app(&self, client_id: &str, client_secret: &str, callback: &str) {
        lock(&self.state.oauth).register(client_id, client_secret, callback);
    }

    /// The user signed in to the browser that approves authorization requests (creating
    /// them); `None` leaves requests on the sign-in page.
    pub fn sign_in(&self, login: Option<&str>) {
        if let Some(l) = login {
            self.state.data().user(l);
        }
        lock(&self.state.oauth).sign_in(login);
    }

    /// Makes the signed-in user deny (or again approve) authorization requests.
    pub fn deny_authorization(&self, deny: bool) {
        lock(&self.state.oauth).deny(deny);
    }

    /// Requests the token endpoint has answered.
    pub fn oauth_token_requests(&self) -> u64 {
        lock(&self.state.oauth).token_requests
    }

    /// Accepts `token` (as `Bearer` or `token`) for `login`, creating the user.
    pub fn add_token(&self, token: &str, login: &str) -> Value {
        let mut data = self.state.data();
        data.tokens.insert(token.into(), login.into());
        data.user(login)
    }

    /// Stops accepting `token` (added with [`Self::add_token`]), as when its owner revokes it:
    /// later requests with it get 401 `Bad credentials`.
    pub fn revoke_token(&self, token: &str) {
        self.state.data().tokens.remove(token);
    }

    /// Accepts access tokens the OAuth emulator considers valid, as `login`.
    pub fn accept_tokens_from(&self, oauth: &OAuthEmulator, login: &str) {
        let server = oauth.state.clone();
        let login = login.to_string();
        self.state.data().user(&login);
        self.accept_tokens_with(move |t| server.access_token_valid(t).then(|| login.clone()));
    }

    /// Accepts tokens for which `check` names a login.
    pub fn accept_tokens_with(
        &self,
        check: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) {
        lock(&self.state.external_tokens).push(Box::new(check));
    }

    pub fn add_user(&self, login: &str) -> Value {
        self.state.data().user(login)
    }

    pub fn add_org(&self, login: &str) -> Value {
        self.state.data().add_org(login)
    }

    /// Adds `owner/name` (the owner is created as a user unless it is an org) with the
    /// default branch `main`; the owning user gets admin rights.
    pub fn add_repo(&self, full_name: &str, private: bool) -> Option<Value> {
        self.add_repo_with_branch(full_name, private, "main")
    }

    pub fn add_repo_with_branch(
        &self,
        full_name: &str,
        private: bool,
        default_branch: &str,
    ) -> Option<Value> {
        let (owner, name) = full_name.split_once('/')?;
        let mut data = self.state.data();
        data.add_repo(owner, name, private, default_branch);
        Some(data.repos.get(full_name)?.json.clone())
    }

    /// Gives `login` `perms` on a repository (org members, collaborators).
    pub fn grant(&self, full_name: &str, login: &str, perms: Permissions) {
        let mut data = self.state.data();
        data.user(login);
        if let Some(r) = data.repos.get_mut(full_name) {
            r.access.insert(login.into(), perms);
        }
    }

    pub fn add_branch(&self, full_name: &str, branch: &str) {
        if let Some(r) = self.state.data().repos.get_mut(full_name) {
            r.branches.entry(branch.into()).or_default();
        }
    }

    /// Adds an open issue with a seeded (past) timestamp; returns its number.
    pub fn add_issue(&self, full_name: &str, title: &str, author: &str) -> Option<u64> {
        let mut data = self.state.data();
        let t = data.seed_time();
        data.add_issue(full_name, title, "", author, t)?["number"].as_u64()
    }

    /// Adds an open pull request from `head` (created as a branch) into the default branch.
    pub fn add_pull(&self, full_name: &str, title: &str, head: &str, author: &str) -> Option<u64> {
        let mut data = self.state.data();
        let base = data.repos.get(full_name)?.json["default_branch"]
            .as_str()?
            .to_string();
        data.repos
            .get_mut(full_name)?
            .branches
            .entry(head.into())
            .or_default();
        let t = data.seed_time();
        data.add_pull(full_name, title, "", head, &base, false, author, t)?["number"].as_u64()
    }

    /// Adds a commit on `branch` with a seeded (past) date; returns its sha.
    pub fn add_commit(&self, full_name: &str, branch: &str, message: &str) -> Option<String> {
        let mut data = self.state.data();
        let t = data.seed_time();
        let owner = full_name.split('/').next().unwrap_or_default().to_string();
        Some(
            data.add_commit(full_name, branch, message, &owner, t)?["sha"]
                .as_str()?
                .to_string(),
        )
    }

    /// Adds a commit dated now, so incremental syncs see it.
    pub fn push_commit(&self, full_name: &str, branch: &str, message: &str) -> Option<String> {
        let mut data = self.state.data();
        let t = data.now();
        let owner = full_name.split('/').next().unwrap_or_default().to_string();
        Some(
            data.add_commit(full_name, branch, message, &owner, t)?["sha"]
                .as_str()?
                .to_string(),
        )
    }

    /// Changes an issue or pull request (issue fields, or the pull request object) and
    /// stamps it updated now; returns the changed object.
    pub fn update_item(
        &self,
        full_name: &str,
        number: u64,
        change: impl FnOnce(&mut Value),
    ) -> Option<Value> {
        let mut data = self.state.data();
        let t = data.now();
        let item = data.repos.get_mut(full_name)?.items.get_mut(&number)?;
        let (Item::Issue(v) | Item::Pull(v)) = item;
        change(v);
        v["updated_at"] = t.into();
        Some(v.clone())
    }

    pub fn assign(&self, full_name: &str, number: u64, login: &str) -> Option<Value> {
        let user = self.add_user(login);
        self.update_item(full_name, number, |v| {
            v["assignee"] = user.clone();
            if let Some(a) = v["assignees"].as_array_mut() {
                a.push(user);
            }
        })
    }

    pub fn request_review(&self, full_name: &str, number: u64, login: &str) -> Option<Value> {
        let user = self.add_user(login);
        self.update_item(full_name, number, |v| {
            if let Some(a) = v["requested_reviewers"].as_array_mut() {
                a.push(user);
            }
        })
    }

    /// An issue as the issues API renders it (pull requests with their `pull_request` key).
    pub fn issue(&self, full_name: &str, number: u64) -> Option<Value> {
        let data = self.state.data();
        let r = data.repos.get(full_name)?;
        Some(r.issue_view(r.items.get(&number)?))
    }

    /// Sets the size of tarball answers.
    pub fn set_tarball_size(&self, bytes: u64) {
        self.state.data().tarball_bytes = bytes;
    }

    /// Uses up the primary (`core`) rate limit: later calls get 403 with
    /// `X-RateLimit-Remaining: 0` until the window resets.
    pub fn exhaust_rate_limit(&self) {
        let mut data = self.state.data();
        data.core.used = data.core.limit;
    }

    pub fn reset_rate_limit(&self) {
        let mut data = self.state.data();
        data.core.used = 0;
        data.search.used = 0;
    }

    /// Requests counted against the `core` limit so far.
    pub fn rate_limit_used(&self) -> u64 {
        self.state.data().core.used
    }

    /// Answers the next `n` authenticated requests with GitHub's secondary rate limit: 403
    /// with `Retry-After: retry_after_secs`.
    pub fn secondary_rate_limit_next(&self, n: u32, retry_after_secs: u64) {
        self.state.data().secondary = (n, retry_after_secs);
    }

    /// 304 answers sent so far.
    pub fn not_modified_count(&self) -> u64 {
        self.state.data().not_modified
    }

    /// Requests whose path (without the prefix) starts with `path_prefix`, any method.
    pub fn calls(&self, path_prefix: &str) -> usize {
        let data = self.state.data();
        data.calls
            .iter()
            .filter(|(_, p)| p.starts_with(path_prefix))
            .count()
    }

    /// Where deliveries go, and the secret that signs them.
    pub fn set_webhook(&self, url: &str, secret: &str) {
        *self.state.hook() = Some((url.into(), secret.into()));
    }

    /// Deliveries attempted so far, in order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.state.deliveries().clone()
    }
}
