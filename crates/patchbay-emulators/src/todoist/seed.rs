//! Tasks as a test seeds them.

use super::model::{Due, Every, When};
use super::store::Data;
use chrono::{DateTime, NaiveDate, Utc};

/// A task to seed: content plus whatever of due date, priority and project the test needs.
#[derive(Debug, Clone, Default)]
pub struct TaskSeed {
    content: String,
    description: String,
    project_id: Option<String>,
    priority: u8,
    labels: Vec<String>,
    due: Option<(When, String)>,
    every: Option<String>,
}

impl TaskSeed {
    pub fn new(content: impl Into<String>) -> Self {
        TaskSeed {
            content: content.into(),
            priority: 1,
            ..Default::default()
        }
    }

    /// Due on a whole day.
    pub fn due_on(mut self, day: NaiveDate) -> Self {
        self.due = Some((When::Day(day), day.format("%Y-%m-%d").to_string()));
        self
    }

    /// Due at an instant.
    pub fn due_at(mut self, at: DateTime<Utc>) -> Self {
        self.due = Some((When::At(at), at.format("%Y-%m-%d %H:%M").to_string()));
        self
    }

    /// Recurring (`every day`, `every 2 weeks`, `monthly` …), from the due date given, or
    /// today; recurrences the emulator does not know repeat daily.
    pub fn every(mut self, recurrence: &str) -> Self {
        self.every = Some(recurrence.to_string());
        self
    }

    /// 1 (normal) to 4 (urgent).
    pub fn priority(mut self, priority: u8) -> Self {
        self.priority = priority.clamp(1, 4);
        self
    }

    pub fn project(mut self, project_id: &str) -> Self {
        self.project_id = Some(project_id.to_string());
        self
    }

    pub fn description(mut self, description: &str) -> Self {
        self.description = description.to_string();
        self
    }

    pub fn labels(mut self, labels: &[&str]) -> Self {
        self.labels = labels.iter().map(|l| l.to_string()).collect();
        self
    }
}

impl TaskSeed {
    /// Adds the task to `data` (into `inbox` unless the seed names a project); returns its id.
    pub(super) fn add_to(self, data: &mut Data, today: NaiveDate, inbox: String) -> String {
        let project = self.project_id.unwrap_or(inbox);
        let every = self
            .every
            .as_deref()
            .map(|e| Every::parse(e).unwrap_or(Every::Days(1)));
        let due = match (self.due, self.every) {
            (Some((when, string)), None) => Some(Due {
                when,
                string,
                every,
            }),
            (Some((when, _)), Some(string)) => Some(Due {
                when,
                string,
                every,
            }),
            (None, Some(string)) => Some(Due {
                when: When::Day(today),
                string,
                every,
            }),
            (None, None) => None,
        };
        let task = data.add_task(project, self.content);
        task.description = self.description;
        task.priority = self.priority.clamp(1, 4);
        task.labels = self.labels;
        task.due = due;
        task.id.clone()
    }
}
