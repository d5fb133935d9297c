//! Checks for the short text the API stores and shows again: names, ids, owner fields,
//! descriptions. Control characters are refused: they break logs, pages and CSV exports, and
//! no name needs them.

use patchbay_core::FieldError;

/// `None` when `value` is 1 to `max_chars` characters, not only spaces, without control
/// characters; otherwise the field error to answer with.
pub fn check_text(field: &str, value: &str, max_chars: usize) -> Option<FieldError> {
    if value.trim().is_empty() || value.chars().count() > max_chars {
        return Some(FieldError::new(
            field,
            "length",
            format!("{field} must be 1 to {max_chars} characters"),
        ));
    }
    check_no_control(field, value)
}

/// `None` unless `value` holds a control character (NUL, newline, escape, …).
pub fn check_no_control(field: &str, value: &str) -> Option<FieldError> {
    value.chars().any(char::is_control).then(|| {
        FieldError::new(
            field,
            "control_characters",
            format!("{field} must not contain control characters"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_control_characters_empty_and_long_text() {
        assert!(check_text("name", "Acme Events", 200).is_none());
        assert!(check_text("name", "Zoë – 東京", 200).is_none());
        for bad in [
            "",
            "   ",
            "a\0b",
            "line\nbreak",
            "tab\there",
            "esc\u{1b}[31m",
            "del\u{7f}",
        ] {
            assert!(
                check_text("name", bad, 200).is_some(),
                "{bad:?} was accepted"
            );
        }
        assert!(check_text("name", &"x".repeat(201), 200).is_some());
        assert!(check_text("name", &"é".repeat(200), 200).is_none());
    }
}
