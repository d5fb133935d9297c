//! Gmail through the API: connected with Google-style OAuth (PKCE, offline access, consent)
//! against the OAuth emulator, calling the Gmail emulator: full and history-based syncs, the
//! mail context (people, invites, action items), actions, and bad input.

use crate::{both_backends, TestApp};
use base64::Engine as _;
use patchbay_emulators::gmail::{self, GmailConfig, GmailEmulator, Mail};
use patchbay_emulators::oauth2::OAuthEmulator;
use patchbay_engine::sync::jobs::RunOutcome;
use patchbay_store::testing::TestBackend;
use serde_json::{json, Value};

both_backends!(
    connect_sync_and_mail_context,
    history_sync_and_expired_history,
    actions_write_through_gmail,
    a_seeded_mailbox_syncs_whole,
    pushes_keep_the_mailbox_in_step
);

const ME: &str = "ada@example.com";

struct Setup {
    oauth: OAuthEmulator,
    mail: GmailEmulator,
    app: TestApp,
    key: String,
    id: String,
}

async fn connected(backend: TestBackend, seed_demo: bool) -> Setup {
    let oauth = crate::google_oauth(ME).await;
    let mail = gmail::spawn(GmailConfig {
        seed_demo,
        ..Default::default()
    })
    .await
    .unwrap();
    mail.accept_oauth_tokens(&oauth);
    let jwks = format!(", jwks_url: '{}'", mail.jwks_url());
    let (app, key, id) =
        crate::google_connected(backend, "google-mail", &oauth, &mail.base_url, &jwks).await;
    Setup {
        oauth,
        mail,
        app,
        key,
        id,
    }
}

/// Runs a sync of messages to its end; returns the run.
async fn sync(s: &Setup, mode: &str) -> Value {
    sync_of(s, mode, &["messages"]).await
}

async fn sync_of(s: &Setup, mode: &str, entities: &[&str]) -> Value {
    crate::sync_now(&s.app, &s.key, &s.id, mode, entities).await
}

async fn records(s: &Setup, entity: &str) -> Vec<Value> {
    crate::records_of(&s.app, &s.key, &s.id, entity).await
}

fn record<'a>(list: &'a [Value], id: &str) -> &'a Value {
    list.iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no record {id} in {list:?}"))
}

const INVITE: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nMETHOD:REQUEST\r\n\
BEGIN:VEVENT\r\nUID:offsite-2026@example.com\r\nSEQUENCE:0\r\nDTSTAMP:20261120T090000Z\r\n\
DTSTART;TZID=Europe/Berlin:20261210T100000\r\nDTEND;TZID=Europe/Berlin:20261210T120000\r\n\
SUMMARY:Offsite planning\r\nORGANIZER;CN=Zoë Müller:mailto:zoe@example.com\r\n\
ATTENDEE;CN=Ada;PARTSTAT=NEEDS-ACTION:mailto:ada@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

