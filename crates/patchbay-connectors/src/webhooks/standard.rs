//! Standard Webhooks (<https://www.standardwebhooks.com>): `webhook-signature` holds
//! space-separated `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>` entries, any of
//! which may match (several appear while a secret is being rotated).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use patchbay_core::WebhookRequest;

use super::{check_fresh, ct_eq, hmac_sha256, required, VerifyError};

pub(super) const ID_HEADER: &str = "webhook-id";
pub(super) const TIMESTAMP_HEADER: &str = "webhook-timestamp";
pub(super) const SIGNATURE_HEADER: &str = "webhook-signature";
const SECRET_PREFIX: &str = "whsec_";

pub(super) fn verify(req: &WebhookRequest, secret: &str, now: i64) -> Result<(), VerifyError> {
    let id = required(req, ID_HEADER)?;
    let timestamp = required(req, TIMESTAMP_HEADER)?;
    let signatures = required(req, SIGNATURE_HEADER)?;
    check_fresh(timestamp, TIMESTAMP_HEADER, now)?;
    let key = key(secret)?;
    let expected = mac(&key, id, timestamp, &req.body);
    let mut any_entry = false;
    for entry in signatures.split_whitespace() {
        let Some((version, signature)) = entry.split_once(',') else {
            continue;
        };
        any_entry = true;
        // Other versions (such as the asymmetric v1a) are not ours to check.
        if version != "v1" {
            continue;
        }
        if let Ok(given) = STANDARD.decode(signature) {
            if ct_eq(&expected, &given) {
                return Ok(());
            }
        }
    }
    if any_entry {
        Err(VerifyError::BadSignature)
    } else {
        Err(VerifyError::Malformed(SIGNATURE_HEADER))
    }
}

/// # Panics
///
/// If a `whsec_` secret's remainder is not base64.
pub(super) fn sign(secret: &str, body: &[u8], now: i64, id: &str) -> Vec<(String, String)> {
    let key = key(secret).expect("a whsec_ secret is followed by base64");
    let timestamp = now.to_string();
    let mac = mac(&key, id, &timestamp, body);
    vec![
        (ID_HEADER.to_string(), id.to_string()),
        (TIMESTAMP_HEADER.to_string(), timestamp),
        (
            SIGNATURE_HEADER.to_string(),
            format!("v1,{}", STANDARD.encode(mac)),
        ),
    ]
}

/// The HMAC key: the base64 part of a `whsec_` secret, otherwise the secret's bytes.
fn key(secret: &str) -> Result<Vec<u8>, VerifyError> {
    let key = match secret.strip_prefix(SECRET_PREFIX) {
        Some(encoded) => STANDARD
            .decode(encoded)
            .map_err(|_| VerifyError::Malformed("secret"))?,
        None => secret.as_bytes().to_vec(),
    };
    if key.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    Ok(key)
}

