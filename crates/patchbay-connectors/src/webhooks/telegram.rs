//! Telegram Bot API: the `secret_token` given to `setWebhook` comes back in
//! `X-Telegram-Bot-Api-Secret-Token` on every update.

use patchbay_core::WebhookRequest;

use super::{ct_eq, required, VerifyError};

pub(super) const SECRET_HEADER: &str = "X-Telegram-Bot-Api-Secret-Token";

pub(super) fn verify(req: &WebhookRequest, secret: &str) -> Result<(), VerifyError> {
    let given = required(req, SECRET_HEADER)?;
    if ct_eq(given.as_bytes(), secret.as_bytes()) {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

pub(super) fn sign(secret: &str) -> Vec<(String, String)> {
    vec![(SECRET_HEADER.to_string(), secret.to_string())]
}

#[cfg(test)]
mod tests {
    use super::super::{delivery_id, request_with, verify as verify_scheme};
    use super::*;
    use patchbay_core::WebhookScheme;

    const SCHEME: WebhookScheme = WebhookScheme::TelegramSecretToken;
    const UPDATE: &[u8] = br#"{"update_id":10000,"message":{"message_id":1365,"text":"/start"}}"#;

    #[test]
    fn matching_token_passes_and_update_id_is_the_delivery_id() {
        let req = request_with(&[(SECRET_HEADER, "tg_Token-1")], UPDATE);
        assert_eq!(verify_scheme(SCHEME, &req, "tg_Token-1", 0), Ok(()));
        assert_eq!(delivery_id(SCHEME, &req).as_deref(), Some("10000"));
    }

    #[test]
    fn wrong_token_fails() {
        let req = request_with(&[(SECRET_HEADER, "tg_Token-2")], UPDATE);
        assert_eq!(
            verify_scheme(SCHEME, &req, "tg_Token-1", 0),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn missing_header_is_reported_by_name() {
        let req = request_with(&[], UPDATE);
        assert_eq!(
            verify_scheme(SCHEME, &req, "tg_Token-1", 0),
            Err(VerifyError::MissingHeader(SECRET_HEADER))
        );
    }
}