async fn connect_sync_and_mail_context(backend: TestBackend) {
    let s = connected(backend, false).await;
    // Google's authorize parameters: a refresh token needs offline access and consent.
    let q = s.oauth.last_authorize_query().unwrap();
    assert_eq!(q.get("access_type").map(String::as_str), Some("offline"));
    assert_eq!(q.get("prompt").map(String::as_str), Some("consent"));
    assert_eq!(
        q.get("code_challenge_method").map(String::as_str),
        Some("S256")
    );
    assert!(q["scope"].contains("gmail.modify"), "{q:?}");
    let day = |d: u32, h: u32| {
        chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 12, d, h, 0, 0).unwrap()
    };
    s.mail.deliver(
        Mail::new("zoe@example.com", "Q3 report")
            .from_named("Zoë Müller", "zoe@example.com")
            .to(ME)
            .date(day(2, 9))
            .text("Hi Ada,\n\nCould you send me the Q3 report by Friday?\n\nThanks,\nZoë"),
    );
    s.mail.deliver(
        Mail::new("zoe@example.com", "Offsite planning")
            .to(ME)
            .date(day(3, 9))
            .calendar("REQUEST", INVITE),
    );
    // The cancellation is newer, so a full sync reads it first: the request must not win.
    let cancel = INVITE
        .replace("METHOD:REQUEST", "METHOD:CANCEL")
        .replace("SEQUENCE:0", "SEQUENCE:1");
    s.mail.deliver(
        Mail::new("zoe@example.com", "Cancelled: Offsite planning")
            .to(ME)
            .date(day(4, 9))
            .calendar("CANCEL", &cancel)
            .attach("report.pdf", "application/pdf", vec![7u8; 2048]),
    );
    let run = sync(&s, "full").await;
    assert_eq!(run["added"], 3, "{run}");
    let messages = records(&s, "messages").await;
    assert_eq!(messages.len(), 3);
    let q3 = messages
        .iter()
        .find(|m| m["data"]["subject"] == "Q3 report")
        .unwrap();
    assert!(q3["data"]["text"]
        .as_str()
        .unwrap()
        .contains("Q3 report by Friday"));
    assert_eq!(q3["data"]["from"][0]["name"], "Zoë Müller");
    let cancelled = messages
        .iter()
        .find(|m| m["data"]["subject"] == "Cancelled: Offsite planning")
        .unwrap();
    assert_eq!(
        cancelled["data"]["attachments"][0]["filename"],
        "report.pdf"
    );
    assert_eq!(cancelled["data"]["attachments"][0]["size"], 2048);
    // Mail context.
    let people = records(&s, "people").await;
    let zoe = record(&people, "zoe@example.com");
    assert_eq!(zoe["data"]["count"], 3, "{zoe}");
    assert_eq!(zoe["data"]["name"], "Zoë Müller");
    let invites = records(&s, "invites").await;
    let offsite = record(&invites, "offsite-2026@example.com");
    assert_eq!(offsite["data"]["status"], "cancelled", "{offsite}");
    assert_eq!(offsite["data"]["start"]["time_zone"], "Europe/Berlin");
    let items = records(&s, "action_items").await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["data"]["kind"], "request");
    assert_eq!(items[0]["data"]["due"], "2026-12-04");
    // Unread mail to the owner and the open action item join the owner's signals.
    let (st, answer) = s.app.get("/v1/signals?owner_id=ada", &s.key).await;
    assert_eq!(st, 200, "{answer}");
    let signals = answer["signals"].as_array().unwrap();
    let task = signals
        .iter()
        .find(|x| x["kind"] == "task")
        .unwrap_or_else(|| panic!("no task in {answer}"));
    assert_eq!(task["due"], "2026-12-04");
    assert!(task["title"].as_str().unwrap().contains("Q3 report"));
    assert_eq!(
        signals.iter().filter(|x| x["kind"] == "message").count(),
        3,
        "{answer}"
    );
    // A second full sync counts nobody twice.
    sync(&s, "full").await;
    let people = records(&s, "people").await;
    assert_eq!(record(&people, "zoe@example.com")["data"]["count"], 3);
}

