//! More of the demo mailbox: the offsite venue thread with a deadline and an unsent draft,
//! and single messages (a Spanish request, archived mail, notifications, spam).

use super::demo::{quote, Seeder};

const LENA: (&str, &str) = ("Lena Schmidt", "lena.schmidt@example.de");
const JOSE: (&str, &str) = ("José Álvarez", "jose.alvarez@example.es");
const MARTA: (&str, &str) = ("Marta Nowak", "marta.nowak@example.pl");

/// Offsite venue: a shortlist, a reply, a deadline, and the account's unsent draft.
pub fn venue_thread(s: &mut Seeder, travel: &str, me: (&str, &str)) {
    let list = "Hi Ada,\n\nHere are the three venues that still have space in January:\n\n\
                1. Gut Sonnenhausen (near Munich), 40 rooms\n2. Schloss Elmau, 25 rooms\n\
                3. Hotel am Wannsee, Berlin, 60 rooms\n\nMy favourite is the Wannsee one, because \
                most people can get there by train.\n\nLena";
    let t1 = s.ago(7, 0);
    let first = "venue.1@example.de";
    let mail = s
        .incoming(LENA, "Offsite venue shortlist", first, t1)
        .text(list);
    s.add(mail, &["INBOX", "CATEGORY_PERSONAL", travel]);
    let reply = "Wannsee sounds good to me. Let me check the budget with Zoë first.\n\nAda";
    let t2 = s.ago(6, 20);
    let text = format!("{reply}\n\n{}", quote(t1, LENA, list));
    let mail = s
        .outgoing(
            LENA,
            "Re: Offsite venue shortlist",
            "CAB7ada.venue-2@mail.example.com",
            t2,
        )
        .reply_to(first, &[])
        .text(&text);
    s.add(mail, &["SENT", travel]);
    let deadline = "Hi Ada,\n\nThe hotel is holding the rooms for us until mid-December. Please \
                    confirm the venue by 2026-12-10, otherwise they will release the block.\n\n\
                    Thanks!\nLena\n\n-- \nLena Schmidt\nPeople & Culture";
    let text = format!("{deadline}\n\n{}", quote(t2, me, reply));
    let mail = s
        .incoming(
            LENA,
            "Re: Offsite venue shortlist",
            "venue.3@example.de",
            s.ago(1, 3),
        )
        .reply_to("CAB7ada.venue-2@mail.example.com", &[first])
        .text(&text);
    s.add(
        mail,
        &["INBOX", "UNREAD", "IMPORTANT", "CATEGORY_PERSONAL", travel],
    );
    let draft = s
        .outgoing(
            LENA,
            "Re: Offsite venue shortlist",
            "CAB7ada.venue-draft@mail.example.com",
            s.ago(0, 5),
        )
        .reply_to(
            "venue.3@example.de",
            &[first, "CAB7ada.venue-2@mail.example.com"],
        )
        .text("Hi Lena,\n\nConfirmed: let's book the Hotel am Wannsee.\n\nAda");
    let message = s.add(draft, &["DRAFT"]);
    let id = s.store.new_draft_id();
    s.store.drafts.insert(id, message);
}

/// Single messages: a Spanish request, archived mail, notifications, spam.
pub fn others(s: &mut Seeder, receipts: &str) {
    let text =
        "Hola Ada:\n\n¿Podrías revisar el presupuesto de marketing antes del jueves? Te dejo \
                el enlace a la hoja de cálculo: https://docs.example.com/sheet/2027-budget\n\n\
                Un abrazo,\nJosé";
    let mail = s
        .incoming(
            JOSE,
            "Presupuesto 2027 — ¿lo revisamos?",
            "ppto.2027@example.es",
            s.ago(2, 0),
        )
        .text(text);
    s.add(mail, &["INBOX", "UNREAD", "CATEGORY_PERSONAL"]);

    let billing = ("Example Cloud Billing", "billing@cloud.example");
    let subject = "Your receipt from Example Cloud (#2026-1187)";
    let id = "receipt.2026-1187@cloud.example";
    let mail = s
        .incoming(billing, subject, id, s.ago(20, 0))
        .text(
            "Receipt #2026-1187\n\nExample Cloud, Team plan (monthly): USD 49.00\nPaid with Visa \
               ending 4242.\n",
        )
        .html(
            "<html><body><h2>Receipt #2026-1187</h2><table><tr><td>Team plan (monthly)</td>\
               <td>USD 49.00</td></tr></table><p>Paid with Visa ending 4242.</p></body></html>",
        );
    s.add(mail, &["CATEGORY_UPDATES", receipts]);

    let mail = s
        .incoming(
            MARTA,
            "Lunch on Thursday?",
            "lunch.thu@example.pl",
            s.ago(15, 0),
        )
        .text("Hej Ada,\n\nLunch on Thursday at the Polish place? 12:30?\n\nMarta");
    s.add(mail, &["CATEGORY_PERSONAL"]);

    let github = ("Sam Rivera", "notifications@github.example");
    let mail = s
        .incoming(
            github,
            "[patchbay/patchbay] Gmail sync stops after 429 (Issue #482)",
            "patchbay/patchbay/issues/482@github.example",
            s.ago(0, 10),
        )
        .text(
            "When Gmail answers 429 the sync run is marked failed instead of retrying after \
               Retry-After.\n\nSteps: connect a mailbox with 50k messages and run a full sync.\n\n\
               --\nReply to this email directly or view it on GitHub:\n\
               https://github.example/patchbay/patchbay/issues/482",
        )
        .header(
            "List-Id",
            "patchbay/patchbay <patchbay.patchbay.github.example>",
        );
    s.add(mail, &["INBOX", "UNREAD", "CATEGORY_UPDATES"]);

    let social = ("Marta Nowak (via Social)", "notifications@social.example");
    let mail = s
        .incoming(
            social,
            "Marta mentioned you in a comment",
            "mention.99812@social.example",
            s.ago(0, 12),
        )
        .text("Marta Nowak mentioned you: \"@Ada do you have the slides from the meetup?\"")
        .html(
            "<p><b>Marta Nowak</b> mentioned you: &quot;@Ada do you have the slides from the \
               meetup?&quot;</p>",
        );
    s.add(mail, &["INBOX", "UNREAD", "CATEGORY_SOCIAL"]);

    let prize = ("Prize Department", "winner@prizes.example");
    let mail = s
        .incoming(
            prize,
            "You have been selected!!!",
            "win.000001@prizes.example",
            s.ago(2, 2),
        )
        .text("Congratulations! Claim your prize now by sending your bank details.");
    s.add(mail, &["SPAM", "UNREAD"]);
}
