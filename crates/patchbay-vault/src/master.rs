//! The master key: wraps the data keys stored in the database. It comes from
//! `PATCHBAY_MASTER_KEY` (base64 of 32 bytes) or a key file holding the same.

use crate::{open_with, seal_with, Binding, DataKey, Keyring, VaultError};
use base64::Engine;
use std::fmt;
use std::path::Path;

/// The master key (key-encryption key). Never printed.
#[derive(Clone)]
pub struct MasterKey(Keyring);

#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error("the master key is not valid base64: set PATCHBAY_MASTER_KEY to the output of `openssl rand -base64 32`")]
    NotBase64,
    #[error("the master key must be exactly 32 bytes (got {0}); generate one with `openssl rand -base64 32`")]
    WrongLength(usize),
    #[error("cannot read master key file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

// The master key wraps data keys under a fixed id; data keys start at 1.
const MASTER_ID: u32 = 0;

impl MasterKey {
    pub fn from_base64(text: &str) -> Result<Self, MasterKeyError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| MasterKeyError::NotBase64)?;
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| MasterKeyError::WrongLength(bytes.len()))?;
        let mut ring = Keyring::default();
        ring.insert(DataKey::new(MASTER_ID, arr), true);
        Ok(MasterKey(ring))
    }

    pub fn from_file(path: &Path) -> Result<Self, MasterKeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| MasterKeyError::File {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_base64(&text)
    }

    /// A fresh random master key, as base64 (for `serve --dev` and `keys generate`).
    pub fn generate_base64() -> String {
        let key = DataKey::generate(MASTER_ID);
        base64::engine::general_purpose::STANDARD.encode(key.bytes())
    }

    fn binding(key_id: &str) -> Binding<'_> {
        Binding {
            table: "vault_keys",
            row_id: key_id,
            field: "key",
        }
    }

    /// Wraps a data key for storage in `vault_keys`.
    pub fn wrap(&self, key: &DataKey) -> Result<Vec<u8>, VaultError> {
        let id = key.id().to_string();
        seal_with(
            self.0.active().expect("master key"),
            &Self::binding(&id),
            key.bytes(),
        )
    }

    /// Unwraps a stored data key; fails when this is not the master key that wrapped it.
    pub fn unwrap_key(&self, id: u32, wrapped: &[u8]) -> Result<DataKey, VaultError> {
        let id_text = id.to_string();
        let bytes = open_with(&self.0, &Self::binding(&id_text), wrapped)?;
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| VaultError::Malformed {
                table: "vault_keys".into(),
                row_id: id_text.clone(),
                field: "key".into(),
                reason: "wrong key length",
            })?;
        Ok(DataKey::new(id, arr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_wraps() {
        let mk = MasterKey::from_base64(&MasterKey::generate_base64()).unwrap();
        assert!(matches!(
            MasterKey::from_base64("!!"),
            Err(MasterKeyError::NotBase64)
        ));
        assert!(matches!(
            MasterKey::from_base64("c2hvcnQ="),
            Err(MasterKeyError::WrongLength(5))
        ));
        let dk = DataKey::generate(3);
        let wrapped = mk.wrap(&dk).unwrap();
        assert_eq!(mk.unwrap_key(3, &wrapped).unwrap().bytes(), dk.bytes());
        assert!(
            mk.unwrap_key(4, &wrapped).is_err(),
            "wrapped key bound to its id"
        );
        let other = MasterKey::from_base64(&MasterKey::generate_base64()).unwrap();
        assert!(other.unwrap_key(3, &wrapped).is_err());
        assert_eq!(format!("{mk:?}"), "MasterKey([redacted])");
    }
}
