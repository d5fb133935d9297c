//! The gate in front of a Google API's routes: the Bearer check (with Google's 401), armed
//! quota faults, and request counting around the injected faults, so faulted and refused
//! requests are counted too.

use super::errors::{Quota, QuotaFault};
use super::{ApiError, GoogleApi};
use crate::faults::{self, Faults};
use crate::tokens::{HasTokens, Tokens};
use crate::{lock, EmulatorHandle};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Accepted tokens, armed quota faults and request counts of one API.
pub struct Gate {
    tokens: Tokens,
    quota: Mutex<Quota>,
    calls: Mutex<BTreeMap<String, u64>>,
}

impl Gate {
    /// Accepts `tokens` from the start.
    pub fn new(tokens: &[String]) -> Self {
        Gate {
            tokens: Tokens::new(tokens),
            quota: Mutex::default(),
            calls: Mutex::default(),
        }
    }
}

impl<A: GoogleApi> HasTokens for A {
    fn tokens(&self) -> &Tokens {
        &self.gate().tokens
    }
}

/// `api` behind the gate, and `public` (such as a JWKS) beside it, outside the token check
/// but still faulted and counted.
pub fn guard<A: GoogleApi>(
    api: Router,
    public: Router,
    state: Arc<A>,
    faults: Arc<Faults>,
) -> Router {
    api.layer(from_fn_with_state(state.clone(), authenticate::<A>))
        .merge(public)
        .layer(from_fn_with_state(faults, faults::apply))
        .layer(from_fn_with_state(state, count::<A>))
}

async fn count<A: GoogleApi>(State(api): State<Arc<A>>, req: Request, next: Next) -> Response {
    let key = A::route_key(req.method(), req.uri().path());
    *lock(&api.gate().calls).entry(key).or_default() += 1;
    next.run(req).await
}

async fn authenticate<A: GoogleApi>(
    State(api): State<Arc<A>>,
    req: Request,
    next: Next,
) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    if !token.is_some_and(|t| !t.is_empty() && api.gate().tokens.valid(t)) {
        let message = "Request had invalid authentication credentials. Expected OAuth 2 \
                       access token, login cookie or other valid authentication credential. \
                       See https://developers.google.com/identity/sign-in/web/devconsole-project.";
        let mut error = ApiError::<A>::new(StatusCode::UNAUTHORIZED, "authError", message);
        error.detail = Some("Invalid Credentials");
        return error.into_response();
    }
    if let Some(error) = api.refuse(req.uri().path()) {
        return error.into_response();
    }
    // Taken only now: refused requests spend no quota.
    if let Some(error) = lock(&api.gate().quota).take::<A>() {
        return error.into_response();
    }
    next.run(req).await
}

impl<A: GoogleApi> EmulatorHandle<A> {
    /// Answers the next `n` authenticated requests with 429 `rateLimitExceeded`.
    pub fn rate_limit_next_429(&self, n: u32) {
        self.arm_quota_fault(QuotaFault::TooMany, n);
    }

    /// Answers the next `n` authenticated requests with 403 `userRateLimitExceeded`.
    pub fn rate_limit_next_403(&self, n: u32) {
        self.arm_quota_fault(QuotaFault::UserLimit, n);
    }

    pub(crate) fn arm_quota_fault(&self, fault: QuotaFault, n: u32) {
        lock(&self.state.gate().quota).arm(fault, n);
    }

    /// Requests per route, keyed by method and path with the ids replaced (e.g.
    /// `GET /calendar/v3/calendars/{calendarId}/events`), faulted and refused ones included.
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        lock(&self.state.gate().calls).clone()
    }
}
