//! `events.quickAdd`: an event from a line of English, read well enough for the usual
//! phrasings. Understood, anywhere in the text (case-insensitive):
//!
//! - a day: `today`, `tomorrow`, a weekday (`friday`, `on fri`, `next friday`: the next one
//!   after today), `March 5`, `5 March`, `Mar 5th 2027`, `2027-03-05`;
//! - a time: `12pm`, `12:30 pm`, `15:00`, `noon`, `midnight`, optionally after `at` or
//!   `from`, and a range `10am-11am`, `10-11am`, `from 10am to 11:30am`, `3pm until 5pm`;
//! - a length: `for 30 minutes`, `for 2 hours`, `for an hour`;
//! - a place: `at <words>` that are not a time, up to the next recognised part.
//!
//! Everything else is the summary. Without a time the event is all-day; without a day it
//! is today; without an end or length it lasts an hour. Times are wall-clock in the
//! calendar's zone.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Weekday};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    AllDay(NaiveDate),
    Timed(NaiveDateTime, NaiveDateTime),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub summary: String,
    pub location: Option<String>,
    pub slot: Slot,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

fn clean(token: &str) -> String {
    token
        .trim_matches(|c: char| matches!(c, ',' | '.' | '!' | '?' | ';'))
        .to_lowercase()
}

fn weekday(word: &str) -> Option<Weekday> {
    let days = [
        ("mon", Weekday::Mon),
        ("tue", Weekday::Tue),
        ("wed", Weekday::Wed),
        ("thu", Weekday::Thu),
        ("fri", Weekday::Fri),
        ("sat", Weekday::Sat),
        ("sun", Weekday::Sun),
    ];
    let word = word.trim_end_matches('s');
    days.iter()
        .find(|(prefix, _)| {
            word.starts_with(prefix)
                && (word.len() <= 4 || word.ends_with("day") || word == "tues" || word == "thurs")
        })
        .map(|(_, d)| *d)
}

fn month(word: &str) -> Option<u32> {
    if word.len() < 3 {
        return None;
    }
    let index = MONTHS.iter().position(|m| word.starts_with(m))?;
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
    ];
    full[index].starts_with(word).then_some(index as u32 + 1)
}

fn day_number(word: &str) -> Option<u32> {
    let digits = word.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &word[digits.len()..];
    let n: u32 = digits.parse().ok()?;
    (["", "st", "nd", "rd", "th"].contains(&suffix) && (1..=31).contains(&n)).then_some(n)
}

/// A clock time and whether it named am/pm; `next` may hold a separate `am`/`pm`.
fn clock(word: &str, next: Option<&str>) -> Option<(NaiveTime, bool, usize)> {
    match word {
        "noon" => return Some((NaiveTime::from_hms_opt(12, 0, 0)?, true, 1)),
        "midnight" => return Some((NaiveTime::MIN, true, 1)),
        _ => {}
    }
    let (body, meridiem, used) = if let Some(b) = word.strip_suffix("am") {
        (b, Some(false), 1)
    } else if let Some(b) = word.strip_suffix("pm") {
        (b, Some(true), 1)
    } else if matches!(next, Some("am" | "pm")) {
        (word, Some(next == Some("pm")), 2)
    } else {
        (word, None, 1)
    };
    let (h, m) = match body.split_once(':') {
        Some((h, m)) if m.len() == 2 => (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?),
        None if meridiem.is_some() => (body.parse::<u32>().ok()?, 0),
        _ => return None,
    };
    let h = match meridiem {
        Some(pm) if (1..=12).contains(&h) => h % 12 + if pm { 12 } else { 0 },
        Some(_) => return None,
        None => h,
    };
    Some((NaiveTime::from_hms_opt(h, m, 0)?, meridiem.is_some(), used))
}

#[derive(Default)]
struct Found {
    date: Option<NaiveDate>,
    start: Option<NaiveTime>,
    end: Option<NaiveTime>,
    length: Option<Duration>,
}

