//! Generated mail for large mailboxes. Nothing of a message is stored but its index: its
//! sender, subject, date, body (2–20 KB), attachment (about 5%, 50–500 KB) and invitation
//! (about 2%) follow from the index, and its bytes are rebuilt with `mail-builder` whenever it
//! is read. So 100,000 messages cost a few tens of megabytes and seed in well under a second.

use super::blobs::{mix, pdf, png};
use super::calendar::Event;
use super::compose::Mail;
use super::parse::{snippet, Body, Meta};
use chrono::{DateTime, Utc};
use std::sync::OnceLock;

/// What every generated message derives from.
pub struct Synth {
    pub email: String,
    pub name: String,
    /// Message 0 is an hour before this; each next one about 17 minutes earlier.
    pub anchor_ms: i64,
    pub count: u32,
}

const PEOPLE: [(&str, &str); 12] = [
    ("Grace Hopper", "grace@navy.example"),
    ("Alan Turing", "alan@bletchley.example"),
    ("Katherine Johnson", "katherine@nasa.example"),
    ("Linus Berg", "linus.berg@example.se"),
    ("Amara Okeke", "amara@lagos.example"),
    ("Mateo García", "mateo@example.es"),
    ("Ingrid Næss", "ingrid@example.no"),
    ("Wei Chen", "wei.chen@example.cn"),
    ("Fatima Zahra", "fatima@example.ma"),
    ("Oliver Brown", "oliver@example.co.uk"),
    ("Sofia Rossi", "sofia.rossi@example.it"),
    ("Noah Schulz", "noah@example.de"),
];

const SUBJECTS: [&str; 12] = [
    "Weekly status update",
    "Invoice for services rendered",
    "Planning the next release",
    "Customer feedback summary",
    "Onboarding checklist",
    "Budget review follow-up",
    "Notes from today's call",
    "Security review findings",
    "Hiring pipeline",
    "Migration timeline",
    "Quarterly metrics",
    "Vendor contract renewal",
];

const PARAGRAPHS: [&str; 10] = [
    "We went through the open items from last week. Most of the integration work is done, \
     and the remaining tickets are small fixes in the retry logic and the error reporting. \
     The team expects to close them before the end of the sprint.",
    "On the customer side, two accounts asked about exporting their data in bulk. I told them \
     we are looking at a paginated export endpoint and that we would share a timeline once \
     engineering has estimated the work.",
    "The budget numbers are attached to the shared folder. Spending is slightly below plan \
     because two contractors started later than expected; the difference should even out \
     next quarter when the migration work picks up.",
    "Please keep in mind that the staging environment will be down on Saturday morning for \
     maintenance. Anything that needs testing should be deployed by Friday afternoon so we \
     have time to look at the results.",
    "Security asked us to rotate the API keys of the reporting service and to move the \
     remaining secrets into the vault. None of this is urgent, but it would be good to have \
     it done before the audit in the spring.",
    "Hiring is going well: three candidates are in the final round and the feedback so far \
     has been positive. We should be able to make an offer within the next two weeks if the \
     references check out.",
    "The migration plan has three phases: copy the historical data, run both systems side by \
     side for a month, then switch the writes over. Each phase has a rollback step written \
     down in the runbook.",
    "Metrics for the quarter look healthy. Weekly active users grew by eight percent, churn \
     stayed flat and the support queue is shorter than it has been all year, mostly thanks \
     to the new help center articles.",
    "The vendor sent a renewal quote that is about twelve percent higher than last year. I \
     think we can negotiate that down if we commit to a two-year term, but I would like your \
     opinion before I reply.",
    "Let me know if anything in here is unclear or if you want to go through it together. I \
     am around most of the week and happy to set up a short call.",
];

/// The index's random stream.
fn hash(index: u32, salt: u64) -> u64 {
    let mut state = (u64::from(index) << 8) ^ salt;
    mix(&mut state)
}

/// The intro sentence and paragraph indices of a body, about `2..20` KB long.
fn body_parts(index: u32) -> (String, Vec<usize>) {
    let target = 2_000 + (hash(index, 1) % 18_000) as usize;
    let intro = format!("Message {index}: here is the update I promised.");
    let mut len = intro.len();
    let mut parts = Vec::new();
    let mut state = hash(index, 2);
    while len < target {
        let p = (mix(&mut state) % PARAGRAPHS.len() as u64) as usize;
        len += PARAGRAPHS[p].len() + 2;
        parts.push(p);
    }
    (intro, parts)
}

fn body_text(index: u32) -> String {
    let (intro, parts) = body_parts(index);
    let mut text = intro;
    for p in parts {
        text.push_str("\n\n");
        text.push_str(PARAGRAPHS[p]);
    }
    text
}

/// Whether the generated body of `index` contains `word` (lowercase).
pub fn body_contains(index: u32, word: &str) -> bool {
    static LOWER: OnceLock<Vec<String>> = OnceLock::new();
    let lower = LOWER.get_or_init(|| PARAGRAPHS.iter().map(|p| p.to_lowercase()).collect());
    let (intro, parts) = body_parts(index);
    intro.to_lowercase().contains(word) || parts.iter().any(|&p| lower[p].contains(word))
}

enum Extra {
    None,
    Pdf(usize),
    Png(usize),
    Invite,
}

impl Synth {
    fn extra(&self, index: u32) -> Extra {
        let h = hash(index, 3);
        let size = 50_000 + (h >> 16) as usize % 450_000;
        match h % 100 {
            0..=2 => Extra::Pdf(size),
            3..=4 => Extra::Png(size),
            5..=6 => Extra::Invite,
            _ => Extra::None,
        }
    }