fn mac(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> [u8; 32] {
    hmac_sha256(
        key,
        &[id.as_bytes(), b".", timestamp.as_bytes(), b".", body],
    )
}

#[cfg(test)]
mod tests {
    use super::super::{delivery_id, request, request_with, verify as verify_scheme};
    use super::*;
    use patchbay_core::WebhookScheme;

    const SCHEME: WebhookScheme = WebhookScheme::StandardWebhooks;
    // The test vector published with the Standard Webhooks specification.
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TIMESTAMP: i64 = 1_614_265_330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn spec_request(signature: &str, body: &[u8]) -> WebhookRequest {
        request_with(
            &[
                (ID_HEADER, SPEC_ID),
                (TIMESTAMP_HEADER, &SPEC_TIMESTAMP.to_string()),
                (SIGNATURE_HEADER, signature),
            ],
            body,
        )
    }

    #[test]
    fn published_vector_verifies() {
        let req = spec_request(SPEC_SIGNATURE, SPEC_BODY);
        assert_eq!(
            verify_scheme(SCHEME, &req, SPEC_SECRET, SPEC_TIMESTAMP),
            Ok(())
        );
        assert_eq!(delivery_id(SCHEME, &req).as_deref(), Some(SPEC_ID));
    }

    #[test]
    fn sign_reproduces_the_published_vector() {
        let headers = sign(SPEC_SECRET, SPEC_BODY, SPEC_TIMESTAMP, SPEC_ID);
        assert_eq!(
            headers,
            [
                (ID_HEADER.to_string(), SPEC_ID.to_string()),
                (TIMESTAMP_HEADER.to_string(), SPEC_TIMESTAMP.to_string()),
                (SIGNATURE_HEADER.to_string(), SPEC_SIGNATURE.to_string()),
            ]
        );
    }

    #[test]
    fn re_serialised_json_does_not_verify() {
        let compact = br#"{"test":2432232314}"#;
        let req = spec_request(SPEC_SIGNATURE, compact);
        assert_eq!(
            verify_scheme(SCHEME, &req, SPEC_SECRET, SPEC_TIMESTAMP),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn any_listed_v1_signature_may_match() {
        let list = format!("v1a,c29tZXRoaW5n v1,bm90IHRoaXM= {SPEC_SIGNATURE}  v2,x");
        let req = spec_request(&list, SPEC_BODY);
        assert_eq!(
            verify_scheme(SCHEME, &req, SPEC_SECRET, SPEC_TIMESTAMP),
            Ok(())
        );
        // The right MAC under another version tag does not count.
        let relabelled = SPEC_SIGNATURE.replacen("v1,", "v2,", 1);
        let req = spec_request(&relabelled, SPEC_BODY);
        assert_eq!(
            verify_scheme(SCHEME, &req, SPEC_SECRET, SPEC_TIMESTAMP),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn altered_id_body_or_secret_fails() {
        let mut body = SPEC_BODY.to_vec();
        body[10] = b'3';
        assert_eq!(
            verify_scheme(
                SCHEME,
                &spec_request(SPEC_SIGNATURE, &body),
                SPEC_SECRET,
                SPEC_TIMESTAMP
            ),
            Err(VerifyError::BadSignature)
        );
        let mut req = spec_request(SPEC_SIGNATURE, SPEC_BODY);
        req.headers.insert(ID_HEADER.into(), "msg_other".into());
        assert_eq!(
            verify_scheme(SCHEME, &req, SPEC_SECRET, SPEC_TIMESTAMP),
            Err(VerifyError::BadSignature)
        );
        let req = spec_request(SPEC_SIGNATURE, SPEC_BODY);
        // The whole string as a raw key is a different key from its decoded base64 part.
        for wrong in [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_AAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert_eq!(
                verify_scheme(SCHEME, &req, wrong, SPEC_TIMESTAMP),
                Err(VerifyError::BadSignature),
                "{wrong}"
            );
        }
    }

    #[test]
    fn raw_secrets_are_used_as_given() {
        let headers = sign("plain key", SPEC_BODY, SPEC_TIMESTAMP, SPEC_ID);
        let req = request(headers, SPEC_BODY);
        assert_eq!(
            verify_scheme(SCHEME, &req, "plain key", SPEC_TIMESTAMP),
            Ok(())
        );
    }

    #[test]
    fn old_and_future_timestamps_are_stale() {
        let req = spec_request(SPEC_SIGNATURE, SPEC_BODY);
        for now in [
            SPEC_TIMESTAMP + 301,
            SPEC_TIMESTAMP - 301,
            SPEC_TIMESTAMP - 3600,
        ] {
            assert_eq!(
                verify_scheme(SCHEME, &req, SPEC_SECRET, now),
                Err(VerifyError::Stale),
                "now={now}"
            );
        }
        for now in [SPEC_TIMESTAMP - 300, SPEC_TIMESTAMP + 300] {
            assert_eq!(verify_scheme(SCHEME, &req, SPEC_SECRET, now), Ok(()));
        }
    }

    #[test]
    fn missing_headers_are_reported_by_name() {
        let ts = SPEC_TIMESTAMP.to_string();
        let all = [
            (ID_HEADER, SPEC_ID),
            (TIMESTAMP_HEADER, ts.as_str()),
            (SIGNATURE_HEADER, SPEC_SIGNATURE),
        ];
        for skip in 0..all.len() {
            let present: Vec<_> = all
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, pair)| *pair)
                .collect();
            let req = request_with(&present, SPEC_BODY);
            assert_eq!(
                verify_scheme(SCHEME, &req, SPEC_SECRET, SPEC_TIMESTAMP),
                Err(VerifyError::MissingHeader(all[skip].0))
            );
        }
    }

    #[test]
    fn malformed_values_are_refused() {
        let req = spec_request("g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", SPEC_BODY);
        assert_eq!(
            verify_scheme(SCHEME, &req, SPEC_SECRET, SPEC_TIMESTAMP),
            Err(VerifyError::Malformed(SIGNATURE_HEADER))
        );
        let req = spec_request(SPEC_SIGNATURE, SPEC_BODY);
        assert_eq!(
            verify_scheme(SCHEME, &req, "whsec_not*base64", SPEC_TIMESTAMP),
            Err(VerifyError::Malformed("secret"))
        );
        assert_eq!(
            verify_scheme(SCHEME, &req, "whsec_", SPEC_TIMESTAMP),
            Err(VerifyError::NoSecret)
        );
        let mut req = spec_request(SPEC_SIGNATURE, SPEC_BODY);
        req.headers
            .insert(TIMESTAMP_HEADER.into(), "2021-02-26T00:00:00Z".into());
        assert_eq!(
            verify_scheme(SCHEME, &req, SPEC_SECRET, SPEC_TIMESTAMP),
            Err(VerifyError::Malformed(TIMESTAMP_HEADER))
        );
    }
}
