//! CSRF tokens. Signed-in forms carry the session's token, checked against the session.
//! The sign-in form has no session yet, so it uses a double-submit token: the same random
//! value in an HttpOnly `SameSite=Strict` cookie and in a hidden field; another site can
//! neither read the cookie nor make the browser send it.

use rand::RngCore;
use subtle::ConstantTimeEq;

/// Name of the pre-session cookie of the sign-in form.
pub const COOKIE: &str = "pb_ui_csrf";

/// A fresh random token: 32 bytes, hex.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `token` is shaped like one of ours (so a cookie cannot inject into the page).
pub fn well_formed(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Compares in constant time; an empty token never matches.
pub fn matches(expected: &str, given: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_compared_exactly() {
        let a = new_token();
        assert!(well_formed(&a));
        assert_ne!(a, new_token());
        assert!(matches(&a, &a.clone()));
        assert!(!matches(&a, &a[1..]));
        assert!(!matches("", ""));
    }
}
