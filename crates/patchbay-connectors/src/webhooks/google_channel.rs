//! Google push channels (Calendar `events.watch`): every notification echoes the channel's
//! token in `X-Goog-Channel-Token`; the body is empty and the headers say what changed.

use patchbay_core::WebhookRequest;

use super::{ct_eq, required, VerifyError};

pub(super) const TOKEN_HEADER: &str = "X-Goog-Channel-Token";
pub(super) const CHANNEL_HEADER: &str = "X-Goog-Channel-ID";
pub(super) const NUMBER_HEADER: &str = "X-Goog-Message-Number";

pub(super) fn verify(req: &WebhookRequest, secret: &str) -> Result<(), VerifyError> {
    let given = required(req, TOKEN_HEADER)?;
    if ct_eq(given.as_bytes(), secret.as_bytes()) {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

/// A channel numbers its messages, so channel and number identify one.
pub(super) fn delivery_id(req: &WebhookRequest) -> Option<String> {
    let channel = req.header(CHANNEL_HEADER)?.trim();
    let number = req.header(NUMBER_HEADER)?.trim();
    (!channel.is_empty() && !number.is_empty()).then(|| format!("{channel}:{number}"))
}

pub(super) fn sign(secret: &str, id: &str) -> Vec<(String, String)> {
    let (channel, number) = id.split_once(':').unwrap_or((id, "1"));
    vec![
        (TOKEN_HEADER.to_string(), secret.to_string()),
        (CHANNEL_HEADER.to_string(), channel.to_string()),
        (NUMBER_HEADER.to_string(), number.to_string()),
        ("X-Goog-Resource-State".to_string(), "exists".to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::{
        delivery_id as id_of, kept_headers, request_with, sign as sign_as, verify as verify_scheme,
    };
    use patchbay_core::WebhookScheme;

    const SCHEME: WebhookScheme = WebhookScheme::GoogleChannelToken;

    #[test]
    fn the_channel_token_verifies_and_never_is_kept() {
        let headers = sign_as(SCHEME, "tok_0123456789abcdef", b"", 0, "chan-1:7");
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let req = request_with(&pairs, b"");
        assert_eq!(
            verify_scheme(SCHEME, &req, "tok_0123456789abcdef", 0),
            Ok(())
        );
        assert!(verify_scheme(SCHEME, &req, "tok_other_secret_value", 0).is_err());
        assert_eq!(id_of(SCHEME, &req).as_deref(), Some("chan-1:7"));
        let kept = kept_headers(&req);
        assert!(!kept.contains_key("x-goog-channel-token"), "{kept:?}");
        assert_eq!(
            kept.get("x-goog-resource-state").map(String::as_str),
            Some("exists")
        );
        let bare = request_with(&[], b"");
        assert!(verify_scheme(SCHEME, &bare, "tok_0123456789abcdef", 0).is_err());
    }
}
