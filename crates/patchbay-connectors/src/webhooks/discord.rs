//! Discord interactions: `X-Signature-Ed25519` is the hex Ed25519 signature of the
//! `X-Signature-Timestamp` value followed by the body, checked against the application's public
//! key.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use patchbay_core::WebhookRequest;

use super::{hex_decode, hex_encode, required, VerifyError};

pub(super) const SIGNATURE_HEADER: &str = "X-Signature-Ed25519";
pub(super) const TIMESTAMP_HEADER: &str = "X-Signature-Timestamp";

pub(super) fn verify(req: &WebhookRequest, public_key_hex: &str) -> Result<(), VerifyError> {
    let signature = required(req, SIGNATURE_HEADER)?;
    let timestamp = required(req, TIMESTAMP_HEADER)?;
    let key = decode_array::<32>(public_key_hex)
        .and_then(|bytes| VerifyingKey::from_bytes(&bytes).ok())
        .ok_or(VerifyError::Malformed("public key"))?;
    let signature = decode_array::<64>(signature)
        .map(|bytes| Signature::from_bytes(&bytes))
        .ok_or(VerifyError::Malformed(SIGNATURE_HEADER))?;
    // Strict verification refuses malleable signatures and weak keys that plain `verify`
    // would let through.
    key.verify_strict(&message(timestamp, &req.body), &signature)
        .map_err(|_| VerifyError::BadSignature)
}

/// `seed_hex` is the signing key's 32-byte seed in hex.
pub(super) fn sign(seed_hex: &str, body: &[u8], now: i64) -> Vec<(String, String)> {
    let timestamp = now.to_string();
    let signature = signing_key(seed_hex).sign(&message(&timestamp, body));
    vec![
        (
            SIGNATURE_HEADER.to_string(),
            hex_encode(&signature.to_bytes()),
        ),
        (TIMESTAMP_HEADER.to_string(), timestamp),
    ]
}

/// The hex public key (what Discord shows as the application's public key, and what
/// [`super::verify`] takes) for the signing key whose 32-byte seed is `seed_hex`.
///
/// # Panics
///
/// If `seed_hex` is not 64 hex digits.
pub fn discord_public_key_hex(seed_hex: &str) -> String {
    hex_encode(signing_key(seed_hex).verifying_key().as_bytes())
}

fn signing_key(seed_hex: &str) -> SigningKey {
    let seed = decode_array::<32>(seed_hex)
        .expect("a Discord signing secret is a 32-byte Ed25519 seed in hex");
    SigningKey::from_bytes(&seed)
}

fn message(timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(timestamp.len() + body.len());
    message.extend_from_slice(timestamp.as_bytes());
    message.extend_from_slice(body);
    message
}