/// Reads a recognised part at `words[i..]`; the number of words it took.
fn part(words: &[String], i: usize, today: NaiveDate, found: &mut Found) -> usize {
    let w = |k: usize| words.get(i + k).map(String::as_str);
    let word = w(0).unwrap_or_default();
    let lead = usize::from(matches!(word, "on" | "next" | "this" | "at" | "from" | "@"));
    let first = w(lead).unwrap_or_default();
    if !matches!(word, "at" | "from" | "@") {
        match first {
            "today" | "tonight" if lead == 0 => {
                found.date = Some(today);
                return 1;
            }
            "tomorrow" if lead == 0 => {
                found.date = Some(today + Duration::days(1));
                return 1;
            }
            _ => {}
        }
        if let Some(day) = weekday(first) {
            let ahead = (7 + day.num_days_from_monday() as i64
                - today.weekday().num_days_from_monday() as i64)
                % 7;
            found.date = Some(today + Duration::days(if ahead == 0 { 7 } else { ahead }));
            return lead + 1;
        }
        if let Ok(d) = NaiveDate::parse_from_str(first, "%Y-%m-%d") {
            found.date = Some(d);
            return lead + 1;
        }
        let second = w(lead + 1).unwrap_or_default();
        let (m, d) = match (
            month(first),
            day_number(second),
            day_number(first),
            month(second),
        ) {
            (Some(m), Some(d), _, _) | (_, _, Some(d), Some(m)) => (m, d),
            _ => (0, 0),
        };
        if m > 0 {
            let year_word = w(lead + 2).and_then(|y| y.parse::<i32>().ok());
            let year = year_word.filter(|y| (1900..=9999).contains(y));
            let mut date = NaiveDate::from_ymd_opt(year.unwrap_or(today.year()), m, d);
            if year.is_none() && date.is_some_and(|d| d < today) {
                date = NaiveDate::from_ymd_opt(today.year() + 1, m, d);
            }
            if let Some(date) = date {
                found.date = Some(date);
                return lead + 2 + usize::from(year.is_some());
            }
        }
    }
    if word == "for" {
        let amount = match w(1) {
            Some("an" | "a") => Some(1),
            Some(n) => n.parse::<i64>().ok(),
            None => None,
        };
        let unit = w(2).unwrap_or_default();
        if let Some(n) = amount {
            let length = if unit.starts_with("min") {
                Some(Duration::minutes(n))
            } else if unit.starts_with("hour") || unit.starts_with("hr") || unit == "h" {
                Some(Duration::hours(n))
            } else {
                None
            };
            if let Some(length) = length {
                found.length = Some(length);
                return 3;
            }
        }
    }
    time_range(words, i + lead, found).map_or(0, |used| lead + used)
}

/// `10am`, `10am-11am`, `10-11am`, `10am to 11am`, `3pm until 5pm` at `words[i..]`.
fn time_range(words: &[String], i: usize, found: &mut Found) -> Option<usize> {
    let w = |k: usize| words.get(i + k).map(String::as_str);
    let word = w(0)?;
    if let Some((a, b)) = word
        .split_once('-')
        .filter(|(a, b)| !a.is_empty() && !b.is_empty())
    {
        let (end, end_meridiem, used) = clock(b, w(1))?;
        let start = match clock(a, None) {
            Some((start, _, _)) => start,
            // `10-11am`: the start takes the end's half of the day unless that puts it after.
            None if end_meridiem => {
                let half = if end.hour() >= 12 { "pm" } else { "am" };
                let (start, _, _) = clock(&format!("{a}{half}"), None)?;
                if start > end {
                    start - Duration::hours(12)
                } else {
                    start
                }
            }
            None => return None,
        };
        found.start = Some(start);
        found.end = Some(end);
        return Some(used);
    }
    let (start, _, used) = clock(word, w(1))?;
    found.start = Some(start);
    if let Some("-" | "to" | "until" | "till") = w(used) {
        if let Some((end, _, more)) = w(used + 1).and_then(|e| clock(e, w(used + 2))) {
            found.end = Some(end);
            return Some(used + 1 + more);
        }
    }
    Some(used)
}

