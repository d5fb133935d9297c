//! API keys and who a request comes from. Keys are random, high-entropy tokens, so a SHA-256
//! of the token is a safe lookup key; only the hash is stored.

use crate::error::Result;
use crate::{Change, Context};
use base64::Engine as _;
use patchbay_core::{ids, now_ms};
use patchbay_store::ActivityRow;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Workspace secret keys start with this; integration principal keys with `pbi_`.
pub const WORKSPACE_KEY_PREFIX: &str = "pbk_";
pub const PRINCIPAL_KEY_PREFIX: &str = "pbi_";
const KEY_USE_INTERVAL_MS: i64 = 60_000;

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// An operator with the admin key: sees every workspace.
    Admin,
    /// An application with a workspace secret key.
    Workspace {
        workspace_id: String,
        key_id: String,
    },
    /// A connection's integration principal: its own connection and its allowed actions only.
    Integration {
        workspace_id: String,
        connection_id: String,
        principal_id: String,
        action_keys: Vec<String>,
    },
}

impl Caller {
    pub fn actor(&self) -> String {
        match self {
            Caller::Admin => "admin".into(),
            Caller::Workspace { key_id, .. } => format!("api_key:{key_id}"),
            Caller::Integration { connection_id, .. } => format!("integration:{connection_id}"),
        }
    }

    pub fn workspace_id(&self) -> Option<&str> {
        match self {
            Caller::Admin => None,
            Caller::Workspace { workspace_id, .. } | Caller::Integration { workspace_id, .. } => {
                Some(workspace_id)
            }
        }
    }
}

pub fn hash_key(token: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(token.as_bytes());
    // Every authenticated request hashes its key: no formatter, one allocation.
    let mut out = String::with_capacity(digest.len() * 2);
    for b in digest {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xf)] as char);
    }
    out
}

