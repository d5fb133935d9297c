//! The mailbox: messages by id (ids sort by time, so newest-first is reverse order), threads,
//! labels, drafts, and the history log every change writes to.

use super::labels::Labels;
use super::parse::{self, Meta};
use super::pubsub::{self, Outbox};
use super::synth::Synth;
use super::WatchRequest;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub const INBOX: &str = "INBOX";
pub const SENT: &str = "SENT";
pub const DRAFT: &str = "DRAFT";
pub const TRASH: &str = "TRASH";
pub const SPAM: &str = "SPAM";

pub struct Msg {
    pub id: String,
    pub thread_id: String,
    pub labels: Vec<String>,
    /// Epoch milliseconds.
    pub internal_date: i64,
    pub history_id: u64,
    pub source: Source,
}

#[derive(Clone)]
pub enum Source {
    Stored(Arc<Stored>),
    /// Built from its index when read, so large mailboxes cost little memory.
    Generated(u32),
}

pub struct Stored {
    pub raw: Vec<u8>,
    pub meta: Meta,
}

impl Msg {
    pub fn has(&self, label: &str) -> bool {
        self.labels.iter().any(|l| l == label)
    }
}

/// One entry of the history log; `labels` are the message's labels after the change.
pub struct Record {
    pub id: u64,
    pub message: String,
    pub thread: String,
    pub labels: Vec<String>,
    pub change: Change,
}

pub enum Change {
    Added,
    Deleted,
    Labels {
        added: Vec<String>,
        removed: Vec<String>,
    },
}

pub struct Store {
    pub email: String,
    pub synth: Synth,
    pub messages: BTreeMap<String, Msg>,
    /// Message ids of each thread, oldest first.
    pub threads: HashMap<String, Vec<String>>,
    /// RFC 822 Message-ID to Gmail id, for threading replies.
    by_rfc_id: HashMap<String, String>,
    pub labels: Labels,
    /// Draft id to message id.
    pub drafts: BTreeMap<String, String>,
    pub history: Vec<Record>,
    pub history_id: u64,
    /// History before this id is gone; older start ids answer 404.
    pub history_floor: u64,
    pub watch: Option<WatchRequest>,
    /// Where changes a watch covers are announced for pushing.
    pub outbox: Option<Outbox>,
    /// Raw messages sent through the API, in order.
    pub sent: Vec<Vec<u8>>,
    seq: u64,
    clock: crate::Clock,
}

/// Subject as threading compares it: without reply and forward prefixes.
fn thread_subject(subject: &str) -> String {
    let mut s = subject.trim().to_lowercase();
    loop {
        let prefix = ["re:", "fwd:", "fw:", "aw:", "wg:", "sv:", "antw:"]
            .iter()
            .find(|p| s.starts_with(**p));
        match prefix {
            Some(p) => s = s[p.len()..].trim_start().to_string(),
            None => return s,
        }
    }
}

impl Store {
    pub fn new(email: String, synth: Synth) -> Self {
        Store {
            email,
            synth,
            messages: BTreeMap::new(),
            threads: HashMap::new(),
            by_rfc_id: HashMap::new(),
            labels: Labels::new(),
            drafts: BTreeMap::new(),
            history: Vec::new(),
            history_id: 1000,
            // Seeding writes no history but every seeded historyId stays a valid start.
            history_floor: 1000,
            watch: None,
            outbox: None,
            sent: Vec::new(),
            seq: 0,
            clock: crate::Clock::new(),
        }
    }

    /// Now in epoch milliseconds, later than any earlier answer.
    pub fn now_ms(&mut self) -> i64 {
        self.clock.tick().timestamp_millis()
    }

