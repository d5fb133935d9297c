//! What a provider may look like: its id, base URL, models and extra headers. Each check
//! returns field errors, so one answer names every problem.

use crate::text::check_text;
use patchbay_connectors::http::ALLOW_PRIVATE_ENV;
use patchbay_connectors::NetworkPolicy;
use patchbay_core::{FieldError, Secret};
use reqwest::header::{HeaderName, HeaderValue};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use url::{Host, Url};

/// Providers patchbay knows by itself; a custom one may not take their names.
pub const BUILT_IN: [&str; 4] = ["anthropic", "openai", "google", "parallel"];

pub const MAX_MODELS: usize = 500;
const MAX_MODEL_CHARS: usize = 200;
const MAX_HEADERS: usize = 20;
const MAX_HEADER_VALUE: usize = 4096;
pub const MAX_KEY_CHARS: usize = 4096;

/// Headers patchbay sets itself, or that change how the request travels: an extra header
/// may not replace them (the key goes in `api_key`).
const RESERVED_HEADERS: [&str; 12] = [
    "authorization",
    "proxy-authorization",
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "expect",
];

/// Whether `id` is a well-formed provider id (lower-case letters, digits and inner hyphens,
/// 1 to 63 characters). Well-formed ids may still be built-in names.
pub fn is_well_formed(id: &str) -> bool {
    (1..=63).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-')
}

pub fn check_id(id: &str) -> Option<FieldError> {
    if !is_well_formed(id) {
        return Some(FieldError::new(
            "id",
            "format",
            "id must be 1 to 63 lower-case letters, digits and hyphens, not starting or ending with a hyphen",
        ));
    }
    BUILT_IN.contains(&id).then(|| {
        FieldError::new(
            "id",
            "reserved",
            format!(
                "'{id}' is a built-in provider; built-in names are {}",
                BUILT_IN.join(", ")
            ),
        )
    })
}

pub fn check_name(name: &str) -> Option<FieldError> {
    check_text("name", name, 200)
}

