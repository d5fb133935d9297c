//! Gmail's search syntax (`q`): words and `"phrases"`, `-negation`, `OR`, `{a b}`, `( )`, and
//! the operators `from: to: cc: bcc: subject: label: in: is: has: category: filename:
//! newer_than: older_than: after: before: larger: smaller: rfc822msgid:`. Unknown operators
//! are searched as words, as Gmail does.

use super::labels::Labels;
use super::parse::Meta;
use super::store::{Msg, Store};
use chrono::NaiveDate;
use std::borrow::Cow;
use std::cell::OnceCell;

#[derive(Debug, Clone)]
enum Term {
    All(Vec<Term>),
    Any(Vec<Term>),
    Not(Box<Term>),
    /// A label id; `None` for a label that does not exist (matches nothing).
    Label(Option<String>),
    From(String),
    To(String),
    Subject(String),
    Word(String),
    /// Internal date at or after / before, in epoch milliseconds.
    After(i64),
    Before(i64),
    HasAttachment,
    Filename(String),
    Larger(usize),
    Smaller(usize),
    MessageId(String),
    Anything,
}

#[derive(Debug, Clone)]
pub struct Query {
    term: Term,
    /// The query names TRASH or SPAM (or `in:anywhere`), which lifts their exclusion.
    pub wants_spam_trash: bool,
}

#[derive(Debug, PartialEq)]
enum Token {
    Open,
    Close,
    OpenBrace,
    CloseBrace,
    Minus,
    Or,
    Word(String),
}

fn tokenize(q: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = q.chars().peekable();
    let mut word = String::new();
    let flush = |word: &mut String, tokens: &mut Vec<Token>| {
        if !word.is_empty() {
            let w = std::mem::take(word);
            tokens.push(if w == "OR" { Token::Or } else { Token::Word(w) });
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                for c in chars.by_ref() {
                    if c == '"' {
                        break;
                    }
                    word.push(c);
                }
                if word.is_empty() {
                    word.push(' ');
                }
            }
            // `subject:(a b)` is `(subject:a subject:b)`.
            '(' if word.ends_with(':') => {
                let op = std::mem::take(&mut word);
                let inner: String = chars.by_ref().take_while(|c| *c != ')').collect();
                tokens.push(Token::Open);
                for w in inner.split_whitespace() {
                    tokens.push(if w == "OR" {
                        Token::Or
                    } else {
                        Token::Word(format!("{op}{w}"))
                    });
                }
                tokens.push(Token::Close);
            }
            '(' | ')' | '{' | '}' => {
                flush(&mut word, &mut tokens);
                tokens.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    '{' => Token::OpenBrace,
                    _ => Token::CloseBrace,
                });
            }
            '-' if word.is_empty() => tokens.push(Token::Minus),
            c if c.is_whitespace() => flush(&mut word, &mut tokens),
            c => word.push(c),
        }
    }
    flush(&mut word, &mut tokens);
    tokens
}

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    labels: &'a Labels,
    now_ms: i64,
    wants_spam_trash: bool,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    /// Terms up to `end` (or the end), joined by AND, with OR binding tighter.
    fn sequence(&mut self, end: Option<Token>) -> Vec<Term> {
        let mut terms = Vec::new();
        while let Some(token) = self.peek() {
            if end.as_ref() == Some(token) {
                self.at += 1;
                break;
            }
            if *token == Token::Or || matches!(token, Token::Close | Token::CloseBrace) {
                self.at += 1;
                continue;
            }
            let mut term = self.unary();
            while self.peek() == Some(&Token::Or) {
                self.at += 1;
                term = match (term, self.unary()) {
                    (Term::Any(mut all), next) => {
                        all.push(next);
                        Term::Any(all)
                    }
                    (first, next) => Term::Any(vec![first, next]),
                };
            }
            terms.push(term);
        }
        terms
    }

    fn unary(&mut self) -> Term {
        let Some(token) = self.tokens.get(self.at) else {
            return Term::Anything;
        };
        self.at += 1;
        match token {
            Token::Minus => Term::Not(Box::new(self.unary())),
            Token::Open => Term::All(self.sequence(Some(Token::Close))),
            Token::OpenBrace => Term::Any(self.sequence(Some(Token::CloseBrace))),
            Token::Word(w) => {
                let w = w.clone();
                self.atom(&w)
            }
            _ => Term::Anything,
        }
    }

    fn label(&mut self, name: &str) -> Term {
        let id = self.labels.resolve(name);
        if matches!(id.as_deref(), Some("TRASH" | "SPAM")) {
            self.wants_spam_trash = true;
        }
        Term::Label(id)
    }

    fn atom(&mut self, word: &str) -> Term {
        let Some((op, value)) = word.split_once(':').filter(|(_, v)| !v.is_empty()) else {
            return Term::Word(word.to_lowercase());
        };
        let v = value.to_lowercase();
        match op.to_lowercase().as_str() {
            "from" => Term::From(v),
            "to" | "cc" | "bcc" | "deliveredto" => Term::To(v),
            "subject" => Term::Subject(v),
            "label" => self.label(&v),
            "in" if v == "anywhere" => {
                self.wants_spam_trash = true;
                Term::Anything
            }
            "in" if v == "drafts" => self.label("DRAFT"),
            "in" | "is" if v == "read" => Term::Not(Box::new(self.label("UNREAD"))),
            "in" | "is" => self.label(&v),
            "category" if v == "primary" => self.label("CATEGORY_PERSONAL"),
            "category" => self.label(&format!("CATEGORY_{v}")),
            "has" if v == "attachment" => Term::HasAttachment,
            "has" if v == "userlabels" => Term::Any(self.user_labels()),
            "filename" => Term::Filename(v),
            "newer_than" | "older_than" => match age_ms(&v) {
                Some(age) if op == "newer_than" => Term::After(self.now_ms - age),
                Some(age) => Term::Before(self.now_ms - age),
                None => Term::Word(word.to_lowercase()),
            },
            "after" | "before" => match date_ms(&v) {
                Some(ms) if op == "after" => Term::After(ms),
                Some(ms) => Term::Before(ms),
                None => Term::Word(word.to_lowercase()),
            },
            "larger" | "smaller" | "size" => match bytes(&v) {
                Some(n) if op == "smaller" => Term::Smaller(n),
                Some(n) => Term::Larger(n),
                None => Term::Word(word.to_lowercase()),
            },
            "rfc822msgid" => Term::MessageId(value.trim_matches(['<', '>']).to_string()),
            _ => Term::Word(word.to_lowercase()),
        }
    }

    fn user_labels(&self) -> Vec<Term> {
        let ids = self.labels.user_ids();
        ids.into_iter().map(|id| Term::Label(Some(id))).collect()
    }
}

