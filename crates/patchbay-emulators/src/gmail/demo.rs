//! The hand-written demo mailbox, dated back from the configured moment: threads with
//! replies, quoted text and signatures; RFC 2047 names and subjects (German, French,
//! Japanese, Spanish); an ISO-8859-1 body; an HTML-only newsletter; PDF and PNG attachments;
//! requests and commitments in the text; read, unread, starred, archived, spam, trash and a
//! draft. Invitations are in [`super::demo_invites`], more mail in [`super::demo_more`].

use super::blobs::{pdf, png};
use super::compose::Mail;
use super::labels::Label;
use super::parse;
use super::store::{Source, Store, Stored};
use super::GmailConfig;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use std::sync::Arc;

pub const ZOE: (&str, &str) = ("Zoë Müller", "zoe.mueller@example.de");
pub const CHRIS: (&str, &str) = ("Chris Okafor", "chris.okafor@example.com");
const YUKI: (&str, &str) = ("田中 ゆき", "yuki.tanaka@example.jp");
const FRANCOIS: (&str, &str) = ("François Dubois", "francois.dubois@example.fr");
const BOB: (&str, &str) = ("Bob Martin", "bob.martin@contoso.example");
const PRIYA: (&str, &str) = ("Priya Raman", "priya.raman@example.in");

pub struct Seeder<'a> {
    pub store: &'a mut Store,
    pub anchor: DateTime<Utc>,
    pub me: (String, String),
}

impl Seeder<'_> {
    /// `days` and `hours` before the anchor.
    pub fn ago(&self, days: i64, hours: i64) -> DateTime<Utc> {
        self.anchor - Duration::days(days) - Duration::hours(hours)
    }

    /// A mail from `who` to the account.
    pub fn incoming(&self, who: (&str, &str), subject: &str, id: &str, at: DateTime<Utc>) -> Mail {
        Mail::new(who.1, subject)
            .from_named(who.0, who.1)
            .to_named(&self.me.0, &self.me.1)
            .message_id(id)
            .date(at)
    }

    /// A mail from the account to `who`.
    pub fn outgoing(&self, who: (&str, &str), subject: &str, id: &str, at: DateTime<Utc>) -> Mail {
        Mail::new(&self.me.1, subject)
            .from_named(&self.me.0, &self.me.1)
            .to_named(who.0, who.1)
            .message_id(id)
            .date(at)
    }

    /// Stores `mail` with `labels`, threaded by its headers; returns the Gmail id.
    pub fn add(&mut self, mail: Mail, labels: &[&str]) -> String {
        let raw = mail.to_raw();
        let meta = parse::meta(&raw);
        let thread = self.store.thread_for(&meta, None);
        let date = meta.date_ms.unwrap_or(self.anchor.timestamp_millis());
        let labels = labels.iter().map(|l| l.to_string()).collect();
        let source = Source::Stored(Arc::new(Stored { raw, meta }));
        self.store.insert(source, labels, date, thread, false).0
    }

    fn label(&mut self, name: &str, color: Option<(&str, &str)>) -> String {
        let label = Label {
            id: String::new(),
            name: name.into(),
            system: false,
            message_list_visibility: Some("show".into()),
            label_list_visibility: Some("labelShow".into()),
            color: color.map(|(text, bg)| json!({"textColor": text, "backgroundColor": bg})),
        };
        self.store
            .labels
            .add(label)
            .map(|l| l.id)
            .unwrap_or_default()
    }
}

/// "On Mon, 1 Dec 2026 at 09:12, Name <address> wrote:" and the quoted text.
pub fn quote(at: DateTime<Utc>, who: (&str, &str), text: &str) -> String {
    let when = at.format("%a, %-d %b %Y at %H:%M");
    let quoted: Vec<String> = text
        .lines()
        .map(|l| {
            if l.is_empty() {
                ">".into()
            } else {
                format!("> {l}")
            }
        })
        .collect();
    format!(
        "On {when}, {} <{}> wrote:\n{}\n",
        who.0,
        who.1,
        quoted.join("\n")
    )
}