/// The base URL, normalised without a trailing slash. `https` is required unless the
/// operator allows private networks (then `http` is accepted too, for in-house servers); an
/// address the outbound policy refuses is refused here already.
pub fn check_base_url(raw: &str, policy: &NetworkPolicy) -> Result<String, FieldError> {
    let err = |code: &str, message: String| FieldError::new("base_url", code, message);
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 2000 {
        return Err(err(
            "length",
            "base_url must be 1 to 2000 characters".into(),
        ));
    }
    let url = Url::parse(raw).map_err(|e| {
        err(
            "format",
            format!("base_url is not a URL ({e}); expected such as https://llm.example.com/v1"),
        )
    })?;
    let private_allowed = *policy != NetworkPolicy::DenyPrivate;
    match url.scheme() {
        "https" => {}
        "http" if private_allowed => {}
        "http" => {
            return Err(err(
                "https_required",
                format!(
                    "base_url must use https; plain http is accepted only when {ALLOW_PRIVATE_ENV} allows private networks"
                ),
            ))
        }
        other => {
            return Err(err(
                "scheme",
                format!("base_url must be an https URL, not {other}:"),
            ))
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(err(
            "credentials",
            "base_url must not carry a user name or password; use api_key or extra_headers".into(),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(err(
            "format",
            "base_url must not have a query or a fragment".into(),
        ));
    }
    let ip: Option<IpAddr> = match url.host() {
        Some(Host::Ipv4(v4)) => Some(v4.into()),
        Some(Host::Ipv6(v6)) => Some(v6.into()),
        // `localhost` names loopback whatever DNS says.
        Some(Host::Domain(d)) if d == "localhost" || d.ends_with(".localhost") => {
            Some(Ipv4Addr::LOCALHOST.into())
        }
        Some(Host::Domain(_)) => None,
        None => return Err(err("format", "base_url has no host".into())),
    };
    if let Some(ip) = ip {
        policy
            .check(ip)
            .map_err(|refused| err("private_address", format!("base_url: {refused}")))?;
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// Model ids as listed: trimmed, each 1 to 200 characters without control characters, no
/// duplicates, at most [`MAX_MODELS`].
pub fn check_models(models: &[String], errors: &mut Vec<FieldError>) -> Vec<String> {
    if models.len() > MAX_MODELS {
        errors.push(FieldError::new(
            "models",
            "too_many",
            format!("at most {MAX_MODELS} models"),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, m) in models.iter().enumerate() {
        let m = m.trim();
        if let Some(e) = check_text(&format!("models[{i}]"), m, MAX_MODEL_CHARS) {
            errors.push(e);
        } else if m.chars().any(char::is_control) {
            errors.push(FieldError::new(
                format!("models[{i}]"),
                "control_characters",
                "model ids must not contain control characters",
            ));
        } else if out.iter().any(|o| o == m) {
            errors.push(FieldError::new(
                format!("models[{i}]"),
                "duplicate",
                format!("'{m}' is listed twice"),
            ));
        } else {
            out.push(m.to_string());
        }
    }
    out
}

/// Extra headers sent with every call: valid HTTP names and values, none of the reserved
/// ones, names compared without case. Values are treated as secrets (they often carry
/// credentials, such as `api-key` or an organisation token), so they are never quoted back.
pub fn check_headers(
    headers: &BTreeMap<String, Secret>,
    errors: &mut Vec<FieldError>,
) -> BTreeMap<String, Secret> {
    if headers.len() > MAX_HEADERS {
        errors.push(FieldError::new(
            "extra_headers",
            "too_many",
            format!("at most {MAX_HEADERS} extra headers"),
        ));
    }
    let mut out = BTreeMap::new();
    for (name, value) in headers {
        let field = format!("extra_headers.{name}");
        let Ok(parsed) = HeaderName::from_bytes(name.trim().as_bytes()) else {
            errors.push(FieldError::new(
                field,
                "invalid_name",
                "not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~)",
            ));
            continue;
        };
        if RESERVED_HEADERS.contains(&parsed.as_str()) {
            errors.push(FieldError::new(
                field,
                "reserved",
                format!(
                    "{} is set by patchbay and cannot be an extra header; put the key in api_key",
                    parsed.as_str()
                ),
            ));
            continue;
        }
        let v = value.expose().trim();
        if v.is_empty()
            || v.len() > MAX_HEADER_VALUE
            || HeaderValue::from_str(v).is_err()
            || v.chars().any(char::is_control)
        {
            errors.push(FieldError::new(
                field,
                "invalid_value",
                format!("the value must be 1 to {MAX_HEADER_VALUE} visible characters"),
            ));
            continue;
        }
        if out
            .insert(parsed.as_str().to_string(), Secret::new(v))
            .is_some()
        {
            errors.push(FieldError::new(
                field,
                "duplicate",
                "the same header is named twice (names ignore case)",
            ));
        }
    }
    out
}

/// An API key: 1 to 4096 visible characters without spaces (it goes in a header).
pub fn check_api_key(key: &Secret) -> Option<FieldError> {
    let k = key.expose();
    let ok = !k.is_empty() && k.len() <= MAX_KEY_CHARS && k.chars().all(|c| c.is_ascii_graphic());
    (!ok).then(|| {
        FieldError::new(
            "api_key",
            "format",
            format!("api_key must be 1 to {MAX_KEY_CHARS} visible ASCII characters without spaces"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for ok in ["a", "my-llm", "vllm-01", &"a".repeat(63)] {
            assert!(check_id(ok).is_none(), "{ok}");
        }
        for (bad, code) in [
            ("", "format"),
            (&"a".repeat(64) as &str, "format"),
            ("My-LLM", "format"),
            ("my_llm", "format"),
            ("-x", "format"),
            ("x-", "format"),
            ("openai", "reserved"),
            ("anthropic", "reserved"),
        ] {
            assert_eq!(check_id(bad).map(|e| e.code), Some(code.into()), "{bad}");
        }
    }

    #[test]
    fn base_urls() {
        let deny = NetworkPolicy::DenyPrivate;
        let allow = NetworkPolicy::AllowAll;
        assert_eq!(
            check_base_url(" https://llm.example.com/v1/ ", &deny).unwrap(),
            "https://llm.example.com/v1"
        );
        let code = |u: &str, p: &NetworkPolicy| check_base_url(u, p).unwrap_err().code;
        assert_eq!(code("http://llm.example.com/v1", &deny), "https_required");
        assert_eq!(code("https://127.0.0.1:8187/v1", &deny), "private_address");
        assert_eq!(code("https://localhost/v1", &deny), "private_address");
        assert_eq!(code("https://u:p@llm.example.com", &deny), "credentials");
        assert_eq!(code("ftp://llm.example.com", &deny), "scheme");
        assert_eq!(code("not a url", &deny), "format");
        assert!(check_base_url("http://127.0.0.1:8187/v1", &allow).is_ok());
    }

    #[test]
    fn headers() {
        let mut errors = Vec::new();
        let h = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), Secret::new(*v)))
                .collect::<BTreeMap<_, _>>()
        };
        let ok = check_headers(&h(&[("OpenAI-Organization", "org-1")]), &mut errors);
        assert!(errors.is_empty());
        assert!(ok.contains_key("openai-organization"));
        check_headers(
            &h(&[("Authorization", "x"), ("bad name", "x"), ("X-A", "a\nb")]),
            &mut errors,
        );
        let codes: Vec<_> = errors.iter().map(|e| e.code.as_str()).collect();
        // In name order: upper case sorts first.
        assert_eq!(codes, ["reserved", "invalid_value", "invalid_name"]);
    }
}
