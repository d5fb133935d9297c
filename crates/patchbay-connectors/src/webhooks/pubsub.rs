//! Google Cloud Pub/Sub push: the push request carries `Authorization: Bearer <JWT>`, an OIDC
//! token Google signs with RS256. It is checked against the issuer's published keys (JWKS), the
//! audience the subscription was given, the issuer, the expiry and, when configured, the
//! service account the subscription pushes as. The body is not signed; the token is what proves
//! the request came through the subscription.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use patchbay_core::WebhookRequest;
use serde::Deserialize;

use super::VerifyError;

/// Seconds of clock difference allowed on `exp`, `iat` and `nbf`.
const LEEWAY_SECS: u64 = 60;

/// What a push token must say.
#[derive(Debug, Clone)]
pub struct PushExpectation<'a> {
    /// The subscription's `oidcToken.audience` (by default its push endpoint).
    pub audience: &'a str,
    /// Accepted `iss` values.
    pub issuers: &'a [String],
    /// The service account the subscription pushes as, when the connection names one.
    pub email: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
struct Claims {
    email: Option<String>,
    email_verified: Option<bool>,
}

/// The bearer token of a push request.
pub fn bearer_token(req: &WebhookRequest) -> Result<&str, VerifyError> {
    let value = req
        .header("authorization")
        .ok_or(VerifyError::MissingHeader("Authorization"))?;
    let (kind, token) = value
        .split_once(' ')
        .ok_or(VerifyError::Malformed("Authorization"))?;
    if !kind.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(VerifyError::Malformed("Authorization"));
    }
    Ok(token.trim())
}

/// The key id a token names in its header, to tell a rotated key (fetch the JWKS again) from a
/// forged one.
pub fn token_key_id(token: &str) -> Result<String, VerifyError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed("token"))?;
    if header.alg != Algorithm::RS256 {
        return Err(VerifyError::Malformed("token algorithm"));
    }
    header.kid.ok_or(VerifyError::Malformed("token key id"))
}

/// Verifies the push token of `req` with `keys`, against the system clock.
pub fn verify_push(
    req: &WebhookRequest,
    keys: &JwkSet,
    expect: &PushExpectation<'_>,
) -> Result<(), VerifyError> {
    let token = bearer_token(req)?;
    let kid = token_key_id(token)?;
    let jwk = keys.find(&kid).ok_or(VerifyError::UnknownKey)?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| VerifyError::UnknownKey)?;
    if expect.issuers.is_empty() || expect.audience.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = LEEWAY_SECS;
    validation.set_audience(&[expect.audience]);
    validation.set_issuer(expect.issuers);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud"]);
    let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind as K;
        match e.kind() {
            K::InvalidSignature => VerifyError::BadSignature,
            K::ExpiredSignature | K::ImmatureSignature => VerifyError::Stale,
            K::InvalidAudience => VerifyError::Claim("aud"),
            K::InvalidIssuer => VerifyError::Claim("iss"),
            K::MissingRequiredClaim(_) => VerifyError::Claim("exp, iat, iss and aud"),
            _ => VerifyError::Malformed("token"),
        }
    })?;
    if let Some(email) = expect.email.filter(|e| !e.is_empty()) {
        let claims = &data.claims;
        if claims.email.as_deref() != Some(email) || claims.email_verified != Some(true) {
            return Err(VerifyError::Claim("email"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::{json, Value};

    // The Gmail emulator's signing key and its public half.
    const PEM: &str = include_str!("../../../patchbay-emulators/src/gmail/push_signing_key.pem");

    fn keys(kid: &str) -> JwkSet {
        serde_json::from_value(json!({"keys": [{
            "kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
            "n": patchbay_emulators::gmail::PUSH_KEY_N, "e": "AQAB"
        }]}))
        .unwrap()
    }

    fn sign(kid: &str, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.into());
        encode(
            &header,
            claims,
            &EncodingKey::from_rsa_pem(PEM.as_bytes()).unwrap(),
        )
        .unwrap()
    }

    fn claims(now: i64) -> Value {
        json!({"iss": "https://accounts.google.com", "aud": "https://hub.example/v1/webhooks/google-mail/c1",
            "email": "push@proj.iam.gserviceaccount.com", "email_verified": true,
            "iat": now, "exp": now + 3600, "sub": "1"})
    }

    fn with_token(token: &str) -> WebhookRequest {
        WebhookRequest {
            headers: [("authorization".to_string(), format!("Bearer {token}"))].into(),
            body: b"{}".to_vec(),
        }
    }

    fn check(token: &str, keys: &JwkSet, email: Option<&str>) -> Result<(), VerifyError> {
        let issuers = vec![
            "https://accounts.google.com".to_string(),
            "accounts.google.com".to_string(),
        ];
        let expect = PushExpectation {
            audience: "https://hub.example/v1/webhooks/google-mail/c1",
            issuers: &issuers,
            email,
        };
        verify_push(&with_token(token), keys, &expect)
    }

    #[test]
    fn push_tokens_are_checked_claim_by_claim() {
        let now = patchbay_core::now_ms() / 1000;
        let keys = keys("k1");
        let good = sign("k1", &claims(now));
        assert_eq!(check(&good, &keys, None), Ok(()));
        assert_eq!(
            check(&good, &keys, Some("push@proj.iam.gserviceaccount.com")),
            Ok(())
        );
        assert_eq!(
            check(&good, &keys, Some("other@proj.iam.gserviceaccount.com")),
            Err(VerifyError::Claim("email"))
        );
        let mut c = claims(now);
        c["aud"] = json!("https://elsewhere.example/push");
        assert_eq!(
            check(&sign("k1", &c), &keys, None),
            Err(VerifyError::Claim("aud"))
        );
        let mut c = claims(now);
        c["iss"] = json!("https://evil.example");
        assert_eq!(
            check(&sign("k1", &c), &keys, None),
            Err(VerifyError::Claim("iss"))
        );
        let mut c = claims(now - 7200);
        c["exp"] = json!(now - 3600);
        assert_eq!(check(&sign("k1", &c), &keys, None), Err(VerifyError::Stale));
        // A key the JWKS does not list, and a token whose signature was tampered with.
        assert_eq!(
            check(&sign("k2", &claims(now)), &keys, None),
            Err(VerifyError::UnknownKey)
        );
        let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
        let mut other = claims(now);
        other["email"] = json!("mallory@proj.iam.gserviceaccount.com");
        parts[1] = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            other.to_string(),
        );
        assert_eq!(
            check(&parts.join("."), &keys, None),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn requests_without_a_bearer_token_are_refused() {
        let keys = keys("k1");
        let bare = WebhookRequest {
            headers: Default::default(),
            body: b"{}".to_vec(),
        };
        let issuers = vec!["https://accounts.google.com".to_string()];
        let expect = PushExpectation {
            audience: "a",
            issuers: &issuers,
            email: None,
        };
        assert_eq!(
            verify_push(&bare, &keys, &expect),
            Err(VerifyError::MissingHeader("Authorization"))
        );
        let basic = WebhookRequest {
            headers: [(
                "Authorization".to_string(),
                "Basic dXNlcjpwYXNz".to_string(),
            )]
            .into(),
            body: b"{}".to_vec(),
        };
        assert_eq!(
            verify_push(&basic, &keys, &expect),
            Err(VerifyError::Malformed("Authorization"))
        );
        assert_eq!(
            verify_push(&with_token("not.a.jwt"), &keys, &expect),
            Err(VerifyError::Malformed("token"))
        );
    }
}