pub fn parse(text: &str, now: NaiveDateTime) -> Parsed {
    let originals: Vec<&str> = text.split_whitespace().collect();
    let words: Vec<String> = originals.iter().map(|t| clean(t)).collect();
    let today = now.date();
    let mut found = Found::default();
    let mut summary = Vec::new();
    let mut location: Vec<&str> = Vec::new();
    let mut in_location = false;
    let mut i = 0;
    while i < words.len() {
        let used = part(&words, i, today, &mut found);
        if used > 0 {
            in_location = false;
            i += used;
            continue;
        }
        if words[i] == "at" && location.is_empty() && i + 1 < words.len() {
            in_location = true;
        } else if in_location {
            location.push(originals[i]);
        } else {
            summary.push(originals[i]);
        }
        i += 1;
    }
    while summary
        .last()
        .is_some_and(|w| ["on", "at", "from", "-", ","].contains(&clean(w).as_str()))
    {
        summary.pop();
    }
    let summary = summary.join(" ");
    let summary = summary.trim_end_matches([',', ';']).to_string();
    let location = location.join(" ");
    let location = location.trim_end_matches([',', ';', '.']).to_string();
    let date = found.date.unwrap_or(today);
    let slot = match found.start {
        None => Slot::AllDay(date),
        Some(start) => {
            let start = date.and_time(start);
            let mut end = match (found.end, found.length) {
                (Some(end), _) => date.and_time(end),
                (None, Some(length)) => start + length,
                (None, None) => start + Duration::hours(1),
            };
            if end < start {
                end += Duration::days(1);
            }
            Slot::Timed(start, end)
        }
    };
    Parsed {
        summary,
        location: (!location.is_empty()).then_some(location),
        slot,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> NaiveDateTime {
        // A Monday.
        NaiveDate::from_ymd_opt(2027, 3, 1)
            .unwrap()
            .and_hms_opt(8, 0, 0)
            .unwrap()
    }

    fn at(d: u32, h: u32, m: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2027, 3, d)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap()
    }

    #[test]
    fn lunch_tomorrow_at_noon() {
        let p = parse("Lunch with Zoë tomorrow at 12pm", now());
        assert_eq!(p.summary, "Lunch with Zoë");
        assert_eq!(p.slot, Slot::Timed(at(2, 12, 0), at(2, 13, 0)));
        assert_eq!(p.location, None);
    }

    #[test]
    fn ranges_places_lengths_and_days() {
        let p = parse("Dinner at Luigi's friday 7:30pm-10pm", now());
        assert_eq!(p.summary, "Dinner");
        assert_eq!(p.location.as_deref(), Some("Luigi's"));
        assert_eq!(p.slot, Slot::Timed(at(5, 19, 30), at(5, 22, 0)));
        let p = parse("Standup 10-11am on March 9", now());
        assert_eq!(p.slot, Slot::Timed(at(9, 10, 0), at(9, 11, 0)));
        assert_eq!(p.summary, "Standup");
        let p = parse("Call Grace at 15:00 for 30 minutes", now());
        assert_eq!(p.slot, Slot::Timed(at(1, 15, 0), at(1, 15, 30)));
        let p = parse("Release night from 10pm to 2am", now());
        assert_eq!(p.slot, Slot::Timed(at(1, 22, 0), at(2, 2, 0)));
        let p = parse("Ada's birthday 2027-12-10", now());
        let day = NaiveDate::from_ymd_opt(2027, 12, 10).unwrap();
        assert_eq!(p.slot, Slot::AllDay(day));
        assert_eq!(p.summary, "Ada's birthday");
    }
}