pub fn seed(store: &mut Store, config: &GmailConfig, anchor: DateTime<Utc>) {
    let me = (config.name.clone(), config.email.clone());
    let mut s = Seeder { store, anchor, me };
    let finance = s.label("Finance", None);
    let travel = s.label("Travel", Some(("#ffffff", "#16a766")));
    let receipts = s.label("Receipts", Some(("#000000", "#fad165")));
    let me = (s.me.0.clone(), s.me.1.clone());
    let me = (me.0.as_str(), me.1.as_str());

    // Q3 report: a request, a commitment, a follow-up, signatures and quoting.
    let ask = "Hi Ada,\n\nCould you send me the Q3 report by Friday? The board pack goes out on \
               Monday and I still need the revenue breakdown per region.\n\nDanke dir!\nZoë";
    let sig = "\n\n-- \nZoë Müller\nHead of Finance · Example GmbH\nFriedrichstraße 68, 10117 \
               Berlin\n+49 30 1234 5678\n";
    let t1 = s.ago(6, 2);
    let mail = s
        .incoming(ZOE, "Q3 report", "CAF3xq9Z.q3-1@mail.example.de", t1)
        .text(&format!("{ask}{sig}"));
    s.add(
        mail,
        &[
            "INBOX",
            "IMPORTANT",
            "STARRED",
            "CATEGORY_PERSONAL",
            &finance,
        ],
    );
    let answer = "Hi Zoë,\n\nSure, I'll send it on Thursday. The regional numbers are almost \
                  done; Japan is the only one still missing.\n\nBest,\nAda";
    let t2 = s.ago(5, 18);
    let text = format!("{answer}\n\n{}", quote(t1, ZOE, ask));
    let mail = s
        .outgoing(ZOE, "Re: Q3 report", "CAB7ada.q3-2@mail.example.com", t2)
        .reply_to("CAF3xq9Z.q3-1@mail.example.de", &[])
        .text(&text);
    s.add(mail, &["SENT", &finance]);
    let follow =
        "Perfect, thank you! Could you also add the headcount numbers for each team?\n\nZoë";
    let text = format!("{follow}\n\n{}", quote(t2, me, answer));
    let mail = s
        .incoming(
            ZOE,
            "Re: Q3 report",
            "CAF3xq9Z.q3-3@mail.example.de",
            s.ago(5, 2),
        )
        .reply_to(
            "CAB7ada.q3-2@mail.example.com",
            &["CAF3xq9Z.q3-1@mail.example.de"],
        )
        .text(&text);
    s.add(mail, &["INBOX", "UNREAD", "CATEGORY_PERSONAL", &finance]);

    // A Japanese subject and name, and an English reply.
    let jp = "エイダさん\n\nお疲れ様です。田中です。\n来週の打ち合わせですが、火曜日の15時からでいかがでしょうか。\n\
              資料は前日までにお送りします。\n\nよろしくお願いいたします。\n田中 ゆき\n株式会社サンプル 東京オフィス";
    let subject = "来週の打ち合わせについて";
    let t1 = s.ago(3, 0);
    let mail = s
        .incoming(YUKI, subject, "20261201.yt.1@example.jp", t1)
        .text(jp);
    s.add(mail, &["INBOX", "UNREAD", "CATEGORY_PERSONAL"]);
    let reply =
        "Tanaka-san,\n\nTuesday at 15:00 works for me. Looking forward to the slides.\n\nBest \
                 regards,\nAda";
    let text = format!("{reply}\n\n{}", quote(t1, YUKI, jp));
    let mail = s
        .outgoing(
            YUKI,
            &format!("Re: {subject}"),
            "CAB7ada.yt-2@mail.example.com",
            s.ago(2, 20),
        )
        .reply_to("20261201.yt.1@example.jp", &[])
        .text(&text);
    s.add(mail, &["SENT"]);

    // An ISO-8859-1 body.
    let fr = "Bonjour Ada,\n\nVoici le programme de la réunion à Lyon :\n\
              - 9h00 : café d'accueil\n- 10h00 : présentation des résultats\n\
              - 12h30 : déjeuner à la brasserie « Le Nord »\n\n\
              N'oubliez pas votre badge, l'accès au bâtiment est contrôlé.\n\n\
              À bientôt,\nFrançois\n\n--\nFrançois Dubois\nDirecteur régional, Rhône-Alpes";
    let mail = s
        .incoming(
            FRANCOIS,
            "Réunion à Lyon — programme",
            "lyon.2026@example.fr",
            s.ago(8, 4),
        )
        .latin1_text(fr);
    s.add(mail, &["INBOX", "CATEGORY_PERSONAL", &travel]);

    // An HTML-only newsletter.
    let html = "<!DOCTYPE html><html><head><style>body{font-family:Arial,sans-serif}\
                .cta{color:#fff;background:#1a73e8;padding:8px 16px}</style></head><body>\
                <table width=\"600\"><tr><td><h1>The Integration Digest</h1><p>Hi Ada,</p>\
                <p>This week: five patterns for syncing data from APIs that enforce rate limits \
                &amp; quotas &mdash; cursor checkpoints, backoff with jitter, history-based \
                incremental sync, batch reads and idempotent writes.</p><ol>\
                <li>Checkpoint the cursor after every page</li><li>Honour Retry-After</li>\
                <li>Prefer change feeds over full scans</li></ol><p><a class=\"cta\" \
                href=\"https://news.example.com/read/142\">Read the full issue</a></p>\
                <p style=\"font-size:11px;color:#888\">You receive this because you subscribed \
                at news.example.com. \
                <a href=\"https://news.example.com/unsubscribe?u=ada\">Unsubscribe</a>\
                </p></td></tr></table></body></html>";
    let digest = ("The Integration Digest", "digest@news.example.com");
    let mail = s
        .incoming(
            digest,
            "This week: 5 sync patterns that survive rate limits",
            "issue-142@news.example.com",
            s.ago(1, 0),
        )
        .html(html)
        .header(
            "List-Unsubscribe",
            "<https://news.example.com/unsubscribe?u=ada>",
        )
        .header(
            "List-Id",
            "The Integration Digest <digest.news.example.com>",
        );
    s.add(mail, &["INBOX", "UNREAD", "CATEGORY_PROMOTIONS"]);
    let old = s
        .incoming(
            digest,
            "This week: webhooks without tears",
            "issue-138@news.example.com",
            s.ago(30, 0),
        )
        .html(
            "<html><body><h1>The Integration Digest</h1><p>Webhooks without tears: verify, \
               deduplicate, retry.</p></body></html>",
        );
    s.add(old, &["TRASH", "CATEGORY_PROMOTIONS"]);

    // A PDF attachment.
    let text = "Hi Ada,\n\nPlease find attached the countersigned agreement. Our legal team has \
                kept a copy.\n\nKind regards,\nBob\n\nBob Martin | Partnerships | Contoso Ltd.";
    let agreement = pdf("Contoso / Example agreement 2027 (signed)", 42_000, 7);
    let mail = s
        .incoming(
            BOB,
            "Signed agreement: Contoso × Example (2027)",
            "agreement.2027.signed@contoso.example",
            s.ago(4, 0),
        )
        .text(text)
        .attach(
            "Contoso-Example-agreement-signed.pdf",
            "application/pdf",
            agreement,
        );
    s.add(mail, &["INBOX", "IMPORTANT", "CATEGORY_PERSONAL"]);

    // A PNG screenshot with a request.
    let text =
        "Hi Ada,\n\nSee the attached screenshot: the sync dashboard shows -3 records for the \
                Gmail connection after last night's run. It started after Tuesday's deploy.\n\n\
                Could you take a look when you have a minute?\n\nThanks,\nPriya";
    let mail = s
        .incoming(
            PRIYA,
            "Dashboard shows negative sync counts",
            "dash.bug.5512@example.in",
            s.ago(2, 4),
        )
        .text(text)
        .attach("dashboard.png", "image/png", png(90_000, 11));
    s.add(mail, &["INBOX", "UNREAD", "CATEGORY_PERSONAL"]);

    // A deck and a commitment to review it.
    let deck =
        "Hi Ada,\n\nHere's v3 of the board deck. I reworked the pipeline slide and moved the \
                hiring plan to the appendix.\n\nChris";
    let t1 = s.ago(3, 6);
    let mail = s
        .incoming(CHRIS, "Board deck v3", "deck.v3.chris@example.com", t1)
        .text(deck)
        .attach(
            "board-deck-v3.pdf",
            "application/pdf",
            pdf("Board deck v3", 120_000, 13),
        );
    s.add(mail, &["INBOX", "CATEGORY_PERSONAL"]);
    let text = format!(
        "Thanks Chris. I'll review the deck before 5 Dec and send you my comments.\n\nAda\n\n{}",
        quote(t1, CHRIS, deck)
    );
    let mail = s
        .outgoing(
            CHRIS,
            "Re: Board deck v3",
            "CAB7ada.deck-2@mail.example.com",
            s.ago(3, 1),
        )
        .reply_to("deck.v3.chris@example.com", &[])
        .text(&text);
    s.add(mail, &["SENT"]);

    super::demo_more::venue_thread(&mut s, &travel, me);
    super::demo_more::others(&mut s, &receipts);
    super::demo_invites::seed(&mut s);
}
