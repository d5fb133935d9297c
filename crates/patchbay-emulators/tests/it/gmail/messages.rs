//! Listing, search, the message formats, attachments, invitations and generated mail.

use super::{all_ids, assert_google_error, demo, get, header, labels, ok, parts, search, unb64};
use patchbay_emulators::gmail::{self, GmailConfig};
use serde_json::Value;
use std::time::Instant;

#[tokio::test]
async fn lists_newest_first_in_pages_without_spam_and_trash() {
    let emu = demo().await;
    let (ids, pages) = all_ids(&emu, "messages", &[("maxResults", "4")]).await;
    let everything = emu.message_ids();
    let hidden: Vec<&String> = everything
        .iter()
        .filter(|id| {
            let labels = emu.labels_of(id).unwrap();
            labels.iter().any(|l| l == "TRASH" || l == "SPAM")
        })
        .collect();
    assert_eq!(
        hidden.len(),
        2,
        "the demo has one spam and one trashed message"
    );
    let visible: Vec<String> = everything
        .iter()
        .filter(|id| !hidden.contains(id))
        .cloned()
        .collect();
    assert_eq!(ids, visible, "newest first, each once");
    assert_eq!(pages, visible.len().div_ceil(4));

    let first = ok(&emu, "messages", &[("maxResults", "4")]).await;
    assert_eq!(first["resultSizeEstimate"], visible.len());
    assert_eq!(first["messages"].as_array().unwrap().len(), 4);
    assert!(first["messages"][0]["threadId"].is_string());

    let (with_trash, _) = all_ids(&emu, "messages", &[("includeSpamTrash", "true")]).await;
    assert_eq!(with_trash, everything);
    let (spam, _) = all_ids(&emu, "messages", &[("labelIds", "SPAM")]).await;
    assert_eq!(spam.len(), 1);
    let none = ok(&emu, "messages", &[("q", "zzzznothing")]).await;
    assert_eq!(none, serde_json::json!({"resultSizeEstimate": 0}));
}

#[tokio::test]
async fn label_ids_combine_and_max_results_is_capped_at_500() {
    let config = GmailConfig {
        generated: 700,
        ..Default::default()
    };
    let emu = gmail::spawn(config).await.unwrap();
    let page = ok(&emu, "messages", &[("maxResults", "1000")]).await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 500);
    assert_eq!(page["resultSizeEstimate"], 700);
    let default = ok(&emu, "messages", &[]).await;
    assert_eq!(default["messages"].as_array().unwrap().len(), 100);

    let both = [("labelIds", "INBOX"), ("labelIds", "UNREAD")];
    let (unread_inbox, _) = all_ids(&emu, "messages", &both).await;
    assert!(!unread_inbox.is_empty());
    for id in &unread_inbox {
        let labels = emu.labels_of(id).unwrap();
        assert!(labels.contains(&"INBOX".into()) && labels.contains(&"UNREAD".into()));
    }
    assert_eq!(unread_inbox, search(&emu, "in:inbox is:unread").await);
}

#[tokio::test]
async fn search_understands_gmail_operators() {
    let emu = demo().await;
    let count = |ids: Vec<String>| ids.len();
    assert_eq!(
        count(search(&emu, "from:zoe.mueller subject:\"Q3 report\"").await),
        2
    );
    assert_eq!(count(search(&emu, "subject:(Q3 report)").await), 3);
    assert_eq!(count(search(&emu, "label:finance").await), 3);
    assert_eq!(count(search(&emu, "label:finance is:unread").await), 1);
    assert_eq!(count(search(&emu, "label:finance -is:unread").await), 2);
    assert_eq!(
        count(search(&emu, "headcount").await),
        1,
        "words in the body"
    );
    assert_eq!(count(search(&emu, "from:lena OR from:priya").await), 3);
    assert_eq!(
        count(search(&emu, "{from:lena from:priya} is:unread").await),
        2
    );
    assert_eq!(count(search(&emu, "has:attachment filename:pdf").await), 2);
    assert_eq!(count(search(&emu, "filename:invite.ics").await), 2);
    assert_eq!(count(search(&emu, "in:sent").await), 4);
    assert_eq!(count(search(&emu, "to:yuki.tanaka").await), 1);
    assert_eq!(count(search(&emu, "category:promotions").await), 1);
    assert_eq!(
        count(search(&emu, "in:anywhere category:promotions").await),
        2
    );
    assert_eq!(count(search(&emu, "in:trash").await), 1);
    assert_eq!(
        count(search(&emu, "rfc822msgid:<lyon.2026@example.fr>").await),
        1
    );
    assert_eq!(count(search(&emu, "label:no-such-label").await), 0);

    let recent = search(&emu, "newer_than:2d").await;
    let older = search(&emu, "older_than:2d").await;
    assert!(!recent.is_empty() && !older.is_empty());
    assert_eq!(recent.len() + older.len(), search(&emu, "").await.len());
    let now = chrono::Utc::now().timestamp_millis();
    for id in recent {
        let m = ok(&emu, &format!("messages/{id}"), &[("format", "minimal")]).await;
        let date: i64 = m["internalDate"].as_str().unwrap().parse().unwrap();
        assert!(now - date <= 2 * 86_400_000 + 60_000);
    }
}

