//! Pieces the built-in connectors share: base-URL rules, shared-secret callback checks,
//! pagination and checkpoint helpers, and input checks.

use patchbay_core::{
    ConnectorContext, ConnectorError, FieldError, Secret, SecretMap, WebhookRequest,
};
use reqwest::header::HeaderValue;
use serde_json::Value;
use subtle::ConstantTimeEq;
use url::{Host, Url};

/// Header carrying the connection's callback secret on inbound callbacks.
pub const SHARED_SECRET_HEADER: &str = "X-Patchbay-Integration-Secret";

/// The https rule for a base URL in `config.<field>`: plain http is accepted only for
/// loopback hosts, where there is no network to eavesdrop on.
pub fn check_base_url(config: &Value, field: &str) -> Option<FieldError> {
    let raw = config.get(field)?.as_str()?;
    let name = format!("config.{field}");
    let url = match Url::parse(raw) {
        Ok(u) if u.has_host() => u,
        _ => {
            return Some(FieldError::new(
                name,
                "format",
                "must be an absolute URL such as https://api.example.com",
            ))
        }
    };
    match url.scheme() {
        "https" => None,
        "http" if is_loopback_host(&url) => None,
        "http" => Some(FieldError::new(
            name,
            "insecure_url",
            "must use https (plain http is accepted only for localhost)",
        )),
        _ => Some(FieldError::new(name, "format", "must be an http(s) URL")),
    }
}

fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A callback secret that equals the API credential would hand the credential to anyone who
/// sees callback traffic; compared in constant time, reported without values.
pub fn check_distinct_secrets(secrets: &SecretMap, credential: &str) -> Option<FieldError> {
    let cred = secrets.get(credential)?;
    let callback = secrets.get("callback_secret")?;
    if cred.is_empty() || !bool::from(cred.expose().as_bytes().ct_eq(callback.expose().as_bytes()))
    {
        return None;
    }
    Some(FieldError::new(
        "secrets.callback_secret",
        "reused_secret",
        format!("must differ from {credential}"),
    ))
}

/// The connection's base URL, checked to be http(s).
pub fn base_url(ctx: &ConnectorContext) -> Result<Url, ConnectorError> {
    let raw = required_config(ctx, "api_base_url")?;
    let url = Url::parse(raw)
        .map_err(|e| ConnectorError::Config(format!("api_base_url is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return Err(ConnectorError::Config(
            "api_base_url must be an http(s) URL".into(),
        ));
    }
    Ok(url)
}

pub fn required_config<'a>(
    ctx: &'a ConnectorContext,
    field: &str,
) -> Result<&'a str, ConnectorError> {
    ctx.config_str(field)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ConnectorError::Config(format!("'{field}' is not set")))
}

/// A provider's API base: the connection's `base_url`, else the catalog entry's
/// `api_base_url`, else `default`; `name` names the provider in errors.
pub fn provider_api_base(
    ctx: &ConnectorContext,
    provider: Option<&crate::providers::Provider>,
    default: &str,
    name: &str,
) -> Result<Url, ConnectorError> {
    let raw = ctx
        .config_str("base_url")
        .filter(|s| !s.is_empty())
        .or_else(|| provider.and_then(|p| p.api_base_url.as_deref()))
        .unwrap_or(default);
    let url = Url::parse(raw)
        .map_err(|e| ConnectorError::Config(format!("the {name} base URL is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return Err(ConnectorError::Config(format!(
            "the {name} base URL must be an http(s) URL"
        )));
    }
    Ok(url)
}

/// `base` with `segments` appended, each percent-encoded, keeping any path prefix of `base`.
pub fn endpoint(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

/// A header value holding a credential, marked so it never appears in debug output.
pub fn credential_header(value: &str) -> Result<HeaderValue, ConnectorError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        ConnectorError::Config("a credential contains characters not allowed in a header".into())
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// Checks the shared-secret header of an inbound callback against `secret_field`.
pub fn verify_shared_secret(
    ctx: &ConnectorContext,
    req: &WebhookRequest,
    secret_field: &str,
) -> Result<(), ConnectorError> {
    let expected: &Secret = ctx.secret(secret_field)?;
    if expected.is_empty() {
        return Err(ConnectorError::Config(format!(
            "secret '{secret_field}' is empty"
        )));
    }
    let given = req.header(SHARED_SECRET_HEADER).ok_or_else(|| {
        ConnectorError::Verification(format!("missing {SHARED_SECRET_HEADER} header"))
    })?;
    if bool::from(given.as_bytes().ct_eq(expected.expose().as_bytes())) {
        Ok(())
    } else {
        Err(ConnectorError::Verification(format!(
            "{SHARED_SECRET_HEADER} does not match the connection's {secret_field}"
        )))
    }
}

/// Parses a callback body as a JSON object.
pub fn callback_json(body: &[u8]) -> Result<Value, ConnectorError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ConnectorError::BadPayload(format!("body is not JSON: {e}")))?;
    if v.is_object() {
        Ok(v)
    } else {
        Err(ConnectorError::BadPayload(
            "body is not a JSON object".into(),
        ))
    }
}

