//! GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`.

use patchbay_core::WebhookRequest;

use super::{ct_eq, hex_decode, hex_encode, hmac_sha256, required, VerifyError};

pub(super) const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";
pub(super) const DELIVERY_HEADER: &str = "X-GitHub-Delivery";

pub(super) fn verify(req: &WebhookRequest, secret: &str) -> Result<(), VerifyError> {
    let header = required(req, SIGNATURE_HEADER)?;
    let given = header
        .strip_prefix("sha256=")
        .and_then(hex_decode)
        .ok_or(VerifyError::Malformed(SIGNATURE_HEADER))?;
    let expected = hmac_sha256(secret.as_bytes(), &[&req.body]);
    if ct_eq(&expected, &given) {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

pub(super) fn sign(secret: &str, body: &[u8], id: &str) -> Vec<(String, String)> {
    let mac = hmac_sha256(secret.as_bytes(), &[body]);
    vec![
        (
            SIGNATURE_HEADER.to_string(),
            format!("sha256={}", hex_encode(&mac)),
        ),
        (DELIVERY_HEADER.to_string(), id.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::{delivery_id, request_with, sign as sign_scheme, verify as verify_scheme};
    use super::*;
    use patchbay_core::WebhookScheme;

    const SCHEME: WebhookScheme = WebhookScheme::GithubHmacSha256;
    // The example in GitHub's "Validating webhook deliveries" documentation.
    const DOC_SECRET: &str = "It's a Secret to Everybody";
    const DOC_BODY: &[u8] = b"Hello, World!";
    const DOC_SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn documented_example_verifies() {
        let req = request_with(
            &[
                (SIGNATURE_HEADER, DOC_SIGNATURE),
                (DELIVERY_HEADER, "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
            ],
            DOC_BODY,
        );
        assert_eq!(verify_scheme(SCHEME, &req, DOC_SECRET, 0), Ok(()));
        assert_eq!(
            delivery_id(SCHEME, &req).as_deref(),
            Some("72d3162e-cc78-11e3-81ab-4c9367dc0958")
        );
    }

    #[test]
    fn sign_reproduces_the_documented_signature() {
        let headers = sign_scheme(SCHEME, DOC_SECRET, DOC_BODY, 0, "d");
        assert!(headers.contains(&(SIGNATURE_HEADER.to_string(), DOC_SIGNATURE.to_string())));
    }

    #[test]
    fn altered_body_or_secret_fails() {
        let req = request_with(&[(SIGNATURE_HEADER, DOC_SIGNATURE)], b"Hello, World?");
        assert_eq!(
            verify_scheme(SCHEME, &req, DOC_SECRET, 0),
            Err(VerifyError::BadSignature)
        );
        let req = request_with(&[(SIGNATURE_HEADER, DOC_SIGNATURE)], DOC_BODY);
        assert_eq!(
            verify_scheme(SCHEME, &req, "It's a secret to everybody", 0),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn upper_case_hex_is_accepted() {
        let upper = format!("sha256={}", DOC_SIGNATURE["sha256=".len()..].to_uppercase());
        let req = request_with(&[(SIGNATURE_HEADER, &upper)], DOC_BODY);
        assert_eq!(verify_scheme(SCHEME, &req, DOC_SECRET, 0), Ok(()));
    }

    #[test]
    fn malformed_signatures_are_refused() {
        let hex = &DOC_SIGNATURE["sha256=".len()..];
        let sha1 = format!("sha1={hex}");
        let not_hex = format!("sha256={}", hex.replace('a', "g"));
        for bad in [hex, sha1.as_str(), not_hex.as_str(), "sha256=abc"] {
            let req = request_with(&[(SIGNATURE_HEADER, bad)], DOC_BODY);
            assert_eq!(
                verify_scheme(SCHEME, &req, DOC_SECRET, 0),
                Err(VerifyError::Malformed(SIGNATURE_HEADER)),
                "{bad}"
            );
        }
        // Well-formed but truncated: a different MAC, not a malformed header.
        let short = &DOC_SIGNATURE[..DOC_SIGNATURE.len() - 2];
        let req = request_with(&[(SIGNATURE_HEADER, short)], DOC_BODY);
        assert_eq!(
            verify_scheme(SCHEME, &req, DOC_SECRET, 0),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn legacy_sha1_header_alone_is_missing_the_signature() {
        let req = request_with(&[("X-Hub-Signature", "sha1=00")], DOC_BODY);
        assert_eq!(
            verify_scheme(SCHEME, &req, DOC_SECRET, 0),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
        );
    }
}
