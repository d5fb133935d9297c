//! Todoist's API v1 (`/api/v1`): the user, projects, active tasks with cursor pagination, the
//! filter endpoint, and closing, reopening and creating tasks. Bearer tokens are registered by
//! the test or accepted from the crate's OAuth emulator, through the registry Gmail and
//! Calendar use too (`tokens.rs`); "today" is computed on a clock the test can set, in the
//! user's configured UTC offset. Error bodies follow Todoist's
//! `{"error", "error_code", "error_tag", "http_code", "error_extra"}` shape.

mod model;
mod routes;
mod seed;
mod store;

use crate::faults::Faults;
use crate::tokens::{HasTokens, Tokens};
use crate::{lock, EmulatorHandle};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, Utc};
use model::{Project, Task};
pub use seed::TaskSeed;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use store::{project_id, Data};

#[derive(Debug, Clone)]
pub struct TodoistConfig {
    pub user_id: String,
    pub email: String,
    pub full_name: String,
    /// The zone name reported in `tz_info` and on timed due dates.
    pub timezone: String,
    /// The zone's offset from UTC, which decides what "today" is.
    pub utc_offset_minutes: i32,
    /// A fixed clock to start with; `None` follows real time until [`TodoistEmulator::set_now`].
    pub now: Option<DateTime<Utc>>,
    /// Access tokens accepted from the start; [`TodoistEmulator::add_token`] adds more.
    pub tokens: Vec<String>,
    /// Seeded projects besides the inbox, `Project 1`….
    pub projects: usize,
    /// Seeded active tasks without due dates, spread over the inbox and the seeded projects.
    pub tasks: usize,
    /// Page size when a list request gives no `limit` (Todoist's default is 50).
    pub page_size: usize,
    pub bind: SocketAddr,
}

impl Default for TodoistConfig {
    fn default() -> Self {
        TodoistConfig {
            user_id: "2671355".into(),
            email: "ada@example.com".into(),
            full_name: "Ada Lovelace".into(),
            timezone: "UTC".into(),
            utc_offset_minutes: 0,
            now: None,
            tokens: vec!["todoist-emulator-token-0001".into()],
            projects: 0,
            tasks: 0,
            page_size: 50,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

pub use crate::tokens::TokenCheck;

/// The account behind a running Todoist emulator.
pub struct Account {
    config: TodoistConfig,
    tz: FixedOffset,
    data: Mutex<Data>,
    tokens: Tokens,
    calls: Mutex<BTreeMap<String, u64>>,
}

impl HasTokens for Account {
    fn tokens(&self) -> &Tokens {
        &self.tokens
    }
}

impl Account {
    fn data(&self) -> MutexGuard<'_, Data> {
        lock(&self.data)
    }

    fn count_call(&self, path: &str) {
        *lock(&self.calls).entry(path.to_string()).or_default() += 1;
    }

    fn render_task(&self, task: &Task) -> Value {
        task.render(&self.config.user_id, &self.config.timezone)
    }

    fn render_project(&self, project: &Project) -> Value {
        project.render(&self.config.user_id)
    }

    fn inbox_id(&self) -> String {
        project_id(1)
    }
}

pub type TodoistEmulator = EmulatorHandle<Account>;

/// Starts the emulator on `config.bind`; returns once it accepts connections.
pub async fn spawn(config: TodoistConfig) -> std::io::Result<TodoistEmulator> {
    let bind = config.bind;
    let tz = FixedOffset::east_opt(config.utc_offset_minutes * 60).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "utc_offset_minutes is outside ±24 h",
        )
    })?;
    let mut data = Data {
        projects: BTreeMap::new(),
        tasks: BTreeMap::new(),
        next_project: 1,
        next_task: 1,
        clock: config.now,
    };
    data.add_project("Inbox");
    for i in 1..=config.projects {
        data.add_project(&format!("Project {i}"));
    }
    for i in 0..config.tasks {
        let project = project_id(i % (config.projects + 1) + 1);
        data.add_task(project, format!("Task {}", i + 1));
    }
    let account = Arc::new(Account {
        tokens: Tokens::new(&config.tokens),
        config,
        tz,
        data: Mutex::new(data),
        calls: Mutex::default(),
    });
    let faults = Faults::new(routes::error_body);
    let router = routes::router(account.clone(), faults.clone());
    crate::serve(bind, router, faults, account).await
}

impl EmulatorHandle<Account> {
    pub fn config(&self) -> &TodoistConfig {
        &self.state.config
    }

    /// The emulator's current time.
    pub fn now(&self) -> DateTime<Utc> {
        self.state.data().now()
    }

    /// Today in the user's zone.
    pub fn today(&self) -> NaiveDate {
        let tz = self.state.tz;
        self.state.data().moment(tz).today()
    }

    /// Stops the clock at `now`.
    pub fn set_now(&self, now: DateTime<Utc>) {
        self.state.data().clock = Some(now);
    }

    /// Stops the clock at noon of `day` in the user's zone.
    pub fn set_today(&self, day: NaiveDate) {
        let noon = day
            .and_time(NaiveTime::from_hms_opt(12, 0, 0).unwrap_or_default())
            .and_local_timezone(self.state.tz)
            .single()
            .map(|t| t.to_utc());
        if let Some(noon) = noon {
            self.set_now(noon);
        }
    }

    pub fn inbox_project_id(&self) -> String {
        self.state.inbox_id()
    }

    /// Adds a project; returns its id.
    pub fn add_project(&self, name: &str) -> String {
        self.state.data().add_project(name)
    }

    /// Adds an active task (to the inbox unless the seed names a project); returns its id.
    pub fn add_task(&self, seed: TaskSeed) -> String {
        let mut data = self.state.data();
        let today = data.moment(self.state.tz).today();
        seed.add_to(&mut data, today, self.state.inbox_id())
    }

    /// A task as the API renders it, completed or not; `None` for unknown ids.
    pub fn task(&self, id: &str) -> Option<Value> {
        let data = self.state.data();
        data.tasks.get(id).map(|t| self.state.render_task(t))
    }

    pub fn project(&self, id: &str) -> Option<Value> {
        let data = self.state.data();
        data.projects.get(id).map(|p| self.state.render_project(p))
    }

    /// Ids of open tasks, in list order.
    pub fn active_task_ids(&self) -> Vec<String> {
        let data = self.state.data();
        let active = data.tasks.values().filter(|t| t.is_active());
        active.map(|t| t.id.clone()).collect()
    }

    pub fn project_ids(&self) -> Vec<String> {
        self.state.data().projects.keys().cloned().collect()
    }

    /// Completes a task as the user would in the app; `false` for unknown ids.
    pub fn complete_task(&self, id: &str) -> bool {
        self.state.data().close(id, self.state.tz)
    }

    /// Deletes a task; it disappears from every answer.
    pub fn delete_task(&self, id: &str) -> bool {
        let mut data = self.state.data();
        let now = data.now();
        match data.tasks.get_mut(id) {
            Some(task) => {
                task.is_deleted = true;
                task.updated_at = now;
                true
            }
            None => false,
        }
    }

    /// Requests received for `path` (without query), faulted or refused ones included.
    pub fn calls(&self, path: &str) -> u64 {
        lock(&self.state.calls).get(path).copied().unwrap_or(0)
    }
}