async fn history_sync_and_expired_history(backend: TestBackend) {
    let s = connected(backend, false).await;
    let (keep, _) = s
        .mail
        .deliver(Mail::new("bob@example.com", "Keep").to(ME).text("hello"));
    let (gone, _) = s
        .mail
        .deliver(Mail::new("bob@example.com", "Gone").to(ME).text("bye"));
    sync_of(&s, "full", &["messages", "threads"]).await;
    // Changes after the full sync: one new, one deleted, one relabelled.
    let (new, _) = s
        .mail
        .deliver(Mail::new("carol@example.com", "New").to(ME).text("news"));
    assert!(s.mail.delete_message(&gone));
    assert!(s.mail.set_labels(&keep, &["INBOX"]));
    let run = sync(&s, "incremental").await;
    assert_eq!(
        (run["added"].as_i64(), run["deleted"].as_i64()),
        (Some(1), Some(1)),
        "{run}"
    );
    assert_eq!(run["updated"], 1, "{run}");
    let messages = records(&s, "messages").await;
    let ids: Vec<&str> = messages.iter().filter_map(|m| m["id"].as_str()).collect();
    assert!(
        ids.contains(&new.as_str()) && !ids.contains(&gone.as_str()),
        "{ids:?}"
    );
    assert_eq!(record(&messages, &keep)["data"]["unread"], false);
    // Threads read the same history: the new one added, the emptied one gone.
    let run = sync_of(&s, "incremental", &["threads"]).await;
    assert_eq!(
        (run["added"].as_i64(), run["deleted"].as_i64()),
        (Some(1), Some(1)),
        "{run}"
    );
    let threads = records(&s, "threads").await;
    let thread_of = |id: &str| s.mail.message(id).unwrap()["threadId"].clone();
    assert!(
        threads.iter().any(|t| t["id"] == thread_of(&new)),
        "{threads:?}"
    );
    assert_eq!(threads.len(), 2, "{threads:?}");
    // Gmail forgot the history: the run lists the mailbox instead, and says so.
    s.mail.deliver(
        Mail::new("dan@example.com", "After expiry")
            .to(ME)
            .text("hi"),
    );
    s.mail.expire_history();
    let run = sync(&s, "incremental").await;
    assert_eq!(run["added"], 1, "{run}");
    assert!(
        run["notes"][0]
            .as_str()
            .unwrap()
            .contains("no longer keeps history"),
        "{run}"
    );
    // And the next incremental run reads history again, from the new start.
    s.mail
        .deliver(Mail::new("erin@example.com", "Later").to(ME).text("hi"));
    let run = sync(&s, "incremental").await;
    assert_eq!(
        (run["added"].as_i64(), run["notes"].as_array().map(Vec::len)),
        (Some(1), Some(0)),
        "{run}"
    );
}

async fn action(s: &Setup, name: &str, input: Value) -> (u16, Value) {
    s.app
        .post(
            &format!("/v1/connections/{}/actions/{name}", s.id),
            &s.key,
            input,
        )
        .await
}

