//! Slack signing secrets (v0): `X-Slack-Signature: v0=<hex HMAC-SHA256(secret,
//! "v0:{timestamp}:{body}")>` with the timestamp from `X-Slack-Request-Timestamp`.

use patchbay_core::WebhookRequest;

use super::{check_fresh, ct_eq, hex_decode, hex_encode, hmac_sha256, required, VerifyError};

pub(super) const TIMESTAMP_HEADER: &str = "X-Slack-Request-Timestamp";
pub(super) const SIGNATURE_HEADER: &str = "X-Slack-Signature";

pub(super) fn verify(req: &WebhookRequest, secret: &str, now: i64) -> Result<(), VerifyError> {
    let timestamp = required(req, TIMESTAMP_HEADER)?;
    let header = required(req, SIGNATURE_HEADER)?;
    check_fresh(timestamp, TIMESTAMP_HEADER, now)?;
    let given = header
        .strip_prefix("v0=")
        .and_then(hex_decode)
        .ok_or(VerifyError::Malformed(SIGNATURE_HEADER))?;
    let expected = mac(secret, timestamp, &req.body);
    if ct_eq(&expected, &given) {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

pub(super) fn sign(secret: &str, body: &[u8], now: i64) -> Vec<(String, String)> {
    let timestamp = now.to_string();
    let mac = mac(secret, &timestamp, body);
    vec![
        (TIMESTAMP_HEADER.to_string(), timestamp),
        (
            SIGNATURE_HEADER.to_string(),
            format!("v0={}", hex_encode(&mac)),
        ),
    ]
}

fn mac(secret: &str, timestamp: &str, body: &[u8]) -> [u8; 32] {
    hmac_sha256(
        secret.as_bytes(),
        &[b"v0:", timestamp.as_bytes(), b":", body],
    )
}

#[cfg(test)]
mod tests {
    use super::super::{delivery_id, request_with, verify as verify_scheme};
    use super::*;
    use patchbay_core::WebhookScheme;

    const SCHEME: WebhookScheme = WebhookScheme::SlackV0;
    // The example in Slack's "Verifying requests from Slack" documentation.
    const DOC_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const DOC_TIMESTAMP: i64 = 1_531_420_618;
    const DOC_BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const DOC_SIGNATURE: &str =
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn doc_request(body: &[u8]) -> WebhookRequest {
        request_with(
            &[
                (TIMESTAMP_HEADER, &DOC_TIMESTAMP.to_string()),
                (SIGNATURE_HEADER, DOC_SIGNATURE),
            ],
            body,
        )
    }

    #[test]
    fn documented_example_verifies() {
        let req = doc_request(DOC_BODY);
        assert_eq!(
            verify_scheme(SCHEME, &req, DOC_SECRET, DOC_TIMESTAMP + 5),
            Ok(())
        );
        // A slash command is form-encoded and carries no event id.
        assert_eq!(delivery_id(SCHEME, &req), None);
    }

    #[test]
    fn sign_reproduces_the_documented_signature() {
        let headers = sign(DOC_SECRET, DOC_BODY, DOC_TIMESTAMP);
        assert!(headers.contains(&(SIGNATURE_HEADER.to_string(), DOC_SIGNATURE.to_string())));
    }

    #[test]
    fn altered_body_or_secret_fails() {
        let mut body = DOC_BODY.to_vec();
        body[0] = b'T';
        assert_eq!(
            verify_scheme(SCHEME, &doc_request(&body), DOC_SECRET, DOC_TIMESTAMP),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify_scheme(
                SCHEME,
                &doc_request(DOC_BODY),
                "8f742231b10e8888abcd99yyyzzz85a6",
                DOC_TIMESTAMP
            ),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn old_and_future_timestamps_are_stale_before_the_mac_is_checked() {
        for now in [
            DOC_TIMESTAMP + 301,
            DOC_TIMESTAMP - 301,
            DOC_TIMESTAMP + 86_400,
        ] {
            // Also with a wrong secret: staleness is reported first.
            for secret in [DOC_SECRET, "wrong"] {
                assert_eq!(
                    verify_scheme(SCHEME, &doc_request(DOC_BODY), secret, now),
                    Err(VerifyError::Stale),
                    "now={now}"
                );
            }
        }
        assert_eq!(
            verify_scheme(
                SCHEME,
                &doc_request(DOC_BODY),
                DOC_SECRET,
                DOC_TIMESTAMP + 300
            ),
            Ok(())
        );
    }

    #[test]
    fn missing_headers_are_reported_by_name() {
        let ts = DOC_TIMESTAMP.to_string();
        let no_signature = request_with(&[(TIMESTAMP_HEADER, &ts)], DOC_BODY);
        assert_eq!(
            verify_scheme(SCHEME, &no_signature, DOC_SECRET, DOC_TIMESTAMP),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
        );
        let no_timestamp = request_with(&[(SIGNATURE_HEADER, DOC_SIGNATURE)], DOC_BODY);
        assert_eq!(
            verify_scheme(SCHEME, &no_timestamp, DOC_SECRET, DOC_TIMESTAMP),
            Err(VerifyError::MissingHeader(TIMESTAMP_HEADER))
        );
    }

    #[test]
    fn malformed_timestamp_or_signature_is_refused() {
        let req = request_with(
            &[
                (TIMESTAMP_HEADER, "yesterday"),
                (SIGNATURE_HEADER, DOC_SIGNATURE),
            ],
            DOC_BODY,
        );
        assert_eq!(
            verify_scheme(SCHEME, &req, DOC_SECRET, DOC_TIMESTAMP),
            Err(VerifyError::Malformed(TIMESTAMP_HEADER))
        );
        let ts = DOC_TIMESTAMP.to_string();
        let v1 = DOC_SIGNATURE.replacen("v0=", "v1=", 1);
        let req = request_with(
            &[(TIMESTAMP_HEADER, &ts), (SIGNATURE_HEADER, &v1)],
            DOC_BODY,
        );
        assert_eq!(
            verify_scheme(SCHEME, &req, DOC_SECRET, DOC_TIMESTAMP),
            Err(VerifyError::Malformed(SIGNATURE_HEADER))
        );
    }

    #[test]
    fn events_api_event_id_is_the_delivery_id() {
        let body = br#"{"token":"x","team_id":"T1","type":"event_callback","event":{"type":"app_mention"},"event_id":"Ev08MFMKH6","event_time":1234567890}"#;
        let mut headers = sign(DOC_SECRET, body, DOC_TIMESTAMP);
        headers.push(("X-Slack-Retry-Num".into(), "1".into()));
        let req = super::super::request(headers, body);
        assert_eq!(
            verify_scheme(SCHEME, &req, DOC_SECRET, DOC_TIMESTAMP),
            Ok(())
        );
        assert_eq!(delivery_id(SCHEME, &req).as_deref(), Some("Ev08MFMKH6"));
    }
}
