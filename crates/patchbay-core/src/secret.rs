//! A secret string that cannot be printed or serialized. Its value leaves only through
//! [`Secret::expose`], which makes every use greppable.

use std::collections::BTreeMap;
use std::fmt;
use zeroize::Zeroize;

/// An owned secret value. `Debug` and `Display` print `[redacted]`; there is no `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The raw value, for the one place that must send it somewhere (a request header, a seal).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A display hint such as `••••4f2a`: the last four characters of secrets long enough that
    /// four characters reveal little, nothing at all for short ones.
    pub fn hint(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        if chars.len() >= 16 {
            let tail: String = chars[chars.len() - 4..].iter().collect();
            format!("••••{tail}")
        } else {
            "••••".to_string()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// Named secrets of one connection (`api_key`, `callback_secret`, …).
pub type SecretMap = BTreeMap<String, Secret>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("sk_live_1234567890abcdef");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{s}"), "[redacted]");
        let map: SecretMap = [("api_key".to_string(), s.clone())].into();
        assert!(!format!("{map:?}").contains("sk_live"));
        assert_eq!(s.hint(), "••••cdef");
        assert_eq!(Secret::new("short").hint(), "••••");
    }
}
