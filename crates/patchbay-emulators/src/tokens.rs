//! The Bearer tokens an emulator accepts: those its config lists and the test adds, and any
//! that another check (such as the OAuth emulator's token store) accepts, unless revoked.
//! Gmail, Calendar and Todoist check tokens this way; GitHub maps tokens to users instead.

use crate::oauth2::OAuthEmulator;
use crate::{lock, EmulatorHandle};
use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

/// A token check other than the registered list, such as another emulator's token store.
pub type TokenCheck = Arc<dyn Fn(&str) -> bool + Send + Sync>;

#[derive(Default)]
pub struct Tokens(Mutex<Registry>);

#[derive(Default)]
struct Registry {
    tokens: HashSet<String>,
    /// Refused whatever else would accept them.
    revoked: HashSet<String>,
    checks: Vec<TokenCheck>,
}

impl Tokens {
    pub fn new(tokens: &[String]) -> Self {
        let registry = Registry {
            tokens: tokens.iter().cloned().collect(),
            ..Default::default()
        };
        Tokens(Mutex::new(registry))
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        lock(&self.0)
    }

    pub fn valid(&self, token: &str) -> bool {
        let registry = self.registry();
        !registry.revoked.contains(token)
            && (registry.tokens.contains(token) || registry.checks.iter().any(|check| check(token)))
    }
}

/// The state of an emulator whose Bearer tokens a [`Tokens`] registry decides.
pub trait HasTokens {
    fn tokens(&self) -> &Tokens;
}

impl<S: HasTokens> EmulatorHandle<S> {
    /// Accepts `token` from now on, also after it was revoked.
    pub fn add_token(&self, token: &str) {
        let mut registry = self.state.tokens().registry();
        registry.revoked.remove(token);
        registry.tokens.insert(token.to_string());
    }

    /// Refuses `token` from now on, however it was accepted, as when the user removes the
    /// app's access in the partner's settings.
    pub fn revoke_token(&self, token: &str) {
        let mut registry = self.state.tokens().registry();
        registry.tokens.remove(token);
        registry.revoked.insert(token.to_string());
    }

    /// Also accepts tokens for which `check` says yes.
    pub fn accept_tokens_with(&self, check: impl Fn(&str) -> bool + Send + Sync + 'static) {
        self.state.tokens().registry().checks.push(Arc::new(check));
    }

    /// Also accepts the live access tokens of `oauth`, standing in for the partner's
    /// authorization server (Google's, Todoist's); expiry and revocation there apply here.
    pub fn accept_oauth_tokens(&self, oauth: &OAuthEmulator) {
        let server = oauth.state.clone();
        self.accept_tokens_with(move |token| server.access_token_valid(token));
    }
}
