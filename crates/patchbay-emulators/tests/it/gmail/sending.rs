//! Sending (JSON and upload forms), threading, drafts and delivered mail.

use super::{
    assert_google_error, b64, demo, get, header, labels, ok, post, raw_mail, search, TOKEN,
};
use crate::{http, Answer};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use patchbay_emulators::gmail::{Delivery, GmailEmulator, Mail};
use reqwest::Method;
use serde_json::{json, Value};

async fn send(emu: &GmailEmulator, raw: &[u8], thread: Option<&str>) -> Answer {
    let mut body = json!({"raw": b64(raw)});
    if let Some(t) = thread {
        body["threadId"] = t.into();
    }
    post(emu, "messages/send", body).await
}

async fn full(emu: &GmailEmulator, id: &Value) -> Value {
    ok(emu, &format!("messages/{}", id.as_str().unwrap()), &[]).await
}

#[tokio::test]
async fn sending_completes_headers_and_threads_replies() {
    let emu = demo().await;
    let a = send(
        &emu,
        &raw_mail("bob.martin@contoso.example", "Hello Bob", "Hi!", ""),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let sent = a.json();
    assert_eq!(
        sent.as_object().unwrap().len(),
        3,
        "id, threadId, labelIds: {sent}"
    );
    assert_eq!(labels(&sent), ["SENT"]);
    assert_eq!(sent["threadId"], sent["id"], "a new thread");
    let stored = full(&emu, &sent["id"]).await;
    assert_eq!(
        header(&stored["payload"], "From").unwrap(),
        "<ada@example.com>"
    );
    assert!(header(&stored["payload"], "Message-ID")
        .unwrap()
        .ends_with("@mail.gmail.com>"));
    assert!(header(&stored["payload"], "Date").is_some());
    let raws = emu.sent_messages();
    assert_eq!(raws.len(), 1);
    assert!(String::from_utf8_lossy(&raws[0]).contains("Subject: Hello Bob"));

    // In-Reply-To and a matching subject join the thread; no threadId needed.
    let lena = search(&emu, "rfc822msgid:venue.3@example.de").await;
    let thread = emu.message(&lena[0]).unwrap()["threadId"].clone();
    let refs = "In-Reply-To: <venue.3@example.de>\r\n\
                References: <venue.1@example.de> <venue.3@example.de>\r\n";
    let reply = raw_mail(
        "lena.schmidt@example.de",
        "Re: Offsite venue shortlist",
        "Booked.",
        refs,
    );
    let a = send(&emu, &reply, None).await;
    assert_eq!(a.json()["threadId"], thread);

    // A threadId joins only with a matching subject, as in Gmail.
    let q3 = search(&emu, "subject:(Q3 report)").await;
    let q3_thread = emu.message(&q3[0]).unwrap()["threadId"]
        .as_str()
        .unwrap()
        .to_string();
    let same = raw_mail("zoe.mueller@example.de", "RE: Q3 report", "Attached.", "");
    assert_eq!(
        send(&emu, &same, Some(&q3_thread)).await.json()["threadId"],
        q3_thread.as_str()
    );
    let other = raw_mail("zoe.mueller@example.de", "Something else", "Hi", "");
    let a = send(&emu, &other, Some(&q3_thread)).await.json();
    assert_eq!(a["threadId"], a["id"]);

    // To oneself: also in the inbox. Standard padded base64 is accepted.
    let own = raw_mail("Ada <ada@example.com>", "Note to self", "Milk", "");
    let a = post(&emu, "messages/send", json!({"raw": STANDARD.encode(&own)})).await;
    assert_eq!(labels(&a.json()), ["SENT", "INBOX"]);
}

#[tokio::test]
async fn bad_sends_are_refused() {
    let emu = demo().await;
    let a = post(&emu, "messages/send", json!({})).await;
    assert_google_error(&a, 400, "invalidArgument", "INVALID_ARGUMENT");
    assert_eq!(
        a.json()["error"]["message"],
        "'raw' RFC822 payload message string or uploading message via /upload/* URL required"
    );
    let a = send(&emu, b"Subject: nobody\r\n\r\nhi\r\n", None).await;
    assert_google_error(&a, 400, "invalidArgument", "INVALID_ARGUMENT");
    assert_eq!(a.json()["error"]["message"], "Recipient address required");
    let a = post(&emu, "messages/send", json!({"raw": "***"})).await;
    assert_google_error(&a, 400, "invalidArgument", "INVALID_ARGUMENT");
    let raw = raw_mail("bob@example.com", "x", "y", "");
    let a = send(&emu, &raw, Some("ffffffffffffffff")).await;
    assert_eq!(a.json()["error"]["message"], "Invalid thread_id value");
    let a = call_raw(
        &emu,
        Method::POST,
        "/gmail/v1/users/me/messages/send",
        "application/json",
        b"{nope".to_vec(),
    )
    .await;
    assert_google_error(&a, 400, "invalid", "INVALID_ARGUMENT");
    assert!(emu.sent_messages().is_empty());
}

async fn call_raw(
    emu: &GmailEmulator,
    method: Method,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Answer {
    let req = http()
        .request(method, format!("{}{path}", emu.base_url))
        .bearer_auth(TOKEN)
        .header("Content-Type", content_type)
        .body(body);
    Answer::from(req.send().await.unwrap()).await
}

#[tokio::test]
async fn the_upload_endpoint_takes_media_and_multipart() {
    let emu = demo().await;
    let raw = raw_mail(
        "priya.raman@example.in",
        "Uploaded",
        "As message/rfc822",
        "",
    );
    let path = "/upload/gmail/v1/users/me/messages/send?uploadType=media";
    let a = call_raw(&emu, Method::POST, path, "message/rfc822", raw).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(labels(&a.json()), ["SENT"]);

    let q3 = search(&emu, "subject:(Q3 report)").await;
    let thread = emu.message(&q3[0]).unwrap()["threadId"]
        .as_str()
        .unwrap()
        .to_string();
    let reply = raw_mail(
        "zoe.mueller@example.de",
        "Re: Q3 report",
        "Multipart upload",
        "",
    );
    let mut body = format!(
        "--xyz\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n\
         {{\"threadId\": \"{thread}\"}}\r\n--xyz\r\nContent-Type: message/rfc822\r\n\
         Content-Transfer-Encoding: binary\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&reply);
    body.extend_from_slice(b"\r\n--xyz--\r\n");
    let path = "/upload/gmail/v1/users/me/messages/send?uploadType=multipart";
    let a = call_raw(
        &emu,
        Method::POST,
        path,
        "multipart/related; boundary=xyz",
        body,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["threadId"], thread.as_str());
    assert!(String::from_utf8_lossy(&emu.sent_messages()[1]).contains("Multipart upload"));

    let draft = raw_mail("bob@example.com", "Draft upload", "hi", "");
    let a = call_raw(
        &emu,
        Method::POST,
        "/upload/gmail/v1/users/me/drafts?uploadType=media",
        "message/rfc822",
        draft,
    )
    .await;
    assert_eq!(labels(&a.json()["message"]), ["DRAFT"]);
}

#[tokio::test]
async fn a_draft_is_created_updated_listed_and_sent() {
    let emu = demo().await;
    let (seeded, _) = super::all_ids(&emu, "drafts", &[]).await;
    assert_eq!(seeded.len(), 1, "the demo has one draft");

    let first = raw_mail(
        "chris.okafor@example.com",
        "Deck comments",
        "First pass",
        "",
    );
    let a = post(&emu, "drafts", json!({"message": {"raw": b64(&first)}})).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let draft = a.json();
    let id = draft["id"].as_str().unwrap().to_string();
    assert!(id.starts_with('r'));
    assert_eq!(labels(&draft["message"]), ["DRAFT"]);
    let old_message = draft["message"]["id"].as_str().unwrap().to_string();

    let second = raw_mail(
        "chris.okafor@example.com",
        "Deck comments",
        "Second pass",
        "",
    );
    let put = super::call(
        &emu,
        Method::PUT,
        &format!("drafts/{id}"),
        &[],
        Some(json!({"message": {"raw": b64(&second)}})),
    )
    .await;
    assert_eq!(put.json()["id"], id.as_str());
    let new_message = put.json()["message"]["id"].as_str().unwrap().to_string();
    assert_ne!(new_message, old_message, "an update replaces the message");
    assert_eq!(
        get(&emu, &format!("messages/{old_message}"), &[])
            .await
            .status,
        404
    );

    let got = ok(&emu, &format!("drafts/{id}"), &[("format", "raw")]).await;
    assert!(String::from_utf8(super::unb64(&got["message"]["raw"]))
        .unwrap()
        .contains("Second pass"));
    let (listed, _) = super::all_ids(&emu, "drafts", &[]).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0], id, "newest first");
    assert_eq!(search(&emu, "in:drafts").await.len(), 2);

    let sent = post(&emu, "drafts/send", json!({"id": id})).await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    assert_eq!(labels(&sent.json()), ["SENT"]);
    assert_eq!(get(&emu, &format!("drafts/{id}"), &[]).await.status, 404);
    assert_eq!(emu.sent_messages().len(), 1);

    // The seeded draft answers Lena's thread and stays in it when sent.
    let venue = ok(
        &emu,
        &format!("drafts/{}", seeded[0]),
        &[("format", "minimal")],
    )
    .await;
    let sent = post(&emu, "drafts/send", json!({"id": seeded[0]}))
        .await
        .json();
    assert_eq!(sent["threadId"], venue["message"]["threadId"]);

    let a = post(&emu, "drafts/send", json!({"id": "r404"})).await;
    assert_google_error(&a, 404, "notFound", "NOT_FOUND");
    let a = post(&emu, "drafts/send", json!({})).await;
    assert_google_error(&a, 400, "invalidArgument", "INVALID_ARGUMENT");

    // No recipients: refused, and the draft stays.
    let a = post(
        &emu,
        "drafts",
        json!({"message": {"raw": b64(b"Subject: later\r\n\r\ntodo\r\n")}}),
    )
    .await;
    let lonely = a.json()["id"].as_str().unwrap().to_string();
    let a = post(&emu, "drafts/send", json!({"id": lonely})).await;
    assert_eq!(a.json()["error"]["message"], "Recipient address required");
    let deleted = super::call(&emu, Method::DELETE, &format!("drafts/{lonely}"), &[], None).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(
        get(&emu, &format!("drafts/{lonely}"), &[]).await.status,
        404
    );
}

#[tokio::test]
async fn delivered_mail_threads_by_references() {
    let emu = demo().await;
    let before = emu.message_ids().len();
    let (id, thread) = emu.deliver(
        Mail::new("zoe.mueller@example.de", "Re: Q3 report")
            .from_named("Zoë Müller", "zoe.mueller@example.de")
            .to("ada@example.com")
            .reply_to(
                "CAF3xq9Z.q3-3@mail.example.de",
                &["CAF3xq9Z.q3-1@mail.example.de"],
            )
            .text("One more: the travel costs."),
    );
    let q3 = search(&emu, "subject:(Q3 report)").await;
    assert!(q3.contains(&id));
    assert_eq!(emu.message(&q3[1]).unwrap()["threadId"], thread.as_str());
    assert_eq!(emu.labels_of(&id).unwrap(), ["INBOX", "UNREAD"]);

    let raw = raw_mail(
        "ada@example.com",
        "Plain bytes",
        "Hello",
        "From: x@example.org\r\n",
    );
    let (id, thread) = emu.deliver(Delivery::from(raw).labels(&["INBOX"]));
    assert_eq!(id, thread);
    assert_eq!(emu.labels_of(&id).unwrap(), ["INBOX"]);
    assert_eq!(emu.message_ids().len(), before + 2);
    assert_eq!(emu.message_ids()[0], id, "delivered now, so newest");
}
