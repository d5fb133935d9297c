//! Label changes, trash and delete, threads, labels with counts, and the history log.

use super::{all_ids, assert_google_error, call, demo, get, labels, ok, post, search};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn messages_are_relabelled_trashed_and_deleted() {
    let emu = demo().await;
    let id = search(&emu, "from:priya").await[0].clone();
    let path = format!("messages/{id}");

    let a = post(
        &emu,
        &format!("{path}/modify"),
        json!({"addLabelIds": ["STARRED", "Label_1"], "removeLabelIds": ["UNREAD"]}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let changed = a.json();
    assert_eq!(changed.as_object().unwrap().len(), 3, "{changed}");
    let now = labels(&changed);
    assert!(now.contains(&"STARRED".into()) && now.contains(&"Label_1".into()));
    assert!(!now.contains(&"UNREAD".into()));
    for bad in ["Label_99", "DRAFT", "SENT"] {
        let a = post(
            &emu,
            &format!("{path}/modify"),
            json!({"addLabelIds": [bad]}),
        )
        .await;
        assert_google_error(&a, 400, "invalidArgument", "INVALID_ARGUMENT");
        assert_eq!(
            a.json()["error"]["message"],
            format!("Invalid label: {bad}")
        );
    }

    let trashed = post(&emu, &format!("{path}/trash"), json!({})).await.json();
    assert!(labels(&trashed).contains(&"TRASH".into()));
    assert!(!labels(&trashed).contains(&"INBOX".into()));
    assert!(!search(&emu, "").await.contains(&id));
    assert!(search(&emu, "in:trash").await.contains(&id));
    let (with_trash, _) = all_ids(&emu, "messages", &[("includeSpamTrash", "true")]).await;
    assert!(with_trash.contains(&id));
    let restored = post(&emu, &format!("{path}/untrash"), json!({}))
        .await
        .json();
    assert!(!labels(&restored).contains(&"TRASH".into()));
    assert!(search(&emu, "").await.contains(&id), "back in All Mail");

    let a = call(&emu, Method::DELETE, &path, &[], None).await;
    assert_eq!(a.status, 204);
    assert_eq!(get(&emu, &path, &[]).await.status, 404);
    assert_eq!(
        post(&emu, &format!("{path}/trash"), json!({})).await.status,
        404
    );

    let unread = search(&emu, "is:unread").await;
    let a = post(
        &emu,
        "messages/batchModify",
        json!({"ids": unread, "removeLabelIds": ["UNREAD"]}),
    )
    .await;
    assert_eq!(a.status, 204);
    assert!(search(&emu, "is:unread").await.is_empty());
    let spam = search(&emu, "in:spam").await;
    let a = post(&emu, "messages/batchDelete", json!({"ids": spam})).await;
    assert_eq!(a.status, 204);
    assert!(emu.labels_of(&spam[0]).is_none());
}

#[tokio::test]
async fn threads_list_get_and_change_as_a_whole() {
    let emu = demo().await;
    let (threads, pages) = all_ids(&emu, "threads", &[("maxResults", "5")]).await;
    assert!(pages > 1);
    let page = ok(&emu, "threads", &[("maxResults", "5")]).await;
    assert_eq!(page["resultSizeEstimate"], threads.len());
    let item = &page["threads"][0];
    assert!(item["snippet"].is_string() && item["historyId"].is_string());

    let q3 = search(&emu, "subject:(Q3 report)").await;
    let thread_id = emu.message(&q3[0]).unwrap()["threadId"]
        .as_str()
        .unwrap()
        .to_string();
    let (in_label, _) = all_ids(&emu, "threads", &[("labelIds", "Label_1")]).await;
    assert_eq!(in_label, std::slice::from_ref(&thread_id));
    let thread = ok(&emu, &format!("threads/{thread_id}"), &[]).await;
    let messages = thread["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3);
    let dates: Vec<i64> = messages
        .iter()
        .map(|m| m["internalDate"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(dates.windows(2).all(|w| w[0] < w[1]), "oldest first");
    let max = messages
        .iter()
        .map(|m| m["historyId"].as_str().unwrap().parse::<u64>().unwrap())
        .max();
    assert_eq!(thread["historyId"], max.unwrap().to_string());
    let meta = ok(
        &emu,
        &format!("threads/{thread_id}"),
        &[("format", "metadata"), ("metadataHeaders", "Subject")],
    )
    .await;
    assert_eq!(
        meta["messages"][2]["payload"]["headers"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let a = get(&emu, &format!("threads/{thread_id}"), &[("format", "raw")]).await;
    assert_google_error(&a, 400, "invalidArgument", "INVALID_ARGUMENT");

    let a = post(
        &emu,
        &format!("threads/{thread_id}/modify"),
        json!({"removeLabelIds": ["Label_1"]}),
    )
    .await;
    assert_eq!(a.json()["messages"].as_array().unwrap().len(), 3);
    assert!(search(&emu, "label:finance").await.is_empty());
    post(&emu, &format!("threads/{thread_id}/trash"), json!({})).await;
    assert_eq!(search(&emu, "in:trash subject:(Q3 report)").await.len(), 3);
    let a = call(
        &emu,
        Method::DELETE,
        &format!("threads/{thread_id}"),
        &[],
        None,
    )
    .await;
    assert_eq!(a.status, 204);
    assert_eq!(
        get(&emu, &format!("threads/{thread_id}"), &[]).await.status,
        404
    );
}

#[tokio::test]
async fn labels_are_listed_created_changed_counted_and_deleted() {
    let emu = demo().await;
    let list = ok(&emu, "labels", &[]).await;
    let all = list["labels"].as_array().unwrap();
    let by_id = |id: &str| all.iter().find(|l| l["id"] == id).cloned().unwrap();
    assert_eq!(
        by_id("INBOX"),
        json!({"id": "INBOX", "name": "INBOX", "type": "system"})
    );
    assert_eq!(by_id("SPAM")["labelListVisibility"], "labelHide");
    assert!(by_id("CATEGORY_SOCIAL")["type"] == "system");
    assert_eq!(by_id("Label_2")["color"]["backgroundColor"], "#16a766");
    assert!(
        all.iter().all(|l| l.get("messagesTotal").is_none()),
        "no counts in lists"
    );

    let inbox = ok(&emu, "labels/INBOX", &[]).await;
    let (inbox_ids, _) = all_ids(&emu, "messages", &[("labelIds", "INBOX")]).await;
    assert_eq!(inbox["messagesTotal"], inbox_ids.len());
    assert_eq!(
        inbox["messagesUnread"],
        search(&emu, "in:inbox is:unread").await.len()
    );
    let (inbox_threads, _) = all_ids(&emu, "threads", &[("labelIds", "INBOX")]).await;
    assert_eq!(inbox["threadsTotal"], inbox_threads.len());
    let finance = ok(&emu, "labels/Label_1", &[]).await;
    assert_eq!(
        (
            finance["messagesTotal"].clone(),
            finance["threadsTotal"].clone(),
            finance["threadsUnread"].clone()
        ),
        (json!(3), json!(1), json!(1))
    );

    let body = json!({"name": "Clients/Contoso", "labelListVisibility": "labelShow",
                      "messageListVisibility": "show"});
    let a = post(&emu, "labels", body).await;
    let created = a.json();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["type"], "user");
    assert_google_error(
        &post(&emu, "labels", json!({"name": "clients/contoso"})).await,
        409,
        "duplicate",
        "ALREADY_EXISTS",
    );
    assert_google_error(
        &post(&emu, "labels", json!({"name": "Inbox"})).await,
        400,
        "invalidArgument",
        "INVALID_ARGUMENT",
    );
    assert_google_error(
        &post(&emu, "labels", json!({"name": ""})).await,
        400,
        "invalidArgument",
        "INVALID_ARGUMENT",
    );

    let bob = search(&emu, "from:bob.martin").await;
    post(
        &emu,
        &format!("messages/{}/modify", bob[0]),
        json!({"addLabelIds": [id]}),
    )
    .await;
    assert_eq!(search(&emu, "label:clients-contoso").await, bob);

    let patched = call(
        &emu,
        Method::PATCH,
        &format!("labels/{id}"),
        &[],
        Some(json!({"name": "Contoso"})),
    )
    .await
    .json();
    assert_eq!(
        (
            patched["name"].clone(),
            patched["labelListVisibility"].clone()
        ),
        (json!("Contoso"), json!("labelShow"))
    );
    let put = call(
        &emu,
        Method::PUT,
        &format!("labels/{id}"),
        &[],
        Some(json!({"name": "Contoso Ltd"})),
    )
    .await
    .json();
    assert!(
        put.get("labelListVisibility").is_none(),
        "PUT replaces: {put}"
    );
    let a = call(
        &emu,
        Method::PATCH,
        "labels/INBOX",
        &[],
        Some(json!({"name": "Mine"})),
    )
    .await;
    assert_eq!(a.status, 400);

    assert_eq!(
        call(&emu, Method::DELETE, &format!("labels/{id}"), &[], None)
            .await
            .status,
        204
    );
    assert!(!emu.labels_of(&bob[0]).unwrap().contains(&id));
    assert_eq!(get(&emu, &format!("labels/{id}"), &[]).await.status, 404);
    assert_eq!(
        call(&emu, Method::DELETE, "labels/INBOX", &[], None)
            .await
            .status,
        400
    );
}