    /// The older message this one answers, if any: about one in four is a reply.
    pub fn parent(&self, index: u32) -> Option<u32> {
        let h = hash(index, 4);
        let parent = index + 1 + (h % 3) as u32;
        (h.is_multiple_of(4) && parent < self.count).then_some(parent)
    }

    fn root(&self, mut index: u32) -> u32 {
        while let Some(p) = self.parent(index) {
            index = p;
        }
        index
    }

    /// Sent by the account owner (about one in six), else by a contact.
    fn outgoing(&self, index: u32) -> bool {
        hash(index, 5).is_multiple_of(6)
    }

    fn contact(&self, index: u32) -> (&'static str, &'static str) {
        PEOPLE[(hash(self.root(index), 6) % PEOPLE.len() as u64) as usize]
    }

    pub fn date_ms(&self, index: u32) -> i64 {
        let jitter = (hash(index, 7) % 600_000) as i64;
        self.anchor_ms - 3_600_000 - i64::from(index) * 17 * 60_000 - jitter
    }

    pub fn message_id(&self, index: u32) -> String {
        format!(
            "gen-{index:06}.{:08x}@mail.example.net",
            hash(index, 8) as u32
        )
    }

    fn subject(&self, index: u32) -> String {
        let root = self.root(index);
        let base = SUBJECTS[(hash(root, 9) % SUBJECTS.len() as u64) as usize];
        let base = format!("{base} #{root}");
        if root == index {
            base
        } else {
            format!("Re: {base}")
        }
    }

    /// Labels as Gmail would have them: most incoming mail in the inbox, recent mail unread.
    pub fn labels(&self, index: u32) -> Vec<String> {
        let h = hash(index, 10);
        let mut labels = Vec::new();
        if self.outgoing(index) {
            labels.push("SENT");
        } else {
            if h % 10 < 7 {
                labels.push("INBOX");
            }
            if index < 50 || h.is_multiple_of(9) {
                labels.push("UNREAD");
            }
            labels.push(
                ["CATEGORY_PERSONAL", "CATEGORY_UPDATES", "CATEGORY_PERSONAL"]
                    [(h >> 8) as usize % 3],
            );
            if h.is_multiple_of(13) {
                labels.push("IMPORTANT");
            }
        }
        labels.into_iter().map(str::to_string).collect()
    }

    fn mail(&self, index: u32) -> Mail {
        let (name, address) = self.contact(index);
        let date = DateTime::<Utc>::from_timestamp_millis(self.date_ms(index)).unwrap_or_default();
        let mail = self
            .mail_headers(index)
            .message_id(&self.message_id(index))
            .date(date)
            .text(&body_text(index));
        let seed = hash(index, 11);
        match self.extra(index) {
            Extra::None => mail,
            Extra::Pdf(size) => mail.attach(
                &format!("report-{index}.pdf"),
                "application/pdf",
                pdf(&self.subject(index), size, seed),
            ),
            Extra::Png(size) => mail.attach(
                &format!("screenshot-{index}.png"),
                "image/png",
                png(size, seed),
            ),
            Extra::Invite => {
                let start = date.naive_utc() + chrono::Duration::days(3);
                let event = Event {
                    uid: format!("gen{index}@mail.example.net"),
                    method: "REQUEST",
                    sequence: 0,
                    summary: format!("Review: {}", self.subject(index)),
                    description: "Agenda in the attached notes.".into(),
                    location: "Video call".into(),
                    start,
                    minutes: 30,
                    rrule: None,
                    organizer: (name.to_string(), address.to_string()),
                    attendees: vec![(self.name.clone(), self.email.clone(), "NEEDS-ACTION")],
                    stamp: date,
                };
                mail.calendar("REQUEST", &event.to_ics())
            }
        }
    }

    pub fn raw(&self, index: u32) -> Vec<u8> {
        self.mail(index).to_raw()
    }

    /// The message's [`Meta`] without building it; the size is an estimate.
    pub fn meta(&self, index: u32) -> Meta {
        let mail = self.mail_headers(index);
        // The snippet needs only the start of the body.
        let (intro, parts) = body_parts(index);
        let mut start = intro.clone();
        for p in parts.iter().take(2) {
            start.push(' ');
            start.push_str(PARAGRAPHS[*p]);
        }
        let text_len = intro.len()
            + parts
                .iter()
                .map(|p| PARAGRAPHS[*p].len() + 2)
                .sum::<usize>();
        let (attachment, extra) = match self.extra(index) {
            Extra::Pdf(size) => (Some(format!("report-{index}.pdf")), size * 137 / 100),
            Extra::Png(size) => (Some(format!("screenshot-{index}.png")), size * 137 / 100),
            Extra::Invite => (None, 3_000),
            Extra::None => (None, 0),
        };
        let person = |(n, a): &(String, String)| format!("{n} <{a}>").to_lowercase();
        Meta {
            from: person(&mail.from),
            to: mail.to.iter().map(person).collect::<Vec<_>>().join(", "),
            subject: mail.subject,
            snippet: snippet(&start),
            body: Body::Synth(index),
            message_id: Some(self.message_id(index)),
            references: mail.references,
            filenames: attachment.into_iter().collect(),
            date_ms: Some(self.date_ms(index) / 1000 * 1000),
            size: text_len + extra + 900,
        }
    }

    /// The mail without its body, cheap enough for searching.
    fn mail_headers(&self, index: u32) -> Mail {
        let (name, address) = self.contact(index);
        let mut mail = Mail::new(address, &self.subject(index));
        if self.outgoing(index) {
            mail = mail
                .from_named(&self.name, &self.email)
                .to_named(name, address);
        } else {
            mail = mail
                .from_named(name, address)
                .to_named(&self.name, &self.email);
        }
        if let Some(parent) = self.parent(index) {
            mail = mail.reply_to(&self.message_id(parent), &[]);
        }
        mail
    }
}
