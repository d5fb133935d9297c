//! Requests and commitments in a message's own text: deterministic rules over sentences, no
//! network. A request is the sender asking the recipients to do something; a commitment is
//! the sender promising something. Each carries the sentence, who asked whom, a due date when
//! the text gives one, and a confidence.

use super::{dates, quotes};
use chrono::NaiveDate;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionItem {
    /// `request` or `commitment`.
    pub kind: &'static str,
    pub sentence: String,
    /// Who asked (a request) or who promised (a commitment).
    pub by: String,
    /// Who is asked, or to whom it is promised.
    #[serde(rename = "for")]
    pub for_: Vec<String>,
    pub due: Option<NaiveDate>,
    pub confidence: f32,
}

/// The message as the extractor reads it.
pub struct Mail<'a> {
    pub text: &'a str,
    pub from: &'a str,
    pub to: &'a [String],
    /// The message's date in its own offset.
    pub date: NaiveDate,
}

/// Openings that ask the reader to act.
const REQUEST_OPENINGS: &[&str] = &[
    "please",
    "pls",
    "plz",
    "kindly",
    "could you",
    "can you",
    "would you",
    "will you",
    "could u",
    "can u",
    "would you mind",
    "would it be possible to",
    "are you able to",
    "i need you to",
    "i'd like you to",
    "i would like you to",
    "we need you to",
    "make sure",
    "don't forget",
    "do not forget",
    "remember to",
    "be sure to",
    "need you to",
    "i'd appreciate it if you",
    "i would appreciate it if you",
    "it would be great if you",
    "could somebody",
    "can someone",
    "could someone",
    "you need to",
    "you should",
    "you must",
    "let me know",
    "let us know",
    "send me",
    "send us",
    "ping me",
    "i would be grateful if you could",
    "i'd be grateful if you could",
    "i would appreciate if you could",
    "would be great if you could",
    "it would be great if you could",
    "do the needful",
];

/// Openings of a promise by the writer.
const COMMIT_OPENINGS: &[&str] = &[
    "i'll",
    "i will",
    "i’ll",
    "we'll",
    "we will",
    "we’ll",
    "i'm going to",
    "i am going to",
    "we're going to",
    "we are going to",
    "i can have",
    "i'll make sure",
    "let me",
    "i shall",
    "i promise to",
    "i plan to",
    "i intend to",
    "will do",
    "on it",
];

/// Phrases that look like requests or promises but ask for nothing.
const NOT_ACTIONS: &[&str] = &[
    "please find attached",
    "please see attached",
    "please find below",
    "please see below",
    "please note",
    "please be advised",
    "please disregard",
    "please ignore",
    "let me know if you have any questions",
    "let me know if you need anything",
    "let me know if you have questions",
    "let me know if anything",
    "let me know if there",
    "let me know what you think",
    "thanks in advance",
    "can you believe",
    "could you believe",
    "i will be out",
    "i'll be out",
    "i will be away",
    "i'll be away",
    "i will be on leave",
    "we will be closed",
    "i'll be in",
    "i will be in",
    "i'll be back",
    "i will be back",
    "we'll see",
    "i'll keep you posted",
    "i will keep you posted",
    "let me introduce",
    "let me be clear",
    "let me explain",
    "will do my best",
    "please don't hesitate",
    "please do not hesitate",
    "please feel free",
    "feel free",
    "please reply to this",
    "please do not reply",
    "please don't reply",
    "unsubscribe",
    "you can",
    "you'll",
];

/// Verbs a real task is made of; a sentence with none of them is rarely one.
const TASK_VERBS: &[&str] = &[
    "send",
    "share",
    "review",
    "confirm",
    "book",
    "call",
    "check",
    "sign",
    "approve",
    "update",
    "prepare",
    "finish",
    "submit",
    "schedule",
    "fix",
    "look",
    "read",
    "forward",
    "reply",
    "respond",
    "get",
    "set up",
    "setup",
    "draft",
    "write",
    "ship",
    "deploy",
    "pay",
    "order",
    "email",
    "ping",
    "reach out",
    "follow up",
    "circulate",
    "upload",
    "add",
    "remove",
    "print",
    "bring",
    "pick up",
    "arrange",
    "organize",
    "organise",
    "cancel",
    "move",
    "reschedule",
    "invite",
    "test",
    "deliver",
    "provide",
    "complete",
    "file",
    "fill",
    "loop",
    "let me know",
    "let us know",
    "handle",
    "take care",
    "talk",
    "ask",
    "create",
    "merge",
    "publish",
    "renew",
    "transfer",
    "sort",
    "clean",
    "run",
    "think",
    "decide",
    "join",
    "come",
    "collect",
    "return",
    "translate",
    "double-check",
    "proofread",
    "edit",
    "note",
    "tell",
    "make",
    "start",
    "courier",
    "brief",
    "archive",
    "renew",
    "rotate",
    "export",
    "revert",
    "push",
    "clear",
    "sign off",
    "give",
    "hand",
    "drop",
    "post",
    "install",
    "configure",
    "migrate",
    "release",
    "launch",
    "investigate",
    "verify",
    "validate",
    "document",
    "summarize",
    "summarise",
    "present",
    "attend",
    "lead",
    "host",
    "buy",
    "purchase",
    "refund",
    "invoice",
    "settle",
    "back up",
    "backup",
    "restore",
    "rerun",
    "retry",
    "escalate",
    "assign",
];

fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        // Bullets are items of their own.
        let line = line.trim().trim_start_matches(['-', '*', '•']).trim_start();
        let mut current = String::new();
        let chars: Vec<char> = line.chars().collect();
        for (i, c) in chars.iter().enumerate() {
            current.push(*c);
            let end =
                matches!(c, '.' | '?' | '!') && chars.get(i + 1).is_none_or(|n| n.is_whitespace());
            if end {
                out.push(std::mem::take(&mut current).trim().to_string());
            }
        }
        if !current.trim().is_empty() {
            out.push(current.trim().to_string());
        }
    }
    out.retain(|s| s.chars().any(char::is_alphabetic));
    out
}

/// The sentence without a leading greeting or filler ("Hi Ada, could you …", "Also, …").
fn core(sentence: &str) -> String {
    let mut s = sentence.trim().to_lowercase().replace('’', "'");
    for lead in [
        "hi ",
        "hey ",
        "hello ",
        "dear ",
        "ok ",
        "okay ",
        "also ",
        "and ",
        "so ",
        "btw ",
        "quick one ",
        "sure ",
        "yes ",
        "great ",
    ] {
        if s.starts_with(lead) {
            let cut = s
                .char_indices()
                .find(|(_, c)| matches!(c, ',' | '!' | '-' | '—'))
                .map(|(i, c)| i + c.len_utf8());
            if let Some(i) = cut.filter(|i| *i < 40) {
                s = s[i..].trim().to_string();
            }
        }
    }
    let s = s.trim_start_matches(['-', ',', ' ']).to_string();
    s
}

fn has_task_verb(s: &str) -> bool {
    TASK_VERBS.iter().any(|v| {
        s.match_indices(v).any(|(i, _)| {
            let before = s[..i].chars().next_back();
            before.is_none_or(|c| !c.is_alphanumeric())
        })
    })
}

fn starts_with_any(s: &str, list: &[&str]) -> Option<usize> {
    list.iter()
        .filter(|p| {
            s.starts_with(**p)
                && s[p.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_alphanumeric())
        })
        .map(|p| p.len())
        .max()
}

/// Words after an opening that make it no task: "can you believe", "I will be out".
const NOT_TASK_WORDS: &[&str] = &[
    "be", "believe", "imagine", "feel", "hesitate", "see", "find", "note", "say", "guess",
    "tell if", "have any", "know if", "not",
];

/// Leading words that carry no meaning of their own ("also pls …", "ok so could you …").
const FILLERS: &[&str] = &[
    "also",
    "and",
    "so",
    "but",
    "then",
    "btw",
    "oh",
    "ok",
    "okay",
    "hi",
    "hey",
    "hello",
    "actually",
    "finally",
    "lastly",
    "meanwhile",
    "one more thing",
    "quick one",
    "sorry",
];

/// The clauses of a sentence, each without leading fillers.
fn clauses(s: &str) -> Vec<String> {
    let mut out = vec![s.to_string()];
    let spaced = s.replace(" - ", ", ");
    for part in spaced.split([',', ';', ':', '—', '–']) {
        let mut p = part.trim().trim_start_matches('-').trim().to_string();
        loop {
            let before = p.clone();
            for f in FILLERS {
                if p.starts_with(f) && p[f.len()..].starts_with(' ') {
                    p = p[f.len()..].trim().to_string();
                }
            }
            if p == before {
                break;
            }
        }
        if !p.is_empty() {
            out.push(p);
        }
    }
    out
}

/// The opening `clause` starts with from `list`, when a task follows it.
fn opening(clause: &str, list: &[&str]) -> Option<usize> {
    let len = starts_with_any(clause, list)?;
    let rest = clause[len..].trim_start();
    let blocked = NOT_TASK_WORDS.iter().any(|w| {
        rest.starts_with(w)
            && rest[w.len()..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_alphanumeric())
    });
    (!blocked && rest.chars().next().is_some_and(char::is_alphabetic)).then_some(len)
}

