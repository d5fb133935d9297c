//! Due dates in a sentence, read relative to the message's date in its own offset: weekdays
//! ("by Friday", "this Thursday", "next Monday"), "today", "tonight", "EOD", "end of (the)
//! week", "tomorrow", "in two days", "the 15th", month-day forms ("5 Dec", "December 12")
//! and ISO dates. Ambiguous numeric forms (12/10) are not read.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

const WEEKDAYS: &[(&str, Weekday)] = &[
    ("monday", Weekday::Mon),
    ("tuesday", Weekday::Tue),
    ("wednesday", Weekday::Wed),
    ("thursday", Weekday::Thu),
    ("friday", Weekday::Fri),
    ("saturday", Weekday::Sat),
    ("sunday", Weekday::Sun),
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("tues", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("thur", Weekday::Thu),
    ("thurs", Weekday::Thu),
    ("fri", Weekday::Fri),
];

const MONTHS: &[&str] = &[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

const NUMBERS: &[(&str, i64)] = &[
    ("one", 1),
    ("two", 2),
    ("three", 3),
    ("four", 4),
    ("five", 5),
    ("a couple of", 2),
    ("a few", 3),
];

fn month_of(word: &str) -> Option<u32> {
    let w = word.trim_end_matches('.');
    if w.len() < 3 || w.starts_with("mayb") {
        return None;
    }
    let i = MONTHS.iter().position(|m| w.starts_with(m))?;
    // "march" is a month, "marching" is not; "sept" is September.
    let full = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ][i];
    (full.starts_with(w) || w == "sept").then_some(i as u32 + 1)
}

fn day_number(word: &str) -> Option<u32> {
    let w = word
        .trim_end_matches(['.', ','])
        .trim_end_matches("st")
        .trim_end_matches("nd")
        .trim_end_matches("rd")
        .trim_end_matches("th");
    w.parse::<u32>().ok().filter(|d| (1..=31).contains(d))
}

/// The first day on or after `from` that is `month`/`day`.
fn next_month_day(from: NaiveDate, month: u32, day: u32) -> Option<NaiveDate> {
    let this = NaiveDate::from_ymd_opt(from.year(), month, day)?;
    if this >= from {
        Some(this)
    } else {
        NaiveDate::from_ymd_opt(from.year() + 1, month, day)
    }
}

/// The next `wd` strictly after `from`.
fn next_weekday(from: NaiveDate, wd: Weekday) -> NaiveDate {
    let ahead = (wd.num_days_from_monday() as i64 - from.weekday().num_days_from_monday() as i64)
        .rem_euclid(7);
    from + Duration::days(if ahead == 0 { 7 } else { ahead })
}

fn words(sentence: &str) -> Vec<String> {
    sentence
        .to_lowercase()
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '(' | ')' | '?' | '!'))
        .map(|w| w.trim_matches(['.', '"', '\'', ':']).to_string())
        .filter(|w| !w.is_empty())
        .collect()
}