fn decode_array<const N: usize>(hex: &str) -> Option<[u8; N]> {
    hex_decode(hex)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::super::{delivery_id, request, request_with, verify as verify_scheme};
    use super::*;
    use patchbay_core::WebhookScheme;

    const SCHEME: WebhookScheme = WebhookScheme::DiscordEd25519;
    // RFC 8032 section 7.1, test 2: the one-byte message "r".
    const RFC_SEED: &str = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
    const RFC_PUBLIC: &str = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
    const RFC_SIGNATURE: &str = "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";
    const NOW: i64 = 1_700_000_000;
    const PING: &[u8] =
        br#"{"id":"1183473527423729734","application_id":"11","type":1,"token":"t","version":1}"#;

    #[test]
    fn public_key_is_derived_from_the_seed() {
        assert_eq!(discord_public_key_hex(RFC_SEED), RFC_PUBLIC);
    }

    #[test]
    fn rfc_8032_vector_verifies_as_timestamp_then_body() {
        // The signed message is the timestamp bytes followed by the body: "r" + "".
        let req = request_with(
            &[(SIGNATURE_HEADER, RFC_SIGNATURE), (TIMESTAMP_HEADER, "r")],
            b"",
        );
        assert_eq!(verify_scheme(SCHEME, &req, RFC_PUBLIC, NOW), Ok(()));
        let req = request_with(
            &[(SIGNATURE_HEADER, RFC_SIGNATURE), (TIMESTAMP_HEADER, "")],
            b"r",
        );
        assert_eq!(verify_scheme(SCHEME, &req, RFC_PUBLIC, NOW), Ok(()));
    }

    #[test]
    fn signed_interaction_verifies_and_its_id_is_the_delivery_id() {
        let req = request(sign(RFC_SEED, PING, NOW), PING);
        assert_eq!(verify_scheme(SCHEME, &req, RFC_PUBLIC, NOW), Ok(()));
        assert_eq!(
            delivery_id(SCHEME, &req).as_deref(),
            Some("1183473527423729734")
        );
    }

    #[test]
    fn altered_body_timestamp_or_key_fails() {
        let headers = sign(RFC_SEED, PING, NOW);
        let mut body = PING.to_vec();
        body[7] ^= 0x01;
        assert_eq!(
            verify_scheme(SCHEME, &request(headers.clone(), &body), RFC_PUBLIC, NOW),
            Err(VerifyError::BadSignature)
        );
        let replayed: Vec<_> = headers
            .iter()
            .map(|(k, v)| match k.as_str() {
                TIMESTAMP_HEADER => (k.clone(), (NOW + 1).to_string()),
                _ => (k.clone(), v.clone()),
            })
            .collect();
        assert_eq!(
            verify_scheme(SCHEME, &request(replayed, PING), RFC_PUBLIC, NOW),
            Err(VerifyError::BadSignature)
        );
        let other = discord_public_key_hex(&"11".repeat(32));
        assert_eq!(
            verify_scheme(SCHEME, &request(headers, PING), &other, NOW),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn missing_headers_are_reported_by_name() {
        let req = request_with(&[(TIMESTAMP_HEADER, "1")], PING);
        assert_eq!(
            verify_scheme(SCHEME, &req, RFC_PUBLIC, NOW),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
        );
        let req = request_with(&[(SIGNATURE_HEADER, RFC_SIGNATURE)], PING);
        assert_eq!(
            verify_scheme(SCHEME, &req, RFC_PUBLIC, NOW),
            Err(VerifyError::MissingHeader(TIMESTAMP_HEADER))
        );
    }

    #[test]
    fn malformed_signature_or_public_key_is_refused() {
        for bad in [&RFC_SIGNATURE[2..], "zz", ""] {
            let req = request_with(&[(SIGNATURE_HEADER, bad), (TIMESTAMP_HEADER, "r")], b"");
            assert_eq!(
                verify_scheme(SCHEME, &req, RFC_PUBLIC, NOW),
                Err(VerifyError::Malformed(SIGNATURE_HEADER)),
                "{bad:?}"
            );
        }
        let req = request_with(
            &[(SIGNATURE_HEADER, RFC_SIGNATURE), (TIMESTAMP_HEADER, "r")],
            b"",
        );
        for bad_key in [&RFC_PUBLIC[2..], "not hex", &RFC_PUBLIC[..63]] {
            assert_eq!(
                verify_scheme(SCHEME, &req, bad_key, NOW),
                Err(VerifyError::Malformed("public key")),
                "{bad_key:?}"
            );
        }
    }

    #[test]
    fn strict_verification_rejects_a_small_order_public_key() {
        // The identity point: every signature with R = identity and s = 0 "verifies" under
        // the lenient check, which verify_strict refuses.
        let identity = format!("01{}", "00".repeat(31));
        let forged = format!("01{}{}", "00".repeat(31), "00".repeat(32));
        let req = request_with(
            &[(SIGNATURE_HEADER, &forged), (TIMESTAMP_HEADER, "1")],
            PING,
        );
        assert_eq!(
            verify_scheme(SCHEME, &req, &identity, NOW),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    #[should_panic(expected = "32-byte Ed25519 seed")]
    fn a_seed_that_is_not_hex_panics() {
        discord_public_key_hex("not a seed");
    }
}