async fn actions_write_through_gmail(backend: TestBackend) {
    let s = connected(backend, false).await;
    let (first, thread) = s.mail.deliver(
        Mail::new("zoe@example.com", "Venue")
            .from_named("Zoë", "zoe@example.com")
            .to(ME)
            .message_id("<venue-1@example.com>")
            .text("Please confirm the venue by 2026-12-10.")
            .attach("floorplan.png", "image/png", vec![1, 2, 3, 4]),
    );
    // Send, with a non-ASCII subject and an attachment.
    let (st, sent) = action(&s, "send_email", json!({
        "to": ["Zoë <zoe@example.com>"], "subject": "Grüße", "text": "Hallo", "html": "<p>Hallo</p>",
        "attachments": [{"filename": "a.txt", "mime_type": "text/plain",
                          "content_base64": base64::engine::general_purpose::STANDARD.encode("hi")}]})).await;
    assert_eq!(st, 200, "{sent}");
    let raw = String::from_utf8_lossy(s.mail.sent_messages().last().unwrap()).to_string();
    assert!(
        raw.contains("multipart/mixed") && raw.contains("=?utf-8?"),
        "{raw}"
    );
    // Reply in the thread.
    let (st, reply) = action(
        &s,
        "reply_to_thread",
        json!({"thread_id": thread, "text": "Confirmed."}),
    )
    .await;
    assert_eq!(st, 200, "{reply}");
    assert_eq!(reply["result"]["thread_id"], thread.as_str());
    let raw = String::from_utf8_lossy(s.mail.sent_messages().last().unwrap()).to_string();
    assert!(raw.contains("In-Reply-To: <venue-1@example.com>"), "{raw}");
    assert!(raw.contains("Subject: Re: Venue"), "{raw}");
    // Drafts.
    let (st, draft) = action(
        &s,
        "create_draft",
        json!({"to": ["bob@example.com"], "subject": "Draft"}),
    )
    .await;
    assert_eq!(st, 200, "{draft}");
    let draft_id = draft["result"]["draft_id"].as_str().unwrap().to_string();
    let (st, _) = action(&s, "update_draft", json!({"draft_id": draft_id, "to": ["bob@example.com"], "subject": "Draft 2", "text": "body"})).await;
    assert_eq!(st, 200);
    let (st, sent_draft) = action(&s, "send_draft", json!({"draft_id": draft_id})).await;
    assert_eq!(st, 200, "{sent_draft}");
    assert!(String::from_utf8_lossy(s.mail.sent_messages().last().unwrap()).contains("Draft 2"));
    // Labels, attachment, search, trash.
    let (st, _) = action(
        &s,
        "modify_labels",
        json!({"message_id": first, "mark_read": true, "archive": true}),
    )
    .await;
    assert_eq!(st, 200);
    let labels = s.mail.labels_of(&first).unwrap();
    assert!(
        !labels.contains(&"UNREAD".to_string()) && !labels.contains(&"INBOX".to_string()),
        "{labels:?}"
    );
    let (_, thread_view) = action(&s, "get_thread", json!({"thread_id": thread})).await;
    let attachment_id = thread_view["result"]["messages"][0]["attachments"][0]["attachment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (st, att) = action(
        &s,
        "get_attachment",
        json!({"message_id": first, "attachment_id": attachment_id}),
    )
    .await;
    assert_eq!(st, 200, "{att}");
    assert_eq!(
        att["result"]["content_base64"],
        base64::engine::general_purpose::STANDARD.encode([1u8, 2, 3, 4])
    );
    let (st, too_big) = action(
        &s,
        "get_attachment",
        json!({"message_id": first, "attachment_id": attachment_id, "max_bytes": 2}),
    )
    .await;
    assert_eq!(st, 422, "{too_big}");
    let (st, found) = action(&s, "search", json!({"q": "subject:Venue"})).await;
    assert_eq!(st, 200, "{found}");
    assert!(
        found["result"]["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == first.as_str()),
        "{found}"
    );
    let (st, _) = action(&s, "trash", json!({"message_id": first})).await;
    assert_eq!(st, 200);
    assert!(s
        .mail
        .labels_of(&first)
        .unwrap()
        .contains(&"TRASH".to_string()));
    // Bad addresses are field errors, and nothing is sent.
    let before = s.mail.sent_messages().len();
    let (st, bad) = action(
        &s,
        "send_email",
        json!({"to": ["zoe@example.com", "not-an-address"], "text": "x"}),
    )
    .await;
    assert_eq!(st, 422, "{bad}");
    assert!(bad.to_string().contains("to[1]"), "{bad}");
    assert_eq!(s.mail.sent_messages().len(), before);
    // Gmail's quota answer (403 rateLimitExceeded) waits and retries inside a sync.
    s.mail.rate_limit_next_403(1);
    sync(&s, "full").await;
}

async fn a_seeded_mailbox_syncs_whole(backend: TestBackend) {
    let s = connected(backend, true).await;
    let run = sync(&s, "full").await;
    let messages = records(&s, "messages").await;
    // Like Gmail's own list, a sync leaves spam and trash out.
    let listed = s
        .mail
        .message_ids()
        .iter()
        .filter(|id| {
            let labels = s.mail.labels_of(id).unwrap_or_default();
            !labels.iter().any(|l| l == "SPAM" || l == "TRASH")
        })
        .count();
    assert_eq!(messages.len(), listed, "{run}");
    assert!(!messages.is_empty());
    // Realistic mail gives people, invites and action items, and nothing failed to parse
    // badly enough to stop the run.
    assert!(!records(&s, "people").await.is_empty());
    assert!(!records(&s, "invites").await.is_empty());
    assert!(!records(&s, "action_items").await.is_empty());
}

const TOPIC: &str = "projects/acme-mail/topics/gmail-ada";
const PUSHER: &str = "gmail-push@acme-mail.iam.gserviceaccount.com";

/// Posts a push to the connection's webhook URL with `token`.
async fn push(s: &Setup, token: Option<&str>, message_id: &str) -> u16 {
    let data = base64::engine::general_purpose::STANDARD
        .encode(json!({"emailAddress": ME, "historyId": "1"}).to_string());
    let mut req = s
        .app
        .client
        .post(format!("{}/v1/webhooks/google-mail/{}", s.app.base, s.id))
        .json(&json!({"message": {"data": data, "messageId": message_id,
            "publishTime": "2026-12-05T08:00:00Z"},
            "subscription": "projects/acme-mail/subscriptions/patchbay"}));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap().status().as_u16()
}

/// A connection with a Pub/Sub topic keeps a `users.watch` alive; Gmail's pushes, verified by
/// their Google-signed token, sync what changed; anything unverified gets 401; disconnecting
/// stops the watch.
async fn pushes_keep_the_mailbox_in_step(backend: TestBackend) {
    let s = connected(backend, false).await;
    s.mail
        .deliver(Mail::new("bob@example.com", "Before").to(ME).text("hi"));
    sync_of(&s, "full", &["messages", "threads"]).await;
    let (status, body) = s
        .app
        .patch(
            &format!("/v1/connections/{}", s.id),
            &s.key,
            json!({"config": {"push_topic": TOPIC, "push_service_account": PUSHER}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(s.app.engine.watches().renew_due_once().await.unwrap(), 1);
    let watch = s.mail.watch().expect("users.watch was called");
    assert_eq!(watch.topic_name, TOPIC);
    let row = s
        .app
        .engine
        .store()
        .get_watch(&s.id)
        .await
        .unwrap()
        .unwrap();
    let now = patchbay_core::now_ms();
    assert_eq!(row.expires_at, Some(watch.expiration));
    // Renewed at half its remaining life: about three and a half days from now.
    assert!(
        (row.renew_at - (now + 3 * 86_400_000 + 43_200_000)).abs() < 60_000,
        "{row:?}"
    );
    // Nothing is due again until then.
    assert_eq!(s.app.engine.watches().renew_due_once().await.unwrap(), 0);
    assert_eq!(s.mail.watch_calls(), 1);

    // The operator's push subscription to this connection's webhook URL.
    let endpoint = format!("{}/v1/webhooks/google-mail/{}", s.app.base, s.id);
    s.mail.subscribe(
        "projects/acme-mail/subscriptions/patchbay",
        TOPIC,
        &endpoint,
        None,
        PUSHER,
    );
    let (new, _) = s
        .mail
        .deliver(Mail::new("carol@example.com", "Pushed").to(ME).text("news"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !s.mail.pushes().iter().any(|p| p.status == Some(202)) {
        assert!(
            std::time::Instant::now() < deadline,
            "no push was accepted: {:?}",
            s.mail.pushes()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        s.app
            .engine
            .webhooks()
            .process_webhooks_once(10)
            .await
            .unwrap()
            >= 1
    );
    while let RunOutcome::Ran { .. } = s.app.engine.syncs().try_run_one("w").await.unwrap() {}
    let messages = records(&s, "messages").await;
    assert_eq!(record(&messages, &new)["data"]["subject"], "Pushed");
    let threads = records(&s, "threads").await;
    assert_eq!(threads.len(), 2, "{threads:?}");

    // Tokens that do not hold are refused, and nothing is stored for them.
    let iat = now / 1000;
    let claims = |f: &dyn Fn(&mut Value)| {
        let mut c = json!({"iss": "https://accounts.google.com", "aud": endpoint, "azp": "1",
            "sub": "1", "email": PUSHER, "email_verified": true, "iat": iat, "exp": iat + 3600});
        f(&mut c);
        s.mail.sign_push_token(&c)
    };
    assert_eq!(push(&s, None, "m-none").await, 401);
    assert_eq!(push(&s, Some("not-a-jwt"), "m-garbage").await, 401);
    let wrong_audience = claims(&|c| c["aud"] = json!("https://elsewhere.example/push"));
    assert_eq!(push(&s, Some(&wrong_audience), "m-aud").await, 401);
    let expired = claims(&|c| {
        c["iat"] = json!(iat - 7200);
        c["exp"] = json!(iat - 3600);
    });
    assert_eq!(push(&s, Some(&expired), "m-exp").await, 401);
    let stranger = claims(&|c| c["email"] = json!("someone@else.iam.gserviceaccount.com"));
    assert_eq!(push(&s, Some(&stranger), "m-email").await, 401);
    let foreign = claims(&|c| c["iss"] = json!("https://issuer.example"));
    assert_eq!(push(&s, Some(&foreign), "m-iss").await, 401);
    let good = claims(&|_| {});
    let mut forged: Vec<String> = good.split('.').map(str::to_string).collect();
    forged[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        json!({"iss": "https://accounts.google.com", "aud": endpoint, "email": PUSHER,
            "email_verified": true, "iat": iat, "exp": iat + 3600})
        .to_string(),
    );
    assert_eq!(push(&s, Some(&forged.join(".")), "m-forged").await, 401);
    let (_, events) = s
        .app
        .get(&format!("/v1/connections/{}/webhook-events", s.id), &s.key)
        .await;
    let stored = events["data"].as_array().map_or(0, Vec::len);
    assert_eq!(push(&s, Some(&good), "m-good").await, 202);
    assert_eq!(push(&s, Some(&good), "m-good").await, 200, "a redelivery");
    let (_, events) = s
        .app
        .get(&format!("/v1/connections/{}/webhook-events", s.id), &s.key)
        .await;
    assert_eq!(
        events["data"].as_array().map_or(0, Vec::len),
        stored + 1,
        "only the verified push is stored, once: {events}"
    );

    // Renewal: due again, Gmail is asked again; a failure is kept and retried later.
    let state = row.state.clone().unwrap();
    let store = s.app.engine.store();
    store
        .watch_renewed(&s.id, &state, watch.expiration, now - 1, now)
        .await
        .unwrap();
    assert_eq!(s.app.engine.watches().renew_due_once().await.unwrap(), 1);
    assert_eq!(s.mail.watch_calls(), 2);
    store
        .watch_renewed(&s.id, &state, watch.expiration, now - 1, now)
        .await
        .unwrap();
    s.mail.rate_limit_next_429(1);
    assert_eq!(s.app.engine.watches().renew_due_once().await.unwrap(), 0);
    let failed = store.get_watch(&s.id).await.unwrap().unwrap();
    assert_eq!(failed.attempts, 1);
    assert!(
        failed.error.as_deref().unwrap().contains("rate limiting"),
        "{failed:?}"
    );
    assert!(failed.renew_at > patchbay_core::now_ms(), "retried later");

    // Dropping the topic stops the watch; disconnecting stops one too.
    let (status, _) = s
        .app
        .patch(
            &format!("/v1/connections/{}", s.id),
            &s.key,
            json!({"config": {"push_topic": null}}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(s.mail.watch().is_none());
    assert_eq!(s.mail.stop_calls(), 1);
    let (status, _) = s
        .app
        .patch(
            &format!("/v1/connections/{}", s.id),
            &s.key,
            json!({"config": {"push_topic": TOPIC}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(s.app.engine.watches().renew_due_once().await.unwrap(), 1);
    assert!(s.mail.watch().is_some());
    let (status, _) = s
        .app
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/connections/{}", s.id),
            &s.key,
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert!(s.mail.watch().is_none(), "disconnecting stops the watch");
    assert_eq!(s.mail.stop_calls(), 2);
}