/// `3d`, `2m`, `1y` in milliseconds.
fn age_ms(v: &str) -> Option<i64> {
    let (n, unit) = v.split_at(v.len().checked_sub(1)?);
    let n: i64 = n.parse().ok()?;
    let day = 86_400_000;
    match unit {
        "d" => Some(n * day),
        "m" => Some(n * 30 * day),
        "y" => Some(n * 365 * day),
        _ => None,
    }
}

/// `2024/01/31`, `2024-01-31` or epoch seconds.
fn date_ms(v: &str) -> Option<i64> {
    if let Ok(secs) = v.parse::<i64>() {
        return Some(secs * 1000);
    }
    let day = NaiveDate::parse_from_str(&v.replace('-', "/"), "%Y/%m/%d").ok()?;
    Some(day.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

/// `1000`, `10K`, `5M`.
fn bytes(v: &str) -> Option<usize> {
    let (digits, factor) = match v.chars().last()? {
        'k' => (&v[..v.len() - 1], 1024),
        'm' => (&v[..v.len() - 1], 1024 * 1024),
        _ => (v, 1),
    };
    digits.parse::<usize>().ok().map(|n| n * factor)
}

impl Query {
    pub fn parse(q: &str, labels: &Labels, now_ms: i64) -> Query {
        let mut parser = Parser {
            tokens: tokenize(q),
            at: 0,
            labels,
            now_ms,
            wants_spam_trash: false,
        };
        let terms = parser.sequence(None);
        Query {
            term: Term::All(terms),
            wants_spam_trash: parser.wants_spam_trash,
        }
    }

    pub fn matches(&self, store: &Store, m: &Msg) -> bool {
        let meta = OnceCell::new();
        eval(&self.term, store, m, &meta)
    }
}

fn eval<'a>(term: &Term, store: &Store, m: &'a Msg, cell: &OnceCell<Cow<'a, Meta>>) -> bool {
    let meta = || cell.get_or_init(|| store.meta(m));
    match term {
        Term::All(terms) => terms.iter().all(|t| eval(t, store, m, cell)),
        Term::Any(terms) => terms.iter().any(|t| eval(t, store, m, cell)),
        Term::Not(t) => !eval(t, store, m, cell),
        Term::Label(id) => id.as_ref().is_some_and(|id| m.has(id)),
        Term::From(v) => meta().from.contains(v.as_str()),
        Term::To(v) => meta().to.contains(v.as_str()),
        Term::Subject(v) => meta().subject.to_lowercase().contains(v.as_str()),
        Term::Word(w) => {
            let meta = meta();
            meta.subject.to_lowercase().contains(w.as_str())
                || meta.from.contains(w.as_str())
                || meta.to.contains(w.as_str())
                || meta.body.contains(w)
        }
        Term::After(ms) => m.internal_date >= *ms,
        Term::Before(ms) => m.internal_date < *ms,
        Term::HasAttachment => !meta().filenames.is_empty(),
        Term::Filename(v) => meta().filenames.iter().any(|f| f.contains(v.as_str())),
        Term::Larger(n) => meta().size > *n,
        Term::Smaller(n) => meta().size < *n,
        Term::MessageId(id) => meta().message_id.as_deref() == Some(id.as_str()),
        Term::Anything => true,
    }
}