/// The date a sentence names as a deadline, relative to `today` (the message's date).
pub fn due_date(sentence: &str, today: NaiveDate) -> Option<NaiveDate> {
    let lower = sentence.to_lowercase();
    let w = words(sentence);
    // ISO dates first: they are unambiguous.
    for word in &w {
        if let Ok(d) = NaiveDate::parse_from_str(word, "%Y-%m-%d") {
            return Some(d);
        }
    }
    if [
        "end of day",
        "eod",
        "end of the day",
        "today",
        "tonight",
        "this evening",
        "cob",
        "close of business",
    ]
    .iter()
    .any(|p| contains_phrase(&lower, p))
    {
        return Some(today);
    }
    if contains_phrase(&lower, "tomorrow") {
        return Some(today + Duration::days(1));
    }
    if ["end of week", "end of the week", "eow"]
        .iter()
        .any(|p| contains_phrase(&lower, p))
    {
        let to_friday = 4 - today.weekday().num_days_from_monday() as i64;
        return Some(today + Duration::days(to_friday.max(0)));
    }
    for i in 0..w.len() {
        let word = w[i].as_str();
        // "in two days", "in 3 days"
        if word == "in" {
            let rest = w[i + 1..].join(" ");
            for (name, n) in NUMBERS {
                if rest.starts_with(&format!("{name} day")) {
                    return Some(today + Duration::days(*n));
                }
            }
            if let (Some(n), Some(unit)) = (w.get(i + 1), w.get(i + 2)) {
                if let (Ok(n), true) = (n.parse::<i64>(), unit.starts_with("day")) {
                    return Some(today + Duration::days(n));
                }
            }
        }
        if let Some((_, wd)) = WEEKDAYS.iter().find(|(n, _)| *n == word) {
            let prev = if i > 0 { w[i - 1].as_str() } else { "" };
            return Some(match prev {
                "next" => {
                    // The first such day after the coming Sunday.
                    let to_sunday = 6 - today.weekday().num_days_from_monday() as i64;
                    next_weekday(today + Duration::days(to_sunday), *wd)
                }
                "this" if today.weekday() == *wd => today,
                _ => next_weekday(today, *wd),
            });
        }
        if let Some(month) = month_of(word) {
            // "December 12" or "12 December" / "5 Dec"
            let day = w
                .get(i + 1)
                .and_then(|n| day_number(n))
                .or_else(|| (i > 0).then(|| day_number(&w[i - 1])).flatten());
            if let Some(day) = day {
                return next_month_day(today, month, day);
            }
        }
        // "by the 15th" (not "the 2nd floor")
        let deadline_word =
            i > 0 && ["by", "on", "before", "until", "till", "for"].contains(&w[i - 1].as_str());
        if word == "the" && deadline_word {
            if let Some(next) = w.get(i + 1) {
                let ordinal = ["st", "nd", "rd", "th"].iter().any(|s| next.ends_with(s));
                let noun = w.get(i + 2).is_some_and(|n| {
                    [
                        "floor", "time", "row", "place", "edition", "round", "quarter", "century",
                    ]
                    .contains(&n.as_str())
                });
                if let (true, false, Some(day)) = (ordinal, noun, day_number(next)) {
                    let mut d = NaiveDate::from_ymd_opt(today.year(), today.month(), day);
                    if d.is_none_or(|d| d < today) {
                        let (y, m) = if today.month() == 12 {
                            (today.year() + 1, 1)
                        } else {
                            (today.year(), today.month() + 1)
                        };
                        d = NaiveDate::from_ymd_opt(y, m, day);
                    }
                    return d;
                }
            }
        }
    }
    None
}

/// `phrase` as whole words in `text`.
fn contains_phrase(text: &str, phrase: &str) -> bool {
    text.match_indices(phrase).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + phrase.len()..].chars().next();
        before.is_none_or(|c| !c.is_alphanumeric()) && after.is_none_or(|c| !c.is_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_are_read_relative_to_the_message() {
        // Wednesday 2 December 2026.
        let today = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        let d = |s: &str| due_date(s, today).map(|d| d.to_string());
        assert_eq!(
            d("Could you send it by Friday?").as_deref(),
            Some("2026-12-04")
        );
        assert_eq!(d("by Wednesday please").as_deref(), Some("2026-12-09"));
        assert_eq!(d("this Wednesday").as_deref(), Some("2026-12-02"));
        assert_eq!(d("next Monday works").as_deref(), Some("2026-12-07"));
        assert_eq!(d("by EOD").as_deref(), Some("2026-12-02"));
        assert_eq!(d("by end of week").as_deref(), Some("2026-12-04"));
        assert_eq!(d("tomorrow morning").as_deref(), Some("2026-12-03"));
        assert_eq!(d("in two days").as_deref(), Some("2026-12-04"));
        assert_eq!(d("before 5 Dec").as_deref(), Some("2026-12-05"));
        assert_eq!(d("by December 12").as_deref(), Some("2026-12-12"));
        assert_eq!(d("by 1 March").as_deref(), Some("2027-03-01"));
        assert_eq!(d("by the 15th").as_deref(), Some("2026-12-15"));
        assert_eq!(d("by the 1st").as_deref(), Some("2027-01-01"));
        assert_eq!(d("confirm by 2026-12-10").as_deref(), Some("2026-12-10"));
        assert_eq!(d("on 12/10"), None);
        assert_eq!(d("no rush"), None);
        assert_eq!(d("may I ask"), None);
    }
}
