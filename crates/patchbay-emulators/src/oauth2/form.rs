//! `application/x-www-form-urlencoded` parameters (RFC 6749 appendix B) for query strings,
//! request bodies and HTTP Basic client credentials.

use std::collections::BTreeMap;

/// Decoded name/value pairs in the order they were sent.
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// `None` when a percent escape or the decoded UTF-8 is malformed.
    pub fn parse(input: &str) -> Option<Params> {
        input
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                Some((decode(k)?, decode(v)?))
            })
            .collect::<Option<Vec<_>>>()
            .map(Params)
    }

    /// The value of `name`; an empty value counts as omitted (RFC 6749 3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Whether `name` appears more than once.
    pub fn repeated(&self, name: &str) -> bool {
        self.0.iter().filter(|(k, _)| k == name).count() > 1
    }

    /// The first parameter sent more than once; RFC 6749 3.1 forbids repeats.
    pub fn first_repeated(&self) -> Option<&str> {
        self.0
            .iter()
            .map(|(k, _)| k.as_str())
            .find(|k| self.repeated(k))
    }

    /// Every parameter; for a repeated name the first value.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        for (k, v) in &self.0 {
            map.entry(k.clone()).or_insert_with(|| v.clone());
        }
        map
    }
}

pub fn decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = hex(bytes.next()?)?;
                let lo = hex(bytes.next()?)?;
                out.push(hi << 4 | lo);
            }
            b => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `uri` with `params` added to its query, keeping any query it already has.
pub fn append_query(uri: &str, params: &[(&str, &str)]) -> String {
    let mut out = uri.to_string();
    for (i, (k, v)) in params.iter().enumerate() {
        if i == 0 && !uri.contains('?') {
            out.push('?');
        } else if !out.ends_with(['?', '&']) {
            out.push('&');
        }
        out.push_str(&format!("{}={}", encode(k), encode(v)));
    }
    out
}

/// Credentials from an `Authorization: Basic` value: base64 of the form-encoded id and
/// secret joined by `:` (RFC 6749 2.3.1). `None` when the value is malformed.
pub fn basic_credentials(value: &str) -> Option<(String, String)> {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = raw.split_once(':')?;
    Some((decode(id)?, decode(secret)?))
}
