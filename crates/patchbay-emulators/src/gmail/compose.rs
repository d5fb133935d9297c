//! A small description of an email, turned into RFC 822 bytes by `mail-builder`. Used by the
//! seeded mailboxes and by tests that deliver mail. Boundaries derive from the Message-ID, so
//! the same mail always builds to the same bytes (generated messages are rebuilt on demand).

use chrono::{DateTime, Utc};
use mail_builder::headers::address::Address;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::message_id::MessageId;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::{BodyPart, MimePart};
use mail_builder::MessageBuilder;
use std::hash::{DefaultHasher, Hash, Hasher};

/// An email to build: addresses are `(display name, address)`, the name may be empty.
#[derive(Debug, Clone, Default)]
pub struct Mail {
    pub from: (String, String),
    pub to: Vec<(String, String)>,
    pub cc: Vec<(String, String)>,
    pub subject: String,
    /// The `Date` header; now when absent.
    pub date: Option<DateTime<Utc>>,
    /// Without angle brackets; one is made up when absent.
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub text: Option<String>,
    /// Sends the text body as ISO-8859-1 instead of UTF-8.
    pub latin1: bool,
    pub html: Option<String>,
    /// An inline `text/calendar` alternative: `(method, ics)`.
    pub calendar: Option<(String, String)>,
    pub attachments: Vec<Attachment>,
    /// Extra headers, e.g. `List-Unsubscribe`.
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Attachment {
    pub filename: String,
    pub mime_type: String,
    pub data: Vec<u8>,
}

fn named(name: &str, address: &str) -> (String, String) {
    (name.to_string(), address.to_string())
}

impl Mail {
    pub fn new(from: &str, subject: &str) -> Self {
        Mail {
            from: named("", from),
            subject: subject.to_string(),
            ..Default::default()
        }
    }

    pub fn from_named(mut self, name: &str, address: &str) -> Self {
        self.from = named(name, address);
        self
    }

    pub fn to(mut self, address: &str) -> Self {
        self.to.push(named("", address));
        self
    }

    pub fn to_named(mut self, name: &str, address: &str) -> Self {
        self.to.push(named(name, address));
        self
    }

    pub fn cc_named(mut self, name: &str, address: &str) -> Self {
        self.cc.push(named(name, address));
        self
    }

    pub fn date(mut self, date: DateTime<Utc>) -> Self {
        self.date = Some(date);
        self
    }

    pub fn message_id(mut self, id: &str) -> Self {
        self.message_id = Some(id.trim_matches(['<', '>']).to_string());
        self
    }

    /// Makes this a reply to `parent` (a Message-ID), whose own references come first.
    pub fn reply_to(mut self, parent: &str, earlier: &[&str]) -> Self {
        let parent = parent.trim_matches(['<', '>']).to_string();
        self.references = earlier
            .iter()
            .map(|r| r.trim_matches(['<', '>']).into())
            .collect();
        self.references.push(parent.clone());
        self.in_reply_to = Some(parent);
        self
    }

    pub fn text(mut self, text: &str) -> Self {
        self.text = Some(text.to_string());
        self
    }

    pub fn latin1_text(mut self, text: &str) -> Self {
        self.latin1 = true;
        self.text(text)
    }

    pub fn html(mut self, html: &str) -> Self {
        self.html = Some(html.to_string());
        self
    }

    pub fn calendar(mut self, method: &str, ics: &str) -> Self {
        self.calendar = Some((method.to_string(), ics.to_string()));
        self
    }