async fn first(emu: &gmail::GmailEmulator, q: &str) -> Value {
    let ids = search(emu, q).await;
    ok(emu, &format!("messages/{}", ids.last().expect(q)), &[]).await
}

#[tokio::test]
async fn the_formats_render_one_message_four_ways() {
    let emu = demo().await;
    let full = first(&emu, "filename:Contoso-Example").await;
    let id = full["id"].as_str().unwrap();
    for field in ["threadId", "snippet", "historyId", "internalDate"] {
        assert!(full[field].is_string(), "{field}");
    }
    assert_eq!(full["payload"]["mimeType"], "multipart/mixed");
    assert_eq!(full["payload"]["partId"], "");
    let all = parts(&full["payload"]);
    let pdf = all
        .iter()
        .find(|p| p["filename"] == "Contoso-Example-agreement-signed.pdf")
        .unwrap();
    assert_eq!(pdf["partId"], "1");
    assert_eq!(pdf["mimeType"], "application/pdf");
    assert!(pdf["body"]["data"].is_null());
    let attachment_id = pdf["body"]["attachmentId"].as_str().unwrap();
    let size = pdf["body"]["size"].as_u64().unwrap();
    let text = all.iter().find(|p| p["mimeType"] == "text/plain").unwrap();
    let body = String::from_utf8(unb64(&text["body"]["data"])).unwrap();
    assert!(body.contains("countersigned agreement"));
    assert_eq!(text["body"]["size"], body.len());

    let a = ok(
        &emu,
        &format!("messages/{id}/attachments/{attachment_id}"),
        &[],
    )
    .await;
    let bytes = unb64(&a["data"]);
    assert!(bytes.starts_with(b"%PDF-1.4") && bytes.ends_with(b"%%EOF\n"));
    assert_eq!(bytes.len() as u64, size);
    assert_eq!(a["size"], size);
    let a = get(&emu, &format!("messages/{id}/attachments/bogus"), &[]).await;
    assert_eq!(a.status, 400);

    let raw = ok(&emu, &format!("messages/{id}"), &[("format", "raw")]).await;
    let raw_bytes = unb64(&raw["raw"]);
    assert_eq!(raw["sizeEstimate"], raw_bytes.len());
    assert!(raw["payload"].is_null());
    let text = String::from_utf8_lossy(&raw_bytes);
    assert!(text.contains("Message-ID: <agreement.2027.signed@contoso.example>"));

    let q = [
        ("format", "metadata"),
        ("metadataHeaders", "subject"),
        ("metadataHeaders", "From"),
    ];
    let meta = ok(&emu, &format!("messages/{id}"), &q).await;
    let names: Vec<&str> = meta["payload"]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["From", "Subject"]);
    assert!(meta["payload"]["parts"].is_null());
    assert_eq!(
        header(&meta["payload"], "Subject").unwrap(),
        "Signed agreement: Contoso × Example (2027)"
    );

    let minimal = ok(&emu, &format!("messages/{id}"), &[("format", "minimal")]).await;
    assert!(minimal["payload"].is_null() && minimal["raw"].is_null());
    assert_eq!(labels(&minimal), labels(&full));
    assert_eq!(minimal["sizeEstimate"], raw["sizeEstimate"]);

    let a = get(&emu, &format!("messages/{id}"), &[("format", "compact")]).await;
    assert_google_error(&a, 400, "invalidArgument", "INVALID_ARGUMENT");
    let a = get(&emu, "messages/0123456789abcdef", &[]).await;
    assert_eq!(
        a.json(),
        serde_json::json!({"error": {"code": 404, "message": "Requested entity was not found.",
            "errors": [{"message": "Requested entity was not found.", "domain": "global",
                        "reason": "notFound"}], "status": "NOT_FOUND"}})
    );
}

