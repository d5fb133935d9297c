//! Event times as the API writes them (`{date}` or `{dateTime, timeZone}`), IANA zones, and
//! the conversions between wall-clock and absolute time.

use super::routes::ApiError;
use chrono::{
    DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// A start or end as the API sends it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventTime {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// A start or end: a whole day, or an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum When {
    Date(NaiveDate),
    At(DateTime<Utc>),
}

impl When {
    /// The instant it begins; a date begins at midnight in `zone`.
    pub fn instant(&self, zone: Tz) -> DateTime<Utc> {
        match self {
            When::At(t) => *t,
            When::Date(d) => resolve(zone, d.and_time(chrono::NaiveTime::MIN)),
        }
    }

    /// The API form: `{date}` or `{dateTime, timeZone}` with the offset `zone` has then.
    pub fn to_api(self, zone: Tz, time_zone: Option<&str>) -> EventTime {
        match self {
            When::Date(d) => EventTime {
                date: Some(d.format("%Y-%m-%d").to_string()),
                ..Default::default()
            },
            When::At(t) => EventTime {
                date_time: Some(render(t, zone)),
                time_zone: time_zone.map(str::to_string),
                ..Default::default()
            },
        }
    }

    /// `20270330T080000Z` or `20270330`, as instance ids end.
    pub fn id_suffix(&self) -> String {
        match self {
            When::At(t) => t.format("%Y%m%dT%H%M%SZ").to_string(),
            When::Date(d) => d.format("%Y%m%d").to_string(),
        }
    }

    pub fn from_id_suffix(suffix: &str) -> Option<When> {
        if let Some(stamp) = suffix.strip_suffix('Z') {
            let t = NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%S").ok()?;
            Some(When::At(t.and_utc()))
        } else {
            NaiveDate::parse_from_str(suffix, "%Y%m%d")
                .ok()
                .map(When::Date)
        }
    }
}

pub fn zone(name: &str) -> Option<Tz> {
    name.parse().ok()
}

/// Wall-clock time in `zone`: a time skipped by a DST change moves on by the gap, a
/// repeated one takes its first occurrence, as Google Calendar resolves them.
pub fn resolve(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.to_utc(),
        LocalResult::None => match zone.from_local_datetime(&(local + Duration::hours(1))) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.to_utc(),
            LocalResult::None => local.and_utc(),
        },
    }
}

/// `2027-03-30T10:00:00+02:00`, or `…Z` in UTC.
pub fn render(t: DateTime<Utc>, zone: Tz) -> String {
    let local = t.with_timezone(&zone);
    local.to_rfc3339_opts(SecondsFormat::Secs, zone == chrono_tz::UTC)
}

pub fn local(t: DateTime<Utc>, zone: Tz) -> NaiveDateTime {
    t.with_timezone(&zone).naive_local()
}

/// A parsed start or end and the zone it names, if any; `which` is `start` or `end`.
pub fn parse(t: &EventTime, fallback: Tz, which: &str) -> Result<(When, Option<Tz>), ApiError> {
    let named = match t.time_zone.as_deref().filter(|z| !z.is_empty()) {
        None => None,
        Some(name) => Some(zone(name).ok_or_else(|| {
            ApiError::invalid(format!("Invalid time zone definition for {which} time."))
        })?),
    };
    match (t.date.as_deref(), t.date_time.as_deref()) {
        (Some(d), None) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map(|d| (When::Date(d), named))
            .map_err(|_| ApiError::invalid("Invalid value")),
        (None, Some(dt)) => {
            if let Ok(t) = DateTime::parse_from_rfc3339(dt) {
                return Ok((When::At(t.to_utc()), named));
            }
            let floating = NaiveDateTime::parse_from_str(dt, "%Y-%m-%dT%H:%M:%S")
                .or_else(|_| NaiveDateTime::parse_from_str(dt, "%Y-%m-%dT%H:%M:%S%.f"))
                .map_err(|_| ApiError::invalid("Invalid value"))?;
            Ok((
                When::At(resolve(named.unwrap_or(fallback), floating)),
                named,
            ))
        }
        (Some(_), Some(_)) => Err(ApiError::invalid(
            "Start and end times must either both be date or both be dateTime.",
        )),
        (None, None) => Err(ApiError::required(format!("Missing {which} time."))),
    }
}