/// 32 random bytes, URL-safe base64 without padding.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A short random id for principal key ids.
pub fn random_key_id() -> String {
    let mut bytes = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "ik_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// Authentication of API keys and principals.
#[derive(Clone)]
pub struct Auth {
    ctx: Context,
    state: Arc<AuthState>,
}

/// Authentication's own state: the admin key's hash, resolved keys, and when each key's use
/// was last recorded (at most once a minute per key).
struct AuthState {
    admin_key_hash: Option<String>,
    key_use: std::sync::Mutex<std::collections::HashMap<String, i64>>,
    cache: AuthCache,
}

impl Auth {
    pub(crate) fn new(ctx: Context, admin_key: Option<&patchbay_core::Secret>) -> Self {
        let state = Arc::new(AuthState {
            admin_key_hash: admin_key.map(|k| hash_key(k.expose())),
            key_use: Default::default(),
            cache: AuthCache::default(),
        });
        let heard = state.clone();
        // A rotated or removed key stops working now, not when a cached resolution lapses.
        ctx.on_change(move |change| {
            if let Change::Keys = change {
                heard.cache.clear();
            }
        });
        Auth { ctx, state }
    }
}

/// How long a resolved key is trusted without asking the database again. Rotations and
/// deletions in this process clear it at once; other processes see them within this time.
const AUTH_TTL_MS: i64 = 5_000;

/// Resolved keys by hash: most requests then cost no database read to authenticate.
#[derive(Default)]
/// Read on every request, written when a key is first seen: readers never wait for each other.
struct AuthCache(std::sync::RwLock<std::collections::HashMap<String, (Caller, i64)>>);

impl AuthCache {
    fn get(&self, hash: &str) -> Option<Caller> {
        let map = self.0.read().expect("auth cache");
        map.get(hash)
            .filter(|(_, at)| now_ms() - at < AUTH_TTL_MS)
            .map(|(c, _)| c.clone())
    }

    fn put(&self, hash: String, caller: Caller) {
        let mut map = self.0.write().expect("auth cache");
        if map.len() > 10_000 {
            let now = now_ms();
            map.retain(|_, (_, at)| now - *at < AUTH_TTL_MS);
        }
        map.insert(hash, (caller, now_ms()));
    }

    /// Forgets every resolved key (after a key was rotated or removed).
    fn clear(&self) {
        self.0.write().expect("auth cache").clear();
    }
}

impl Auth {
    /// Resolves a bearer token to a caller; `None` when it matches nothing.
    pub async fn authenticate(&self, token: &str) -> Result<Option<Caller>> {
        let hash = hash_key(token);
        if let Some(admin) = &self.state.admin_key_hash {
            if bool::from(admin.as_bytes().ct_eq(hash.as_bytes())) {
                return Ok(Some(Caller::Admin));
            }
        }
        if let Some(caller) = self.state.cache.get(&hash) {
            return Ok(Some(caller));
        }
        let found = self.authenticate_stored(token, &hash).await?;
        if let Some(caller) = &found {
            self.state.cache.put(hash, caller.clone());
        }
        Ok(found)
    }

    async fn authenticate_stored(&self, token: &str, hash: &str) -> Result<Option<Caller>> {
        let hash = hash.to_string();
        if token.starts_with(WORKSPACE_KEY_PREFIX) {
            if let Some(key) = self.ctx.store().find_api_key(&hash).await? {
                if self.should_record_use(&key.id) {
                    let now = now_ms();
                    self.ctx.store().touch_api_key(&key.id, now).await?;
                    self.record_key_use(
                        Some(&key.workspace_id),
                        None,
                        &format!("api_key:{}", key.id),
                        "api_key.used",
                    )
                    .await?;
                }
                return Ok(Some(Caller::Workspace {
                    workspace_id: key.workspace_id,
                    key_id: key.id,
                }));
            }
        } else if token.starts_with(PRINCIPAL_KEY_PREFIX) {
            if let Some(p) = self.ctx.store().find_principal_by_hash(&hash).await? {
                if self.should_record_use(&p.id) {
                    self.ctx.store().touch_principal(&p.id, now_ms()).await?;
                    self.record_key_use(
                        Some(&p.workspace_id),
                        Some(&p.connection_id),
                        &p.subject,
                        "principal.key_used",
                    )
                    .await?;
                }
                let action_keys = serde_json::from_str(&p.action_keys).unwrap_or_default();
                return Ok(Some(Caller::Integration {
                    workspace_id: p.workspace_id,
                    connection_id: p.connection_id,
                    principal_id: p.id,
                    action_keys,
                }));
            }
        }
        Ok(None)
    }

    fn should_record_use(&self, key_id: &str) -> bool {
        let now = now_ms();
        let mut seen = self.state.key_use.lock().expect("key use lock");
        match seen.get(key_id) {
            Some(last) if now - last < KEY_USE_INTERVAL_MS => false,
            _ => {
                seen.insert(key_id.to_string(), now);
                true
            }
        }
    }

    async fn record_key_use(
        &self,
        ws: Option<&str>,
        conn: Option<&str>,
        actor: &str,
        action: &str,
    ) -> Result<()> {
        self.ctx
            .store()
            .record_activity(&activity_row(
                ws,
                conn,
                actor,
                action,
                serde_json::json!({}),
            ))
            .await?;
        Ok(())
    }
}

/// A new activity row.
pub fn activity_row(
    workspace_id: Option<&str>,
    connection_id: Option<&str>,
    actor: &str,
    action: &str,
    details: serde_json::Value,
) -> ActivityRow {
    ActivityRow {
        id: ids::new_id(ids::IdKind::Activity),
        workspace_id: workspace_id.map(str::to_string),
        connection_id: connection_id.map(str::to_string),
        actor: actor.to_string(),
        action: action.to_string(),
        details: details.to_string(),
        created_at: now_ms(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn key_hashes_are_lowercase_hex_sha256() {
        // The FIPS 180-2 test vector: stored hashes must keep this exact form.
        assert_eq!(
            super::hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