    pub fn meta<'a>(&self, m: &'a Msg) -> Cow<'a, Meta> {
        match &m.source {
            Source::Stored(s) => Cow::Borrowed(&s.meta),
            Source::Generated(i) => Cow::Owned(self.synth.meta(*i)),
        }
    }

    pub fn raw<'a>(&self, m: &'a Msg) -> Cow<'a, [u8]> {
        match &m.source {
            Source::Stored(s) => Cow::Borrowed(&s.raw),
            Source::Generated(i) => Cow::Owned(self.synth.raw(*i)),
        }
    }

    /// Gmail-style id: the time in milliseconds shifted left 20 bits, plus a sequence.
    fn new_id(&mut self, ms: i64) -> String {
        loop {
            self.seq += 1;
            let id = format!(
                "{:016x}",
                ((ms.max(0) as u64) << 20) | (self.seq & 0xf_ffff)
            );
            if !self.messages.contains_key(&id) {
                return id;
            }
        }
    }

    pub fn new_draft_id(&mut self) -> String {
        self.seq += 1;
        format!("r{}", 5_166_000_000_000_000_000u64 + self.seq * 7_919)
    }

    /// The thread a new message joins: `requested` (a threadId given with the request) or the
    /// thread of a message it references, in both cases only when the subjects match.
    pub fn thread_for(&self, meta: &Meta, requested: Option<&str>) -> Option<String> {
        let subject = thread_subject(&meta.subject);
        let same = |thread: &str| {
            let first = self.threads.get(thread).and_then(|ids| ids.first());
            let first = first.and_then(|id| self.messages.get(id));
            first.is_some_and(|m| thread_subject(&self.meta(m).subject) == subject)
        };
        if let Some(t) = requested {
            return same(t).then(|| t.to_string());
        }
        let referenced = meta.references.iter().rev();
        let mut threads = referenced.filter_map(|r| self.by_rfc_id.get(r));
        let thread = threads.find_map(|id| self.messages.get(id).map(|m| &m.thread_id));
        thread.filter(|t| same(t)).cloned()
    }

    /// Adds a message; `thread` from [`Self::thread_for`], or a new thread. `record` writes a
    /// `messageAdded` history entry (seeding does not).
    pub fn insert(
        &mut self,
        source: Source,
        labels: Vec<String>,
        internal_date: i64,
        thread: Option<String>,
        record: bool,
    ) -> (String, String) {
        let id = self.new_id(internal_date);
        let thread_id = thread.unwrap_or_else(|| id.clone());
        let meta = match &source {
            Source::Stored(s) => s.meta.message_id.clone(),
            Source::Generated(i) => Some(self.synth.message_id(*i)),
        };
        if let Some(rfc_id) = meta {
            self.by_rfc_id.entry(rfc_id).or_insert_with(|| id.clone());
        }
        let ids = self.threads.entry(thread_id.clone()).or_default();
        let at = ids.partition_point(|other| other < &id);
        ids.insert(at, id.clone());
        self.history_id += 1;
        let mut labels = labels;
        let mut seen = std::collections::HashSet::new();
        labels.retain(|l| seen.insert(l.clone()));
        let msg = Msg {
            id: id.clone(),
            thread_id: thread_id.clone(),
            labels,
            internal_date,
            history_id: self.history_id,
            source,
        };
        self.messages.insert(id.clone(), msg);
        if record {
            self.record(&id, Change::Added);
        }
        (id, thread_id)
    }

    /// Adds a message from raw bytes, threaded by its headers.
    pub fn insert_raw(&mut self, raw: Vec<u8>, labels: Vec<String>, date: Option<i64>) -> String {
        let meta = parse::meta(&raw);
        let thread = self.thread_for(&meta, None);
        let internal_date = match date.or(meta.date_ms) {
            Some(ms) => ms,
            None => self.now_ms(),
        };
        let source = Source::Stored(Arc::new(Stored { raw, meta }));
        self.insert(source, labels, internal_date, thread, true).0
    }

    fn record(&mut self, id: &str, change: Change) {
        let Some(m) = self.messages.get(id) else {
            return;
        };
        let record = Record {
            id: self.history_id,
            message: m.id.clone(),
            thread: m.thread_id.clone(),
            labels: m.labels.clone(),
            change,
        };
        pubsub::announce(self.outbox.as_ref(), self.watch.as_ref(), &record);
        self.history.push(record);
    }

    /// Adds and removes labels (ids the caller checked); writes history when anything changed.
    /// `None` for unknown messages.
    pub fn modify(&mut self, id: &str, add: &[String], remove: &[String]) -> Option<()> {
        let m = self.messages.get_mut(id)?;
        let removed: Vec<String> = remove.iter().filter(|l| m.has(l)).cloned().collect();
        m.labels.retain(|l| !removed.contains(l));
        let mut added = Vec::new();
        for label in add {
            if !m.has(label) && !remove.contains(label) {
                m.labels.push(label.clone());
                added.push(label.clone());
            }
        }
        if !added.is_empty() || !removed.is_empty() {
            self.history_id += 1;
            m.history_id = self.history_id;
            self.record(id, Change::Labels { added, removed });
        }
        Some(())
    }

    /// Moves to the trash: TRASH replaces INBOX and SPAM, and untrashing does not bring
    /// them back, as in Gmail.
    pub fn trash(&mut self, id: &str) -> Option<()> {
        let remove = [INBOX.to_string(), SPAM.to_string()];
        self.modify(id, &[TRASH.to_string()], &remove)
    }

    pub fn untrash(&mut self, id: &str) -> Option<()> {
        self.modify(id, &[], &[TRASH.to_string()])
    }

    /// Deletes for good; `None` for unknown messages.
    pub fn delete(&mut self, id: &str) -> Option<()> {
        if !self.messages.contains_key(id) {
            return None;
        }
        self.history_id += 1;
        self.record(id, Change::Deleted);
        let m = self.messages.remove(id)?;
        if let Some(rfc_id) = self.meta(&m).message_id.clone() {
            if self.by_rfc_id.get(&rfc_id) == Some(&m.id) {
                self.by_rfc_id.remove(&rfc_id);
            }
        }
        if let Some(ids) = self.threads.get_mut(&m.thread_id) {
            ids.retain(|other| other != id);
            if ids.is_empty() {
                self.threads.remove(&m.thread_id);
            }
        }
        self.drafts.retain(|_, mid| mid != id);
        Some(())
    }

    /// The messages of a thread, oldest first.
    pub fn thread(&self, id: &str) -> Vec<&Msg> {
        let ids = self.threads.get(id).map(Vec::as_slice).unwrap_or_default();
        ids.iter().filter_map(|id| self.messages.get(id)).collect()
    }

    /// Drops every history entry so far: older start ids answer 404 from now on.
    pub fn expire_history(&mut self) {
        self.history.clear();
        self.history_floor = self.history_id;
    }
}
