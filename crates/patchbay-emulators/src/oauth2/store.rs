//! Authorization codes, tokens and the grants they belong to, on an adjustable clock.
//!
//! Every code or client credentials request starts a grant; the tokens issued under it,
//! including rotated refresh tokens, share its id so a replayed code or a revoked refresh
//! token can take the whole family down (RFC 6749 10.5, RFC 7009 2.1).

use super::{Consent, OAuthConfig, TokenFault};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

/// How long an authorization code can be redeemed.
pub const CODE_TTL: Duration = Duration::from_secs(60);

pub struct Store {
    pub consent: Consent,
    pub last_authorize: Option<BTreeMap<String, String>>,
    pub token_requests: BTreeMap<String, u64>,
    pub tokens_issued: BTreeMap<String, u64>,
    pub revocations: Vec<String>,
    pub token_faults: VecDeque<TokenFault>,
    offset: Duration,
    codes: HashMap<String, Code>,
    access: HashMap<String, Access>,
    refresh: HashMap<String, Refresh>,
    next_grant: u64,
}

#[derive(Clone)]
pub struct Code {
    pub client_id: String,
    /// The redirect URI the code was sent to.
    pub redirect_uri: String,
    /// Whether the authorization request named it; then the token request must too.
    pub redirect_given: bool,
    pub scope: String,
    /// S256 challenge, base64url.
    pub challenge: Option<String>,
    pub grant: u64,
    expires_at: Instant,
    used: bool,
}

struct Access {
    grant: u64,
    expires_at: Option<Instant>,
    revoked: bool,
}

#[derive(Clone)]
pub struct Refresh {
    pub client_id: String,
    pub grant: u64,
    pub scope: String,
    revoked: bool,
}

/// Tokens from one successful token request.
pub struct Issued {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub scope: String,
}

fn random_token(prefix: &str) -> String {
    let bytes: [u8; 24] = rand::random();
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

impl Store {
    pub fn new(consent: Consent) -> Self {
        Store {
            consent,
            last_authorize: None,
            token_requests: BTreeMap::new(),
            tokens_issued: BTreeMap::new(),
            revocations: Vec::new(),
            token_faults: VecDeque::new(),
            offset: Duration::ZERO,
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            next_grant: 1,
        }
    }

    /// Emulator time: real time plus whatever tests have skipped ahead.
    pub fn now(&self) -> Instant {
        Instant::now() + self.offset
    }

    pub fn advance(&mut self, by: Duration) {
        self.offset += by;
    }

    pub fn new_grant(&mut self) -> u64 {
        self.next_grant += 1;
        self.next_grant - 1
    }

    pub fn new_code(
        &mut self,
        client_id: &str,
        redirect_uri: &str,
        redirect_given: bool,
        scope: &str,
        challenge: Option<&str>,
    ) -> String {
        let code = random_token("code_");
        let grant = self.new_grant();
        let entry = Code {
            client_id: client_id.into(),
            redirect_uri: redirect_uri.into(),
            redirect_given,
            scope: scope.into(),
            challenge: challenge.map(Into::into),
            grant,
            expires_at: self.now() + CODE_TTL,
            used: false,
        };
        self.codes.insert(code.clone(), entry);
        code
    }

    /// Redeems a code: any attempt uses it up, and a second attempt also revokes every
    /// token issued from it. The error is the `error_description` of an `invalid_grant`.
    pub fn take_code(&mut self, code: &str) -> Result<Code, &'static str> {
        let now = self.now();
        let entry = self
            .codes
            .get_mut(code)
            .ok_or("unknown authorization code")?;
        if entry.used {
            let grant = entry.grant;
            self.revoke_grant(grant);
            return Err("authorization code was already used; tokens issued from it are revoked");
        }
        entry.used = true;
        if now >= entry.expires_at {
            return Err("authorization code expired");
        }
        Ok(entry.clone())
    }

    /// A live refresh token.
    pub fn refresh_token(&self, token: &str) -> Option<Refresh> {
        self.refresh.get(token).filter(|r| !r.revoked).cloned()
    }

    pub fn retire_refresh_token(&mut self, token: &str) {
        if let Some(r) = self.refresh.get_mut(token) {
            r.revoked = true;
        }
    }

    /// Issues an access token for `scope`, and a refresh token for `refresh_scope` if given.
    pub fn issue(
        &mut self,
        config: &OAuthConfig,
        client_id: &str,
        grant: u64,
        scope: &str,
        refresh_scope: Option<&str>,
    ) -> Issued {
        let access_token = random_token("at_");
        let expires_at = config.access_token_ttl.map(|ttl| self.now() + ttl);
        let access = Access {
            grant,
            expires_at,
            revoked: false,
        };
        self.access.insert(access_token.clone(), access);
        let refresh_token = refresh_scope.map(|refresh_scope| {
            let token = random_token("rt_");
            let refresh = Refresh {
                client_id: client_id.into(),
                grant,
                scope: refresh_scope.into(),
                revoked: false,
            };
            self.refresh.insert(token.clone(), refresh);
            token
        });
        Issued {
            access_token,
            refresh_token,
            scope: scope.into(),
        }
    }

    pub fn access_token_valid(&self, token: &str) -> bool {
        let now = self.now();
        self.access
            .get(token)
            .is_some_and(|a| !a.revoked && a.expires_at.is_none_or(|e| now < e))
    }

    /// RFC 7009: a refresh token takes its grant's tokens with it; an access token goes
    /// alone. Unknown tokens are ignored.
    pub fn revoke(&mut self, token: &str) {
        if let Some(grant) = self.refresh.get(token).map(|r| r.grant) {
            self.revoke_grant(grant);
        } else if let Some(a) = self.access.get_mut(token) {
            a.revoked = true;
        }
    }

    fn revoke_grant(&mut self, grant: u64) {
        let access = self.access.values_mut().filter(|a| a.grant == grant);
        access.for_each(|a| a.revoked = true);
        let refresh = self.refresh.values_mut().filter(|r| r.grant == grant);
        refresh.for_each(|r| r.revoked = true);
    }

    pub fn expire_access_tokens(&mut self) {
        let now = self.now();
        self.access
            .values_mut()
            .for_each(|a| a.expires_at = Some(now));
    }

    pub fn revoke_all_refresh_tokens(&mut self) {
        self.refresh.values_mut().for_each(|r| r.revoked = true);
    }
}