fn classify(sentence: &str) -> Option<(&'static str, f32)> {
    let s = core(sentence);
    if NOT_ACTIONS.iter().any(|p| s.contains(p)) {
        return None;
    }
    // A condition offers, it does not ask ("If you need anything, I can help").
    if s.starts_with("if ") {
        return None;
    }
    for clause in clauses(&s) {
        if let Some(len) = opening(&clause, REQUEST_OPENINGS) {
            let strong = ["please", "could you", "can you", "kindly", "would you"]
                .iter()
                .any(|p| clause[..len].starts_with(p));
            if strong || has_task_verb(&clause) {
                return Some(("request", if strong { 0.9 } else { 0.75 }));
            }
        }
        if let Some(len) = opening(&clause, COMMIT_OPENINGS) {
            let strong = ["i'll", "i will", "we'll", "we will"]
                .iter()
                .any(|p| clause[..len].starts_with(p));
            if strong || has_task_verb(&clause) {
                return Some(("commitment", if strong { 0.85 } else { 0.7 }));
            }
        }
    }
    // "… please?" or "Send me the file please."
    if (s.ends_with("please.") || s.ends_with("please?") || s.ends_with("please"))
        && has_task_verb(&s)
    {
        return Some(("request", 0.7));
    }
    None
}

/// Mass and automated mail asks no one in particular.
fn is_bulk(mail: &Mail<'_>) -> bool {
    let local = mail
        .from
        .split('@')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let automated_sender = [
        "noreply",
        "no-reply",
        "donotreply",
        "do-not-reply",
        "newsletter",
        "news",
        "notifications",
        "notification",
        "alerts",
        "tracking",
        "mailer-daemon",
        "updates",
        "marketing",
    ]
    .iter()
    .any(|a| {
        local == *a || local.starts_with(&format!("{a}+")) || local.starts_with(&format!("{a}-"))
    });
    let text = mail.text.to_lowercase();
    automated_sender
        || text.contains("unsubscribe")
        || text.contains("this is an automated message")
        || text.contains("this email was sent automatically")
}

/// A list introduced by a request ("Could you:") asks for each of its items.
fn is_list_lead(sentence: &str) -> bool {
    let s = core(sentence);
    s.ends_with(':')
        && (s.contains("the following")
            || clauses(&s)
                .iter()
                .any(|c| starts_with_any(c, REQUEST_OPENINGS).is_some()))
}

/// The action items of one message.
pub fn extract(mail: &Mail<'_>) -> Vec<ActionItem> {
    if is_bulk(mail) {
        return Vec::new();
    }
    let own = quotes::own_text(mail.text);
    let mut out = Vec::new();
    let mut list_request = false;
    // A deadline in the line that opens a list holds for each of its items.
    let mut lead_due = None;
    for line in own.lines() {
        let trimmed = line.trim();
        let bullet = trimmed.starts_with(['-', '*', '•'])
            || trimmed.chars().next().is_some_and(|c| c.is_ascii_digit()) && trimmed.contains(". ");
        if !bullet && !trimmed.is_empty() && !is_list_lead(trimmed) {
            list_request = false;
        }
        for sentence in sentences(line) {
            if is_list_lead(&sentence) {
                list_request = true;
                lead_due = dates::due_date(&sentence, mail.date);
                continue;
            }
            let kind = if bullet && list_request && has_task_verb(&core(&sentence)) {
                Some(("request", 0.8))
            } else {
                classify(&sentence)
            };
            let Some((kind, mut confidence)) = kind else {
                continue;
            };
            let mut due = dates::due_date(&sentence, mail.date);
            if bullet && list_request && due.is_none() {
                due = lead_due;
            }
            if due.is_some() {
                confidence = (confidence + 0.05).min(0.99);
            }
            out.push(ActionItem {
                kind,
                sentence,
                by: mail.from.to_string(),
                for_: mail.to.to_vec(),
                due,
                confidence,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(text: &str) -> Vec<ActionItem> {
        let to = vec!["ada@example.com".to_string()];
        extract(&Mail {
            text,
            from: "zoe@example.com",
            to: &to,
            date: NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(),
        })
    }

    #[test]
    fn requests_commitments_and_lists() {
        let items = mail("Hi Ada,\n\nCould you send me the Q3 report by Friday? I'll review the deck before 5 Dec.\n\nCould you:\n- book the room\n- print the agenda\n\nThanks,\nZoë");
        let kinds: Vec<(&str, Option<String>)> = items
            .iter()
            .map(|i| (i.kind, i.due.map(|d| d.to_string())))
            .collect();
        assert_eq!(
            kinds,
            [
                ("request", Some("2026-12-04".into())),
                ("commitment", Some("2026-12-05".into())),
                ("request", None),
                ("request", None)
            ]
        );
        assert_eq!(items[0].by, "zoe@example.com");
        assert_eq!(items[0].for_, ["ada@example.com"]);
    }

    #[test]
    fn lookalikes_and_quotes_are_not_items() {
        assert!(mail("Please find attached the invoice. Let me know if you have any questions. Thanks in advance!").is_empty());
        assert!(
            mail("Can you believe this weather? I will be out of office until Monday.").is_empty()
        );
        assert!(mail("What time works for you?").is_empty());
        assert!(mail("If you need anything, I can help.").is_empty());
        assert!(
            mail("Thanks!\n\nOn Tue, Zoë wrote:\n> Could you send the deck by Friday?").is_empty()
        );
    }
}
