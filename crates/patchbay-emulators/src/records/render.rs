//! Record JSON written straight into a page buffer. Nothing is stored per record beyond its
//! version and timestamp, so a million records cost a few megabytes, and a page is one
//! pre-sized `String` with no intermediate `serde_json::Value`s.

use std::fmt::Write;

/// Filler text for record bodies: lowercase words only, so it never needs JSON escaping.
const FILLER: &str = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod \
tempor incididunt ut labore et dolore magna aliqua ut enim ad minim veniam quis nostrud \
exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat duis aute irure dolor in \
reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur excepteur sint \
occaecat cupidatat non proident sunt in culpa qui officia deserunt mollit anim id est laborum ";

/// Ids sort in index order while the index has at most this many digits.
pub const ID_DIGITS: usize = 7;

/// `rec_0000042` for index 42.
pub fn record_id(index: usize) -> String {
    format!("rec_{index:0ID_DIGITS$}")
}

/// Appends `t` (Unix milliseconds) as RFC 3339 UTC with milliseconds, the same text as
/// `to_rfc3339_opts(SecondsFormat::Millis, true)`.
pub fn write_time(out: &mut String, millis: i64) {
    use chrono::{Datelike, Timelike};
    let t = chrono::DateTime::from_timestamp_millis(millis).unwrap_or_default();
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.timestamp_subsec_millis()
    );
}

/// Appends the JSON of a live record, about `target` bytes long: the body is padded with
/// filler chosen from (index, version), so a changed record reads differently.
pub fn write_record(out: &mut String, index: usize, version: u32, millis: i64, target: usize) {
    let start = out.len();
    let _ = write!(
        out,
        "{{\"id\":\"rec_{index:0ID_DIGITS$}\",\"updated_at\":\""
    );
    write_time(out, millis);
    let _ = write!(
        out,
        "\",\"version\":{version},\"title\":\"Record {index} v{version}\",\"body\":\""
    );
    // Two closing bytes follow the body.
    let mut remaining = target.saturating_sub(out.len() - start + 2);
    let mut offset = (index.wrapping_mul(31) ^ (version as usize).wrapping_mul(17)) % FILLER.len();
    while remaining > 0 {
        let piece = &FILLER[offset..FILLER.len().min(offset + remaining)];
        out.push_str(piece);
        remaining -= piece.len();
        offset = 0;
    }
    out.push_str("\"}");
}

/// Appends the tombstone an incremental listing shows for a deleted record.
pub fn write_tombstone(out: &mut String, index: usize, millis: i64) {
    let _ = write!(
        out,
        "{{\"id\":\"rec_{index:0ID_DIGITS$}\",\"updated_at\":\""
    );
    write_time(out, millis);
    out.push_str("\",\"deleted\":true}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_valid_json_of_the_requested_size() {
        for target in [0, 50, 200, 1024, 4000] {
            let mut out = String::new();
            write_record(&mut out, 42, 3, 1_704_067_200_123, target);
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(v["id"], "rec_0000042");
            assert_eq!(v["updated_at"], "2024-01-01T00:00:00.123Z");
            assert_eq!(v["version"], 3);
            if target >= 200 {
                assert_eq!(out.len(), target);
            }
        }
        let mut a = String::new();
        let mut b = String::new();
        write_record(&mut a, 7, 1, 0, 300);
        write_record(&mut b, 7, 2, 0, 300);
        assert_ne!(a.replace("v1", ""), b.replace("v2", ""));
    }

    #[test]
    fn time_text_matches_chrono() {
        let millis = 1_735_689_599_999;
        let mut out = String::new();
        write_time(&mut out, millis);
        let t = chrono::DateTime::from_timestamp_millis(millis).unwrap();
        assert_eq!(out, crate::rfc3339(t));
    }
}
