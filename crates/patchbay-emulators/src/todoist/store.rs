//! The account's projects and tasks on the emulator's clock, and the changes the API and
//! the test make to them.

use super::model::{Moment, Project, Task};
use chrono::{DateTime, FixedOffset, Utc};
use std::collections::BTreeMap;

pub struct Data {
    pub projects: BTreeMap<String, Project>,
    pub tasks: BTreeMap<String, Task>,
    pub next_project: usize,
    pub next_task: usize,
    pub clock: Option<DateTime<Utc>>,
}

pub fn project_id(n: usize) -> String {
    format!("p{n:06}")
}

impl Data {
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.unwrap_or_else(Utc::now)
    }

    pub fn moment(&self, tz: FixedOffset) -> Moment {
        Moment {
            now: self.now(),
            tz,
        }
    }

    pub fn add_project(&mut self, name: &str) -> String {
        let n = self.next_project;
        self.next_project += 1;
        let id = project_id(n);
        let project = Project {
            id: id.clone(),
            name: name.into(),
            inbox: n == 1,
            child_order: n as u32,
            created_at: self.now(),
        };
        self.projects.insert(id.clone(), project);
        id
    }

    pub fn add_task(&mut self, project_id: String, content: String) -> &mut Task {
        let n = self.next_task;
        self.next_task += 1;
        let id = format!("t{n:06}");
        let now = self.now();
        let task = Task {
            id: id.clone(),
            project_id,
            content,
            description: String::new(),
            priority: 1,
            labels: Vec::new(),
            due: None,
            checked: false,
            is_deleted: false,
            added_at: now,
            updated_at: now,
            completed_at: None,
            completed_count: 0,
            child_order: n as u32,
        };
        self.tasks.entry(id).or_insert(task)
    }

    /// Completes a task; a recurring one moves to its next occurrence and stays open.
    pub fn close(&mut self, id: &str, tz: FixedOffset) -> bool {
        let at = self.moment(tz);
        let Some(task) = self.tasks.get_mut(id).filter(|t| !t.is_deleted) else {
            return false;
        };
        task.updated_at = at.now;
        let next = task
            .due
            .as_ref()
            .filter(|_| !task.checked)
            .and_then(|d| d.next_occurrence(at.today(), tz));
        match (next, task.due.as_mut()) {
            (Some(when), Some(due)) => {
                due.when = when;
                task.completed_count += 1;
            }
            _ if !task.checked => {
                task.checked = true;
                task.completed_at = Some(at.now);
                task.completed_count += 1;
            }
            _ => {}
        }
        true
    }

    pub fn reopen(&mut self, id: &str) -> bool {
        let now = self.now();
        let Some(task) = self.tasks.get_mut(id).filter(|t| !t.is_deleted) else {
            return false;
        };
        task.checked = false;
        task.completed_at = None;
        task.updated_at = now;
        true
    }
}