#[tokio::test]
async fn headers_are_decoded_and_bodies_keep_their_charset() {
    let emu = demo().await;
    let jp = first(&emu, "from:yuki.tanaka").await;
    assert_eq!(
        header(&jp["payload"], "Subject").unwrap(),
        "来週の打ち合わせについて"
    );
    assert_eq!(
        header(&jp["payload"], "From").unwrap(),
        "田中 ゆき <yuki.tanaka@example.jp>"
    );
    assert!(jp["snippet"].as_str().unwrap().starts_with("エイダさん"));

    let fr = first(&emu, "from:francois").await;
    assert_eq!(
        header(&fr["payload"], "Content-Type").unwrap(),
        "text/plain; charset=\"iso-8859-1\""
    );
    let bytes = unb64(&fr["payload"]["body"]["data"]);
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the body stays ISO-8859-1"
    );
    let text: String = bytes.iter().map(|&b| b as char).collect();
    assert!(text.contains("réunion à Lyon") && text.contains("« Le Nord »"));
    assert!(
        fr["snippet"].as_str().unwrap().contains("d&#39;accueil"),
        "snippets are HTML-escaped"
    );

    let news = first(&emu, "from:digest@news.example.com").await;
    assert_eq!(news["payload"]["mimeType"], "text/html");
    let snippet = news["snippet"].as_str().unwrap();
    assert!(
        snippet.starts_with("The Integration Digest Hi Ada,"),
        "{snippet}"
    );
    assert!(!snippet.contains('<') && snippet.chars().count() <= 220);
    assert!(header(&news["payload"], "List-Unsubscribe")
        .unwrap()
        .contains("unsubscribe"));
}

#[tokio::test]
async fn invitations_carry_icalendar_requests_and_cancellations() {
    let emu = demo().await;
    let calendar_of = |m: &Value| -> String {
        let all = parts(&m["payload"]);
        let part = all
            .iter()
            .find(|p| p["mimeType"] == "text/calendar")
            .unwrap();
        String::from_utf8(unb64(&part["body"]["data"])).unwrap()
    };
    let invite = first(&emu, "subject:Invitation: Weekly finance sync").await;
    let ics = calendar_of(&invite);
    let uid = "UID:7kq2m9f1c0v3b8d4e6a5s2h1j0@google.com";
    for line in [
        "METHOD:REQUEST",
        uid,
        "RRULE:FREQ=WEEKLY;BYDAY=TU",
        "DTSTART;TZID=Europe/Berlin:",
        "DTEND;TZID=Europe/Berlin:",
        "ORGANIZER;CN=Zoë Müller:mailto:zoe.mueller@example.de",
        "PARTSTAT=NEEDS-ACTION",
        "LOCATION:Konferenzraum 3\\, Friedrichstraße 68",
    ] {
        assert!(ics.replace("\r\n ", "").contains(line), "{line} in {ics}");
    }
    let ct = header(
        parts(&invite["payload"])
            .iter()
            .find(|p| p["mimeType"] == "text/calendar")
            .unwrap(),
        "Content-Type",
    )
    .unwrap();
    assert!(ct.contains("method=\"REQUEST\""), "{ct}");

    let cancel = first(&emu, "subject:\"Canceled event\"").await;
    let ics = calendar_of(&cancel);
    assert!(ics.contains("METHOD:CANCEL") && ics.contains(uid) && ics.contains("STATUS:CANCELLED"));
    assert!(ics.contains("SEQUENCE:1"));

    let webinar = first(&emu, "from:events@contoso.example").await;
    let all = parts(&webinar["payload"]);
    let ics = all.iter().find(|p| p["filename"] == "invite.ics").unwrap();
    assert!(ics["mimeType"] == "text/calendar" && ics["body"]["attachmentId"].is_string());
}

#[tokio::test]
async fn generated_mail_is_large_cheap_and_stable() {
    let started = Instant::now();
    let config = GmailConfig {
        generated: 100_000,
        ..Default::default()
    };
    let emu = gmail::spawn(config).await.unwrap();
    assert!(
        started.elapsed().as_secs() < 20,
        "spawned in {:?}",
        started.elapsed()
    );
    assert_eq!(emu.message_ids().len(), 100_000);

    let ids: Vec<String> = emu.message_ids().into_iter().take(200).collect();
    let (mut attachments, mut invites, mut replies) = (0, 0, 0);
    for id in &ids {
        let m = ok(&emu, &format!("messages/{id}"), &[]).await;
        let size = m["sizeEstimate"].as_u64().unwrap();
        assert!((2_000..700_000).contains(&size), "{size}");
        let all = parts(&m["payload"]);
        attachments += all
            .iter()
            .filter(|p| p["body"]["attachmentId"].is_string())
            .count();
        invites += all
            .iter()
            .filter(|p| p["mimeType"] == "text/calendar")
            .count();
        replies += usize::from(header(&m["payload"], "In-Reply-To").is_some());
    }
    assert!((2..=30).contains(&attachments), "{attachments} attachments");
    assert!((1..=15).contains(&invites), "{invites} invitations");
    assert!(replies > 20, "{replies} replies");

    let raw = |id: String| {
        let emu = &emu;
        async move { ok(emu, &format!("messages/{id}"), &[("format", "raw")]).await["raw"].clone() }
    };
    assert_eq!(
        raw(ids[7].clone()).await,
        raw(ids[7].clone()).await,
        "rebuilt byte for byte"
    );
}
