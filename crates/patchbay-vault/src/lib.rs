//! The credential vault: a keyring of AES-256-GCM data keys wrapped by a master key, and
//! seal/open of secret values bound to the row and field they belong to.
//!
//! Ciphertext layout: `version (1) | key id (4, big endian) | nonce (12) | ciphertext+tag`.
//! The AAD is `patchbay/v1|{table}|{row_id}|{field}`, so a ciphertext copied into another row or
//! field does not open.

mod keyring;
mod master;

pub use keyring::{DataKey, Keyring};
pub use master::{MasterKey, MasterKeyError};
pub use patchbay_core::{Secret, SecretMap};

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Nonce};

/// Format version of sealed values.
pub const FORMAT_V1: u8 = 1;
const HEADER_LEN: usize = 1 + 4 + 12;

/// Where a sealed value lives; part of the AAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding<'a> {
    pub table: &'a str,
    pub row_id: &'a str,
    pub field: &'a str,
}

impl Binding<'_> {
    fn aad(&self) -> Vec<u8> {
        format!("patchbay/v1|{}|{}|{}", self.table, self.row_id, self.field).into_bytes()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("sealed value in {table} row {row_id} (field {field}) is malformed: {reason}")]
    Malformed {
        table: String,
        row_id: String,
        field: String,
        reason: &'static str,
    },
    #[error("sealed value in {table} row {row_id} (field {field}) uses key {key_id}, which this keyring does not hold")]
    UnknownKey {
        table: String,
        row_id: String,
        field: String,
        key_id: u32,
    },
    #[error("sealed value in {table} row {row_id} (field {field}) does not open: it was sealed for another row or field, or it was altered")]
    Integrity {
        table: String,
        row_id: String,
        field: String,
    },
    #[error("sealing failed")]
    Seal,
}

impl VaultError {
    fn at(b: &Binding<'_>, make: impl FnOnce(String, String, String) -> VaultError) -> VaultError {
        make(
            b.table.to_string(),
            b.row_id.to_string(),
            b.field.to_string(),
        )
    }
}

/// Reads the key id of a sealed value without opening it (rotation uses this).
pub fn key_id_of(sealed: &[u8]) -> Option<u32> {
    if sealed.len() < HEADER_LEN || sealed[0] != FORMAT_V1 {
        return None;
    }
    Some(u32::from_be_bytes(sealed[1..5].try_into().ok()?))
}

/// Seals `plaintext` with `key`, bound to `binding`.
pub fn seal_with(
    key: &DataKey,
    binding: &Binding<'_>,
    plaintext: &[u8],
) -> Result<Vec<u8>, VaultError> {
    let cipher = Aes256Gcm::new_from_slice(key.bytes()).map_err(|_| VaultError::Seal)?;
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let aad = binding.aad();
    let ct = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .map_err(|_| VaultError::Seal)?;
    let mut out = Vec::with_capacity(HEADER_LEN + ct.len());
    out.push(FORMAT_V1);
    out.extend_from_slice(&key.id().to_be_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens a sealed value with whichever key of `keyring` sealed it.
pub fn open_with(
    keyring: &Keyring,
    binding: &Binding<'_>,
    sealed: &[u8],
) -> Result<Vec<u8>, VaultError> {
    if sealed.len() < HEADER_LEN + 16 {
        return Err(VaultError::at(binding, |table, row_id, field| {
            VaultError::Malformed {
                table,
                row_id,
                field,
                reason: "too short",
            }
        }));
    }
    if sealed[0] != FORMAT_V1 {
        return Err(VaultError::at(binding, |table, row_id, field| {
            VaultError::Malformed {
                table,
                row_id,
                field,
                reason: "unknown format version",
            }
        }));
    }
    let key_id = u32::from_be_bytes(sealed[1..5].try_into().expect("4 bytes"));
    let key = keyring.get(key_id).ok_or_else(|| {
        VaultError::at(binding, |table, row_id, field| VaultError::UnknownKey {
            table,
            row_id,
            field,
            key_id,
        })
    })?;
    let cipher = Aes256Gcm::new_from_slice(key.bytes()).map_err(|_| VaultError::Seal)?;
    let nonce = Nonce::from_slice(&sealed[5..HEADER_LEN]);
    let aad = binding.aad();
    cipher
        .decrypt(
            nonce,
            Payload {
                msg: &sealed[HEADER_LEN..],
                aad: &aad,
            },
        )
        .map_err(|_| {
            VaultError::at(binding, |table, row_id, field| VaultError::Integrity {
                table,
                row_id,
                field,
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> Keyring {
        let mut r = Keyring::default();
        r.insert(DataKey::generate(1), true);
        r
    }

    #[test]
    fn round_trip_and_binding() {
        let r = ring();
        let b = Binding {
            table: "credentials",
            row_id: "cred_a",
            field: "api_key",
        };
        let sealed = seal_with(r.active().unwrap(), &b, b"s3cr3t").unwrap();
        assert_eq!(key_id_of(&sealed), Some(1));
        assert_eq!(open_with(&r, &b, &sealed).unwrap(), b"s3cr3t");
        assert!(!sealed.windows(6).any(|w| w == b"s3cr3t"));

        let other_row = Binding {
            row_id: "cred_b",
            ..b
        };
        let err = open_with(&r, &other_row, &sealed).unwrap_err();
        assert!(err.to_string().contains("cred_b"), "{err}");
        let other_field = Binding {
            field: "callback_secret",
            ..b
        };
        assert!(matches!(
            open_with(&r, &other_field, &sealed),
            Err(VaultError::Integrity { .. })
        ));
    }

    #[test]
    fn tampering_and_unknown_keys_fail() {
        let r = ring();
        let b = Binding {
            table: "t",
            row_id: "r",
            field: "f",
        };
        let mut sealed = seal_with(r.active().unwrap(), &b, b"x").unwrap();
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(matches!(
            open_with(&r, &b, &sealed),
            Err(VaultError::Integrity { .. })
        ));
        let mut other = Keyring::default();
        other.insert(DataKey::generate(9), true);
        let sealed = seal_with(other.active().unwrap(), &b, b"x").unwrap();
        assert!(matches!(
            open_with(&r, &b, &sealed),
            Err(VaultError::UnknownKey { key_id: 9, .. })
        ));
        assert!(matches!(
            open_with(&r, &b, b"short"),
            Err(VaultError::Malformed { .. })
        ));
    }
}
