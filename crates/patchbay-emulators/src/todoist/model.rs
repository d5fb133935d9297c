//! Todoist's objects as the emulator keeps them (tasks, projects, due dates and their
//! recurrence), how they render in API v1, and the small filter language the emulator
//! understands (`today`, `overdue`, `tomorrow`, `no date`, joined with `|`).

use chrono::{DateTime, Days, FixedOffset, Months, NaiveDate, SecondsFormat, Utc};
use serde_json::{json, Value};

/// Todoist's timestamp format: UTC with microseconds.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// When a task is due: a whole day, or an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Day(NaiveDate),
    At(DateTime<Utc>),
}

/// How a recurring due date moves on when the task is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Every {
    Days(u32),
    Months(u32),
}

impl Every {
    /// The recurrence named by a due string such as `every day`, `weekly`, `every 3 days`.
    pub fn parse(text: &str) -> Option<Every> {
        // `every!` counts from the completion date; the emulator moves both kinds alike.
        let t = text.trim().to_ascii_lowercase().replace("every!", "every");
        match t.as_str() {
            "daily" => return Some(Every::Days(1)),
            "weekly" => return Some(Every::Days(7)),
            "monthly" => return Some(Every::Months(1)),
            "yearly" => return Some(Every::Months(12)),
            _ => {}
        }
        let rest = t.strip_prefix("every")?.trim();
        let (n, unit) = match rest.split_once(' ') {
            Some((n, unit)) if n.parse::<u32>().is_ok() => (n.parse::<u32>().ok()?, unit),
            _ => (1, rest),
        };
        if n == 0 {
            return None;
        }
        match unit.trim_end_matches('s') {
            "day" => Some(Every::Days(n)),
            "week" => Some(Every::Days(n * 7)),
            "month" => Some(Every::Months(n)),
            "year" => Some(Every::Months(n * 12)),
            _ => None,
        }
    }

