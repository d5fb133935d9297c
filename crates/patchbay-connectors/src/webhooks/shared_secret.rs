//! Patchbay's own scheme: `X-Patchbay-Integration-Secret` carries the connection's callback
//! secret as is.

use patchbay_core::WebhookRequest;

use super::{ct_eq, required, VerifyError};

pub(super) const SECRET_HEADER: &str = crate::SHARED_SECRET_HEADER;
pub(super) const DELIVERY_HEADER: &str = "X-Patchbay-Delivery-Id";

pub(super) fn verify(req: &WebhookRequest, secret: &str) -> Result<(), VerifyError> {
    let given = required(req, SECRET_HEADER)?;
    if ct_eq(given.as_bytes(), secret.as_bytes()) {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

pub(super) fn sign(secret: &str, id: &str) -> Vec<(String, String)> {
    vec![
        (SECRET_HEADER.to_string(), secret.to_string()),
        (DELIVERY_HEADER.to_string(), id.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::{request_with, verify as verify_scheme};
    use super::*;
    use patchbay_core::WebhookScheme;

    const SCHEME: WebhookScheme = WebhookScheme::SharedSecretHeader;

    #[test]
    fn matching_secret_passes() {
        let req = request_with(&[("x-patchbay-integration-secret", "cb-secret")], b"{}");
        assert_eq!(verify_scheme(SCHEME, &req, "cb-secret", 0), Ok(()));
    }

    #[test]
    fn different_or_prefix_secret_fails() {
        for given in ["cb-secreT", "cb-secre", "cb-secret ", ""] {
            let req = request_with(&[(SECRET_HEADER, given)], b"{}");
            assert_eq!(
                verify_scheme(SCHEME, &req, "cb-secret", 0),
                Err(VerifyError::BadSignature),
                "{given:?}"
            );
        }
    }

    #[test]
    fn missing_header_is_reported_by_name() {
        let req = request_with(&[("Authorization", "cb-secret")], b"{}");
        assert_eq!(
            verify_scheme(SCHEME, &req, "cb-secret", 0),
            Err(VerifyError::MissingHeader("X-Patchbay-Integration-Secret"))
        );
    }
}
