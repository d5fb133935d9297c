//! The history log: records per change, type and label filters, paging and expiry.

use super::{assert_google_error, demo, get, ok, post, search};
use patchbay_emulators::gmail::Mail;
use serde_json::{json, Value};

fn history_ids(answer: &Value, field: &str) -> Vec<(String, Vec<String>)> {
    let records = answer["history"].as_array().cloned().unwrap_or_default();
    let entries = records
        .iter()
        .flat_map(|r| r[field].as_array().cloned().unwrap_or_default());
    entries
        .map(|e| {
            // labelsAdded/Removed name the change; messagesAdded carry the message's labels.
            let labels = e.get("labelIds").unwrap_or(&e["message"]["labelIds"]);
            let labels = labels.as_array().cloned().unwrap_or_default();
            let labels = labels
                .iter()
                .map(|l| l.as_str().unwrap().to_string())
                .collect();
            (e["message"]["id"].as_str().unwrap().to_string(), labels)
        })
        .collect()
}

#[tokio::test]
async fn history_records_every_change_since_a_start_id() {
    let emu = demo().await;
    let newest = emu.message(&emu.message_ids()[0]).unwrap();
    let seeded_start = newest["historyId"].as_str().unwrap().to_string();
    let nothing = ok(&emu, "history", &[("startHistoryId", &seeded_start)]).await;
    assert!(nothing["history"].is_null(), "{nothing}");
    assert_eq!(nothing["historyId"], emu.history_id().to_string());

    let start = emu.history_id().to_string();
    let (id, _) = emu.deliver(
        Mail::new("x@example.org", "Ping")
            .to("ada@example.com")
            .text("hi"),
    );
    post(
        &emu,
        &format!("messages/{id}/modify"),
        json!({"addLabelIds": ["STARRED"], "removeLabelIds": ["UNREAD"]}),
    )
    .await;
    let other = search(&emu, "from:priya").await[0].clone();
    assert!(emu.delete_message(&other));
    assert!(emu.set_labels(&id, &["INBOX", "STARRED", "IMPORTANT"]));

    let all = ok(&emu, "history", &[("startHistoryId", &start)]).await;
    assert_eq!(all["history"].as_array().unwrap().len(), 4);
    assert_eq!(all["historyId"], emu.history_id().to_string());
    let record_ids: Vec<u64> = all["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(record_ids.windows(2).all(|w| w[0] < w[1]) && record_ids[0] > start.parse().unwrap());
    assert_eq!(
        history_ids(&all, "messagesAdded"),
        [(id.clone(), vec!["INBOX".into(), "UNREAD".into()])]
    );
    let added = history_ids(&all, "labelsAdded");
    assert_eq!(added[0], (id.clone(), vec!["STARRED".to_string()]));
    assert_eq!(added[1], (id.clone(), vec!["IMPORTANT".to_string()]));
    assert_eq!(
        history_ids(&all, "labelsRemoved")[0],
        (id.clone(), vec!["UNREAD".to_string()])
    );
    assert_eq!(history_ids(&all, "messagesDeleted")[0].0, other);
    assert_eq!(all["history"][0]["messages"][0]["id"], id.as_str());

    let q = [
        ("startHistoryId", start.as_str()),
        ("historyTypes", "messageDeleted"),
        ("historyTypes", "messageAdded"),
    ];
    let some = ok(&emu, "history", &q).await;
    assert_eq!(some["history"].as_array().unwrap().len(), 2);
    let starred = ok(
        &emu,
        "history",
        &[("startHistoryId", &start), ("labelId", "IMPORTANT")],
    )
    .await;
    assert_eq!(starred["history"].as_array().unwrap().len(), 1);
    let (mut pages, mut token, mut seen) = (0, None::<String>, 0);
    loop {
        let mut q = vec![
            ("startHistoryId", start.clone()),
            ("maxResults", "1".to_string()),
        ];
        q.extend(token.clone().map(|t| ("pageToken", t)));
        let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let page = ok(&emu, "history", &q).await;
        pages += 1;
        seen += page["history"].as_array().map_or(0, Vec::len);
        match page["nextPageToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!((pages, seen), (4, 4));

    let a = get(&emu, "history", &[]).await;
    assert_google_error(&a, 400, "invalidArgument", "INVALID_ARGUMENT");
    let a = get(
        &emu,
        "history",
        &[("startHistoryId", &start), ("historyTypes", "everything")],
    )
    .await;
    assert_eq!(a.status, 400);
    emu.expire_history();
    let a = get(&emu, "history", &[("startHistoryId", &start)]).await;
    assert_google_error(&a, 404, "notFound", "NOT_FOUND");
    let current = emu.history_id().to_string();
    assert_eq!(
        get(&emu, "history", &[("startHistoryId", &current)])
            .await
            .status,
        200
    );
}
