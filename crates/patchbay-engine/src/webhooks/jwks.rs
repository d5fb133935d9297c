//! The keys a provider signs push tokens with (a JWKS document at the catalog's `jwks_url`),
//! kept for an hour. A token naming a key the set lacks fetches the set again (the provider
//! rotated its keys), at most once a minute per URL so forged key ids cannot drive fetches.

use super::Webhooks;
use crate::error::{EngineError, Result};
use jsonwebtoken::jwk::JwkSet;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KEEP: Duration = Duration::from_secs(3600);
const REFETCH_GAP: Duration = Duration::from_secs(60);

#[derive(Default)]
pub(crate) struct KeySets(Mutex<HashMap<String, Cached>>);

#[derive(Clone)]
struct Cached {
    keys: Arc<JwkSet>,
    fetched: Instant,
}

impl Webhooks {
    /// The key set at `url` holding `kid`, if the provider publishes it.
    pub(super) async fn push_keys(&self, url: &str, kid: &str) -> Result<Arc<JwkSet>> {
        let cached = self
            .state
            .keys
            .0
            .lock()
            .expect("key sets")
            .get(url)
            .cloned();
        if let Some(c) = &cached {
            let fresh = c.fetched.elapsed() < KEEP;
            let has = c.keys.find(kid).is_some();
            if (fresh && has) || c.fetched.elapsed() < REFETCH_GAP {
                return Ok(c.keys.clone());
            }
        }
        let keys = match self.fetch_keys(url).await {
            Ok(keys) => Arc::new(keys),
            // The provider's key endpoint is down: the keys we have still verify.
            Err(e) => match cached {
                Some(c) => {
                    tracing::warn!(url, error = %e, "could not refresh the push keys");
                    return Ok(c.keys);
                }
                None => return Err(e),
            },
        };
        self.state.keys.0.lock().expect("key sets").insert(
            url.to_string(),
            Cached {
                keys: keys.clone(),
                fetched: Instant::now(),
            },
        );
        Ok(keys)
    }

    async fn fetch_keys(&self, url: &str) -> Result<JwkSet> {
        let http = self.ctx.http();
        let req = http
            .request(reqwest::Method::GET, url)
            .map_err(EngineError::Connector)?;
        let (value, _) = http.send_json(req).await.map_err(|e| {
            EngineError::ProviderUnavailable(format!("the push signing keys are unavailable: {e}"))
        })?;
        serde_json::from_value(value).map_err(|e| {
            EngineError::ProviderUnavailable(format!("the push signing keys are unreadable: {e}"))
        })
    }
}