/// A string field of a provider object, or `BadPayload` naming what is missing.
pub fn payload_str<'a>(v: &'a Value, pointer: &str) -> Result<&'a str, ConnectorError> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ConnectorError::BadPayload(format!("missing string at {pointer}")))
}

/// The `id` of a provider object in a list or answer.
pub fn object_id(v: &Value) -> Result<String, ConnectorError> {
    match v.get("id") {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(ConnectorError::BadResponse("an object has no id".into())),
    }
}

/// The array at `field` of a list answer.
pub fn list_items<'a>(v: &'a Value, field: &str) -> Result<&'a Vec<Value>, ConnectorError> {
    v.get(field)
        .and_then(Value::as_array)
        .ok_or_else(|| ConnectorError::BadResponse(format!("list answer has no '{field}' array")))
}

/// The next checkpoint: the latest of `since` and the `field` timestamps of `items`. It never
/// moves back, so keeping the last page's checkpoint at worst re-reads a few records.
pub fn checkpoint(since: Option<&str>, items: &[Value], field: &str) -> Option<String> {
    let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
    let mut best: Option<(chrono::DateTime<chrono::FixedOffset>, String)> =
        since.and_then(|s| parse(s).map(|t| (t, s.to_string())));
    for ts in items
        .iter()
        .filter_map(|i| i.get(field).and_then(Value::as_str))
    {
        if let Some(t) = parse(ts) {
            if best.as_ref().is_none_or(|(b, _)| t > *b) {
                best = Some((t, ts.to_string()));
            }
        }
    }
    best.map(|(_, s)| s)
}

/// Page number from a page cursor; the first page when there is none.
pub fn page_number(cursor: Option<&str>) -> Result<u32, ConnectorError> {
    match cursor {
        None => Ok(1),
        Some(c) => c
            .parse::<u32>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| ConnectorError::Config(format!("invalid page cursor '{c}'"))),
    }
}

/// `Unknown` for an entity the spec does not declare.
pub fn unknown_entity(entity: &str) -> ConnectorError {
    ConnectorError::Unknown {
        kind: "entity",
        key: entity.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn base_url_rule() {
        let ok = |u: &str| check_base_url(&json!({ "u": u }), "u");
        assert!(ok("https://api.example.com").is_none());
        assert!(ok("http://localhost:8080").is_none());
        assert!(ok("http://127.0.0.2").is_none());
        assert!(ok("http://[::1]:9").is_none());
        assert_eq!(ok("http://api.example.com").unwrap().code, "insecure_url");
        assert_eq!(ok("ftp://x.example").unwrap().code, "format");
        assert_eq!(ok("not a url").unwrap().field, "config.u");
    }

    #[test]
    fn endpoint_keeps_prefix_and_encodes() {
        let base = Url::parse("https://h.example/api/?x=1").unwrap();
        assert_eq!(
            endpoint(&base, &["v1", "a b"]).as_str(),
            "https://h.example/api/v1/a%20b"
        );
        let base = Url::parse("http://127.0.0.1:9").unwrap();
        assert_eq!(endpoint(&base, &["v1"]).as_str(), "http://127.0.0.1:9/v1");
    }

    #[test]
    fn checkpoint_never_moves_back() {
        let items = vec![
            json!({"t": "2024-01-01T00:00:02Z"}),
            json!({"t": "2024-01-01T00:00:05Z"}),
        ];
        assert_eq!(
            checkpoint(None, &items, "t").as_deref(),
            Some("2024-01-01T00:00:05Z")
        );
        assert_eq!(
            checkpoint(Some("2025-01-01T00:00:00Z"), &items, "t").as_deref(),
            Some("2025-01-01T00:00:00Z")
        );
        assert_eq!(checkpoint(None, &[], "t"), None);
    }
}
