//! The vault service: the keyring as stored in `vault_keys` (wrapped by the master key), seals
//! and opens credentials, and rotates data keys while the server keeps serving.

use crate::error::Result;
use patchbay_core::{now_ms, Secret};
use patchbay_store::{CredentialRow, Store, StoreError, VaultKeyRow};
use patchbay_vault::{open_with, seal_with, Binding, DataKey, Keyring, MasterKey, VaultError};
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub const CREDENTIALS_TABLE: &str = "credentials";

/// The AAD field of a credential names its owner too, so pointing a row at another
/// connection (or workspace) makes it fail to open.
fn bound_field(owner_type: &str, owner_id: &str, field: &str) -> String {
    format!("{owner_type}:{owner_id}/{field}")
}

#[derive(Clone)]
pub struct Vault {
    master: MasterKey,
    ring: Arc<RwLock<Keyring>>,
    store: Store,
}

/// What a rotation did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RotationReport {
    pub new_key_id: u32,
    pub resealed: u64,
    /// Compare-and-swap misses: a concurrent write changed the row first; it was retried.
    pub retried: u64,
    /// Credential rows that did not open (tampered or moved); they keep their old key.
    pub unopenable: Vec<String>,
}

impl Vault {
    /// Loads the keyring, creating the first data key on a new database. Fails when the master
    /// key cannot unwrap the stored keys (the wrong master key).
    pub async fn load(store: Store, master: MasterKey) -> Result<Vault> {
        let vault = Vault {
            master,
            ring: Arc::new(RwLock::new(Keyring::default())),
            store,
        };
        vault.refresh().await?;
        if vault.ring.read().expect("keyring lock").active().is_none() {
            let key = DataKey::generate(1);
            let row = VaultKeyRow {
                id: 1,
                wrapped: vault.master.wrap(&key)?,
                active: true,
                created_at: now_ms(),
            };
            match vault.store.add_active_vault_key(&row).await {
                // Another process created it first; use theirs.
                Ok(()) | Err(StoreError::Unique { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            vault.refresh().await?;
        }
        Ok(vault)
    }

    /// Re-reads the keys from the database (a rotation in another process adds one).
    pub async fn refresh(&self) -> Result<()> {
        let rows = self.store.list_vault_keys().await?;
        let mut ring = Keyring::default();
        for row in rows {
            let id = u32::try_from(row.id).map_err(|_| VaultError::Seal)?;
            ring.insert(self.master.unwrap_key(id, &row.wrapped)?, row.active);
        }
        *self.ring.write().expect("keyring lock") = ring;
        Ok(())
    }

    pub fn active_key_id(&self) -> Option<u32> {
        self.ring.read().expect("keyring lock").active_id()
    }

    /// Seals a secret for a credential row, bound to the row, its owner and its field; returns
    /// the ciphertext and the key id used.
    pub fn seal_credential(
        &self,
        row_id: &str,
        owner: (&str, &str),
        field: &str,
        secret: &Secret,
    ) -> Result<(Vec<u8>, i64)> {
        let ring = self.ring.read().expect("keyring lock");
        let key = ring.active().ok_or(VaultError::Seal)?;
        let field = bound_field(owner.0, owner.1, field);
        let binding = Binding {
            table: CREDENTIALS_TABLE,
            row_id,
            field: &field,
        };
        Ok((
            seal_with(key, &binding, secret.expose().as_bytes())?,
            i64::from(key.id()),
        ))
    }

    /// Opens a credential row, reloading the keyring once if it names a key this process has
    /// not seen yet.
    pub async fn open_credential(&self, row: &CredentialRow) -> Result<Secret> {
        let field = bound_field(&row.owner_type, &row.owner_id, &row.field);
        let binding = Binding {
            table: CREDENTIALS_TABLE,
            row_id: &row.id,
            field: &field,
        };
        let first = {
            let ring = self.ring.read().expect("keyring lock");
            open_with(&ring, &binding, &row.ciphertext)
        };
        let bytes = match first {
            Err(VaultError::UnknownKey { .. }) => {
                self.refresh().await?;
                let ring = self.ring.read().expect("keyring lock");
                open_with(&ring, &binding, &row.ciphertext)?
            }
            other => other?,
        };
        String::from_utf8(bytes).map(Secret::new).map_err(|_| {
            VaultError::Malformed {
                table: CREDENTIALS_TABLE.into(),
                row_id: row.id.clone(),
                field: row.field.clone(),
                reason: "not UTF-8",
            }
            .into()
        })
    }

    /// Adds a new active data key and re-seals every credential with it. Concurrent writers keep
    /// working: each re-seal is a compare-and-swap, and rows rewritten meanwhile (possibly by a
    /// process still on the old key) are picked up by the next sweep. `settle` is how long to
    /// wait for other processes to load the new key before the last sweep.
    pub async fn rotate(
        &self,
        settle: Duration,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<RotationReport> {
        self.refresh().await?;
        let new_id = self.ring.read().expect("keyring lock").next_id();
        let key = DataKey::generate(new_id);
        let row = VaultKeyRow {
            id: i64::from(new_id),
            wrapped: self.master.wrap(&key)?,
            active: true,
            created_at: now_ms(),
        };
        self.store.add_active_vault_key(&row).await?;
        self.refresh().await?;
        let mut report = RotationReport {
            new_key_id: new_id,
            resealed: 0,
            retried: 0,
            unopenable: Vec::new(),
        };
        let mut settled = settle.is_zero();
        // Rows that do not open (tampered or moved) are reported, not retried forever.
        let mut unopenable: Vec<String> = Vec::new();
        let mut stalled_since = tokio::time::Instant::now();
        loop {
            let remaining = self
                .store
                .count_credentials_not_on_key(i64::from(new_id))
                .await? as u64;
            let total = remaining - unopenable.len() as u64;
            progress(report.resealed, report.resealed + total);
            if total == 0 {
                if settled {
                    break;
                }
                tokio::time::sleep(settle).await;
                settled = true;
                continue;
            }
            // Only a sweep that makes no progress for long counts as stuck.
            if stalled_since.elapsed() > settle + Duration::from_secs(60) {
                return Err(crate::EngineError::Conflict(format!(
                    "{total} credentials are still sealed with older keys; run the rotation again"
                )));
            }
            let batch = self
                .store
                .credentials_not_on_key(i64::from(new_id), 500 + unopenable.len() as i64)
                .await?;
            for cred in &batch {
                if unopenable.contains(&cred.id) {
                    continue;
                }
                let secret = match self.open_credential(cred).await {
                    Ok(s) => s,
                    Err(crate::EngineError::Vault(e)) => {
                        tracing::error!(credential = %cred.id, error = %e, "credential does not open; left on its key");
                        unopenable.push(cred.id.clone());
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let (sealed, key_id) = self.seal_credential(
                    &cred.id,
                    (&cred.owner_type, &cred.owner_id),
                    &cred.field,
                    &secret,
                )?;
                if self
                    .store
                    .reseal_credential(&cred.id, &cred.ciphertext, &sealed, key_id)
                    .await?
                {
                    report.resealed += 1;
                    stalled_since = tokio::time::Instant::now();
                } else {
                    report.retried += 1;
                }
            }
        }
        report.unopenable = unopenable;
        Ok(report)
    }

    /// Keeps this process's keyring current, so a rotation run elsewhere is picked up.
    pub fn spawn_refresher(
        &self,
        every: Duration,
        cancel: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let vault = self.clone();
        tokio::spawn(async move {
            let mut cancel = cancel;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {
                        if let Err(e) = vault.refresh().await {
                            tracing::warn!(error = %e, "keyring refresh failed");
                        }
                    }
                    _ = cancel.changed() => break,
                }
            }
        })
    }
}