    fn step(self, day: NaiveDate) -> Option<NaiveDate> {
        match self {
            Every::Days(n) => day.checked_add_days(Days::new(n.into())),
            Every::Months(n) => day.checked_add_months(Months::new(n)),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Due {
    pub when: When,
    /// The human form, as typed (`today`, `every day`, `2026-10-01`).
    pub string: String,
    pub every: Option<Every>,
}

impl Due {
    pub fn local_date(&self, tz: FixedOffset) -> NaiveDate {
        match self.when {
            When::Day(d) => d,
            When::At(t) => t.with_timezone(&tz).date_naive(),
        }
    }

    /// Todoist v1: `date` holds the day, or the instant in UTC with microseconds and the
    /// zone it was set in.
    fn render(&self, tz_name: &str) -> Value {
        let (date, timezone) = match self.when {
            When::Day(d) => (d.format("%Y-%m-%d").to_string(), Value::Null),
            When::At(t) => (
                t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
                Value::String(tz_name.to_string()),
            ),
        };
        json!({
            "date": date,
            "timezone": timezone,
            "string": self.string,
            "lang": "en",
            "is_recurring": self.every.is_some(),
        })
    }

    /// The next occurrence after `today`, as Todoist moves a recurring task on closing.
    pub fn next_occurrence(&self, today: NaiveDate, tz: FixedOffset) -> Option<When> {
        let every = self.every?;
        let mut day = self.local_date(tz);
        // At least one step, then as many as it takes to leave the past behind.
        loop {
            day = every.step(day)?;
            if day > today {
                break;
            }
        }
        Some(match self.when {
            When::Day(_) => When::Day(day),
            When::At(t) => {
                let local = t.with_timezone(&tz);
                let moved = day.and_time(local.time()).and_local_timezone(tz).single()?;
                When::At(moved.to_utc())
            }
        })
    }
}

/// Parses a `due_string` the way the emulator understands it: `today`, `tomorrow`,
/// `yesterday`, `YYYY-MM-DD`, or a recurrence starting today.
pub fn parse_due_string(text: &str, today: NaiveDate) -> Option<Due> {
    let lower = text.trim().to_ascii_lowercase();
    let day = match lower.as_str() {
        "today" | "tod" => Some(today),
        "tomorrow" | "tom" => today.succ_opt(),
        "yesterday" => today.pred_opt(),
        other => NaiveDate::parse_from_str(other, "%Y-%m-%d").ok(),
    };
    if let Some(day) = day {
        return Some(Due {
            when: When::Day(day),
            string: text.trim().to_string(),
            every: None,
        });
    }
    let every = Every::parse(&lower)?;
    Some(Due {
        when: When::Day(today),
        string: text.trim().to_string(),
        every: Some(every),
    })
}

#[derive(Debug, Clone)]
pub struct Task {
    pub id: String,
    pub project_id: String,
    pub content: String,
    pub description: String,
    pub priority: u8,
    pub labels: Vec<String>,
    pub due: Option<Due>,
    pub checked: bool,
    pub is_deleted: bool,
    pub added_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub completed_count: u32,
    pub child_order: u32,
}

impl Task {
    pub fn is_active(&self) -> bool {
        !self.checked && !self.is_deleted
    }

    pub fn render(&self, user_id: &str, tz_name: &str) -> Value {
        json!({
            "id": self.id,
            "user_id": user_id,
            "project_id": self.project_id,
            "section_id": null,
            "parent_id": null,
            "added_by_uid": user_id,
            "assigned_by_uid": null,
            "responsible_uid": null,
            "labels": self.labels,
            "deadline": null,
            "duration": null,
            "is_collapsed": false,
            "checked": self.checked,
            "is_deleted": self.is_deleted,
            "added_at": timestamp(self.added_at),
            "completed_at": self.completed_at.map(timestamp),
            "completed_by_uid": self.completed_at.map(|_| user_id),
            "updated_at": timestamp(self.updated_at),
            "due": self.due.as_ref().map(|d| d.render(tz_name)),
            "priority": self.priority,
            "child_order": self.child_order,
            "content": self.content,
            "description": self.description,
            "note_count": 0,
            "day_order": -1,
            "completed_count": self.completed_count,
            "postponed_count": 0,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub inbox: bool,
    pub child_order: u32,
    pub created_at: DateTime<Utc>,
}

impl Project {
    pub fn render(&self, user_id: &str) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "description": "",
            "color": "charcoal",
            "parent_id": null,
            "child_order": self.child_order,
            "creator_uid": user_id,
            "is_collapsed": false,
            "shared": false,
            "can_assign_tasks": false,
            "is_deleted": false,
            "is_archived": false,
            "is_favorite": false,
            "view_style": "list",
            "inbox_project": self.inbox,
            "default_order": 0,
            "created_at": timestamp(self.created_at),
            "updated_at": timestamp(self.created_at),
        })
    }
}

/// One term of a filter query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Term {
    Today,
    Tomorrow,
    Overdue,
    NoDate,
}

/// A parsed filter query: the terms joined by `|` (any of them matches).
#[derive(Debug, Clone)]
pub struct Filter(Vec<Term>);

/// The moment a filter is evaluated at, in the user's zone.
#[derive(Debug, Clone, Copy)]
pub struct Moment {
    pub now: DateTime<Utc>,
    pub tz: FixedOffset,
}

impl Moment {
    pub fn today(&self) -> NaiveDate {
        self.now.with_timezone(&self.tz).date_naive()
    }
}

impl Filter {
    /// `None` for anything outside the emulator's small language.
    pub fn parse(query: &str) -> Option<Filter> {
        let mut terms = Vec::new();
        for part in query.split('|') {
            let p = part
                .trim()
                .trim_start_matches('(')
                .trim_end_matches(')')
                .trim();
            let term = match p.to_ascii_lowercase().as_str() {
                "today" | "tod" => Term::Today,
                "tomorrow" | "tom" => Term::Tomorrow,
                "overdue" | "od" => Term::Overdue,
                "no date" => Term::NoDate,
                _ => return None,
            };
            terms.push(term);
        }
        Some(Filter(terms))
    }

    /// Whether an active task matches: `overdue` is a past day, or a past instant today.
    pub fn matches(&self, task: &Task, at: Moment) -> bool {
        let today = at.today();
        self.0.iter().any(|term| match (term, &task.due) {
            (Term::NoDate, due) => due.is_none(),
            (_, None) => false,
            (Term::Today, Some(d)) => d.local_date(at.tz) == today,
            (Term::Tomorrow, Some(d)) => today.succ_opt() == Some(d.local_date(at.tz)),
            (Term::Overdue, Some(d)) => match d.when {
                When::Day(day) => day < today,
                When::At(t) => t < at.now,
            },
        })
    }
}

/// `tz_info` of the user object for a fixed offset.
pub fn tz_info(name: &str, tz: FixedOffset) -> Value {
    let secs = tz.local_minus_utc();
    let sign = if secs < 0 { '-' } else { '+' };
    let (h, m) = (secs.abs() / 3600, secs.abs() % 3600 / 60);
    json!({
        "timezone": name,
        "gmt_string": format!("{sign}{h:02}:{m:02}"),
        "hours": secs / 3600,
        "minutes": secs % 3600 / 60,
        "is_dst": 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn recurrences_parse() {
        assert_eq!(Every::parse("every day"), Some(Every::Days(1)));
        assert_eq!(Every::parse("Every 3 days"), Some(Every::Days(3)));
        assert_eq!(Every::parse("weekly"), Some(Every::Days(7)));
        assert_eq!(Every::parse("every! month"), Some(Every::Months(1)));
        assert_eq!(Every::parse("every 0 days"), None);
        assert_eq!(Every::parse("sometimes"), None);
    }

    #[test]
    fn next_occurrence_skips_the_past() {
        let utc = FixedOffset::east_opt(0).unwrap();
        let due = Due {
            when: When::Day(day("2026-03-01")),
            string: "every day".into(),
            every: Some(Every::Days(1)),
        };
        assert_eq!(
            due.next_occurrence(day("2026-03-05"), utc),
            Some(When::Day(day("2026-03-06")))
        );
        let monthly = Due {
            every: Some(Every::Months(1)),
            ..due
        };
        assert_eq!(
            monthly.next_occurrence(day("2026-02-15"), utc),
            Some(When::Day(day("2026-04-01")))
        );
    }

    #[test]
    fn filters_parse_and_reject() {
        assert!(Filter::parse("today | overdue").is_some());
        assert!(Filter::parse("(overdue|today)").is_some());
        assert!(Filter::parse("p1 & #Work").is_none());
        assert!(Filter::parse("").is_none());
    }
}