    pub fn attach(mut self, filename: &str, mime_type: &str, data: Vec<u8>) -> Self {
        self.attachments.push(Attachment {
            filename: filename.to_string(),
            mime_type: mime_type.to_string(),
            data,
        });
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// The Message-ID the built message carries.
    pub fn id(&self) -> String {
        self.message_id.clone().unwrap_or_else(|| {
            let domain = self.from.1.rsplit('@').next().unwrap_or("mail.example.com");
            format!(
                "{:016x}.{:08x}@{domain}",
                self.hash(),
                rand::random::<u32>()
            )
        })
    }

    fn hash(&self) -> u64 {
        let mut h = DefaultHasher::new();
        (
            &self.subject,
            &self.from,
            &self.to,
            &self.message_id,
            &self.text,
        )
            .hash(&mut h);
        h.finish()
    }

    /// The message as RFC 822 bytes.
    pub fn to_raw(&self) -> Vec<u8> {
        let id = self.id();
        let date = self.date.unwrap_or_else(Utc::now);
        let mut b = MessageBuilder::new()
            .message_id(id.clone())
            .date(date.timestamp())
            .from(address(&self.from))
            .subject(self.subject.as_str());
        if !self.to.is_empty() {
            b = b.to(Address::new_list(self.to.iter().map(address).collect()));
        }
        if !self.cc.is_empty() {
            b = b.cc(Address::new_list(self.cc.iter().map(address).collect()));
        }
        if let Some(parent) = &self.in_reply_to {
            b = b.in_reply_to(parent.as_str());
        }
        if !self.references.is_empty() {
            b = b.references(MessageId::new_list(
                self.references.iter().map(String::as_str),
            ));
        }
        for (name, value) in &self.headers {
            b = b.header(name.as_str(), Raw::new(value.as_str()));
        }
        let mut boundaries = Boundaries { seed: &id, n: 0 };
        b.body(self.tree(&mut boundaries))
            .write_to_vec()
            .unwrap_or_default()
    }

    fn tree(&self, boundaries: &mut Boundaries) -> MimePart<'_> {
        let mut alternatives = Vec::new();
        if let Some(text) = &self.text {
            alternatives.push(if self.latin1 {
                let bytes: Vec<u8> = text
                    .chars()
                    .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
                    .collect();
                let ct = ContentType::new("text/plain").attribute("charset", "iso-8859-1");
                MimePart::new(ct, BodyPart::Binary(bytes.into()))
            } else {
                MimePart::new("text/plain", text.as_str())
            });
        }
        if let Some(html) = &self.html {
            alternatives.push(MimePart::new("text/html", html.as_str()));
        }
        if let Some((method, ics)) = &self.calendar {
            let ct = ContentType::new("text/calendar")
                .attribute("charset", "UTF-8")
                .attribute("method", method.as_str());
            alternatives.push(MimePart::new(ct, ics.as_str()));
        }
        let main = match alternatives.len() {
            0 => MimePart::new("text/plain", ""),
            1 => alternatives.remove(0),
            _ => boundaries.multipart("multipart/alternative", alternatives),
        };
        if self.attachments.is_empty() {
            return main;
        }
        let mut parts = vec![main];
        for a in &self.attachments {
            let ct = ContentType::new(a.mime_type.as_str()).attribute("name", a.filename.as_str());
            let part = MimePart::new(ct, BodyPart::Binary(a.data.as_slice().into()));
            parts.push(part.attachment(a.filename.as_str()));
        }
        boundaries.multipart("multipart/mixed", parts)
    }
}

fn address(a: &(String, String)) -> Address<'_> {
    let name = Some(a.0.as_str()).filter(|n| !n.is_empty());
    Address::new_address(name, a.1.as_str())
}

/// Gmail-looking boundaries (`000000000000` and 12 hex digits), one per multipart.
struct Boundaries<'a> {
    seed: &'a str,
    n: u32,
}

impl Boundaries<'_> {
    fn multipart<'x>(&mut self, mime_type: &'x str, parts: Vec<MimePart<'x>>) -> MimePart<'x> {
        let mut h = DefaultHasher::new();
        (self.seed, self.n).hash(&mut h);
        self.n += 1;
        let boundary = format!("000000000000{:012x}", h.finish() & 0xffff_ffff_ffff);
        MimePart::new(
            ContentType::new(mime_type).attribute("boundary", boundary),
            parts,
        )
    }
}
