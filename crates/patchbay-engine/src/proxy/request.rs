//! Shaping the request the proxy sends: the target URL kept under the provider's base URL
//! (no `..`, no encoded slashes), end-to-end headers only (hop-by-hop and credentials dropped),
//! and which methods may be retried.

use crate::error::{EngineError, Result};
use reqwest::header::HeaderMap;
use reqwest::Method;
use url::Url;

const DROPPED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "authorization",
    "cookie",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
];

/// `headers` without hop-by-hop headers, including any the `Connection` header names.
pub fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    let named_by_connection = |n: &str| {
        headers
            .get_all("connection")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(n))
    };
    let mut out = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let n = name.as_str();
        if DROPPED.contains(&n) || n.starts_with("x-patchbay-") || named_by_connection(n) {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}

/// Joins the caller's path to the provider's base URL, refusing any path that could leave it:
/// dot segments (plain or percent-encoded), encoded slashes or backslashes.
pub fn target_url(base: &str, path: &str, query: Option<&str>) -> Result<Url> {
    let root = Url::parse(base.trim_end_matches('/'))
        .map_err(|e| EngineError::BadRequest(format!("invalid base URL: {e}")))?;
    join_under(base, &root, path, query)
}

pub(super) fn join_under(base: &str, root: &Url, path: &str, query: Option<&str>) -> Result<Url> {
    let escape =
        || EngineError::BadRequest("the proxy path may not leave the provider's base URL".into());
    if !path.split('/').all(safe_segment) {
        return Err(escape());
    }
    let base = base.trim_end_matches('/');
    let mut text = format!(
        "{base}{}",
        if path.is_empty() || path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        }
    );
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        text.push('?');
        text.push_str(q);
    }
    let url = Url::parse(&text)
        .map_err(|e| EngineError::BadRequest(format!("invalid proxy path: {e}")))?;
    let inside = url.scheme() == root.scheme()
        && url.host_str() == root.host_str()
        && url.port_or_known_default() == root.port_or_known_default()
        && (url.path() == root.path()
            || url
                .path()
                .starts_with(&format!("{}/", root.path().trim_end_matches('/'))));
    if !inside {
        return Err(escape());
    }
    Ok(url)
}

/// Whether a path segment, percent-decoded, is neither a dot segment nor one that hides a
/// slash or backslash. Malformed escapes are refused too. Decodes without allocating: every
/// proxied request checks every segment.
pub(super) fn safe_segment(segment: &str) -> bool {
    let bytes = segment.as_bytes();
    let (mut i, mut len, mut dots) = (0, 0, 0);
    while i < bytes.len() {
        let b = if bytes[i] == b'%' {
            let Some(b) = segment
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            else {
                return false;
            };
            i += 3;
            b
        } else {
            i += 1;
            bytes[i - 1]
        };
        if b == b'/' || b == b'\\' {
            return false;
        }
        len += 1;
        dots += usize::from(b == b'.');
    }
    !((len == 1 || len == 2) && dots == len)
}

pub(super) fn idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    const BASE: &str = "https://api.example.com/v3";

    #[test]
    fn paths_stay_under_the_base_url() {
        let ok = target_url(BASE, "/repos/o/r/issues", Some("state=open")).unwrap();
        assert_eq!(
            ok.as_str(),
            "https://api.example.com/v3/repos/o/r/issues?state=open"
        );
        assert_eq!(
            target_url(BASE, "", None).unwrap().as_str(),
            "https://api.example.com/v3"
        );
        assert_eq!(
            target_url("http://h:8080/", "/x", None).unwrap().as_str(),
            "http://h:8080/x"
        );
        for bad in [
            "/../admin",
            "/repos/../../etc",
            "/%2e%2e/admin",
            "/%2E%2e/admin",
            "/a/%2f/b",
            "/a%5c..%5cb",
            "/./x",
            "/%zz",
        ] {
            assert!(target_url(BASE, bad, None).is_err(), "{bad}");
        }
        // A path never becomes userinfo or another host: it is always joined after a '/'.
        let url = target_url("https://api.example.com", "@evil.example/x", None).unwrap();
        assert_eq!(url.host_str(), Some("api.example.com"));
        assert_eq!(url.path(), "/@evil.example/x");
    }

    #[test]
    fn hop_by_hop_and_credentials_are_dropped() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("authorization", "Bearer pbk_secret"),
            ("connection", "keep-alive, x-custom-hop"),
            ("x-custom-hop", "1"),
            ("transfer-encoding", "chunked"),
            ("host", "patchbay.local"),
            ("x-patchbay-trace", "t"),
            ("accept", "application/vnd.github+json"),
            ("x-github-api-version", "2022-11-28"),
            ("content-type", "application/json"),
        ] {
            h.append(k, HeaderValue::from_static(v));
        }
        let kept = end_to_end(&h);
        let mut names: Vec<&str> = kept.keys().map(|k| k.as_str()).collect();
        names.sort();
        assert_eq!(names, ["accept", "content-type", "x-github-api-version"]);
    }
}
