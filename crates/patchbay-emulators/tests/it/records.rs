//! The paginated record source: paging, change tracking, auth and faults.

use crate::{http, Answer};
use patchbay_emulators::records::{self, record_id};
use patchbay_emulators::{RecordsConfig, RecordsEmulator};
use serde_json::Value;
use std::time::{Duration, Instant};

async fn emulator(config: RecordsConfig) -> RecordsEmulator {
    records::spawn(config).await.unwrap()
}

async fn get_with(emu: &RecordsEmulator, auth: Option<&str>, query: &[(&str, &str)]) -> Answer {
    let mut req = http()
        .get(format!("{}/v1/records", emu.base_url))
        .query(query);
    if let Some(auth) = auth {
        req = req.header("Authorization", auth);
    }
    Answer::from(req.send().await.unwrap()).await
}

async fn get(emu: &RecordsEmulator, query: &[(&str, &str)]) -> Answer {
    let auth = format!("Bearer {}", emu.config().api_key);
    get_with(emu, Some(&auth), query).await
}

/// Every item of a run, following `next_cursor` until it is null.
async fn list_all(emu: &RecordsEmulator, limit: usize, since: Option<&str>) -> (Vec<Value>, usize) {
    let limit = limit.to_string();
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut query = vec![("limit", limit.as_str())];
        if let Some(c) = &cursor {
            query.push(("cursor", c));
        }
        if let Some(s) = since {
            query.push(("updated_since", s));
        }
        let answer = get(emu, &query).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        let mut page = answer.json();
        let data = page["data"].as_array_mut().unwrap();
        assert!(data.len() <= limit.parse().unwrap());
        items.append(data);
        pages += 1;
        match page["next_cursor"].take() {
            Value::Null => return (items, pages),
            Value::String(next) => cursor = Some(next),
            other => panic!("next_cursor {other}"),
        }
    }
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

fn latest(items: &[Value]) -> String {
    items
        .iter()
        .map(|i| i["updated_at"].as_str().unwrap().to_string())
        .max()
        .unwrap()
}

#[tokio::test]
async fn paging_returns_each_live_record_once_in_id_order() {
    let emu = emulator(RecordsConfig {
        count: 250,
        ..Default::default()
    })
    .await;
    emu.delete(&[0, 41, 249]);
    assert_eq!(emu.live_count(), 247);
    let (items, pages) = list_all(&emu, 40, None).await;
    assert_eq!(pages, 7, "247 records in pages of 40");
    let listed = ids(&items);
    assert_eq!(
        listed,
        emu.live_ids(),
        "exactly the live set, sorted, once each"
    );
    assert!(!listed.contains(&record_id(41)));
    assert!(items.iter().all(|i| i.get("deleted").is_none()));
    assert_eq!(items[0], emu.record_json(1));
    assert_eq!(emu.record_json(41), Value::Null);

    let added = emu.add(3);
    assert_eq!(added, vec![record_id(250), record_id(251), record_id(252)]);
    let (items, _) = list_all(&emu, 5000, None).await;
    assert_eq!(ids(&items), emu.live_ids());
    assert_eq!(items.len(), 250);
}

#[tokio::test]
async fn limits_and_parameters_are_checked() {
    let emu = emulator(RecordsConfig {
        count: 30,
        default_page_size: 7,
        max_page_size: 20,
        ..Default::default()
    })
    .await;
    let page = get(&emu, &[]).await.json();
    assert_eq!(page["data"].as_array().unwrap().len(), 7);
    assert_eq!(page["next_cursor"], "7");
    let page = get(&emu, &[("limit", "20")]).await.json();
    assert_eq!(page["data"].as_array().unwrap().len(), 20);
    let page = get(&emu, &[("limit", "20"), ("cursor", "20")]).await.json();
    assert_eq!(page["data"].as_array().unwrap().len(), 10);
    assert_eq!(page["next_cursor"], Value::Null);

    for query in [
        [("limit", "21")],
        [("limit", "0")],
        [("limit", "ten")],
        [("cursor", "31")],
        [("cursor", "abc")],
        [("updated_since", "yesterday")],
    ] {
        let answer = get(&emu, &query).await;
        assert_eq!(answer.status, 400, "{query:?}: {}", answer.text);
        assert_eq!(answer.json()["error"]["type"], "invalid_request_error");
    }
}

#[tokio::test]
async fn updated_since_lists_changes_and_deletions() {
    let emu = emulator(RecordsConfig {
        count: 1000,
        record_bytes: 300,
        ..Default::default()
    })
    .await;
    let (all, _) = list_all(&emu, 5000, None).await;
    let checkpoint = latest(&all);
    let (none, pages) = list_all(&emu, 100, Some(&checkpoint)).await;
    assert!(none.is_empty());
    assert_eq!(pages, 1);

    emu.change(&[3, 17, 999]);
    emu.delete(&[5, 17]);
    let (changes, _) = list_all(&emu, 2, Some(&checkpoint)).await;
    assert_eq!(
        ids(&changes),
        [3, 5, 17, 999].map(record_id).to_vec(),
        "changed and deleted, in id order"
    );
    assert_eq!(changes[0]["version"], 2);
    assert_eq!(changes[0], emu.record_json(3));
    for deleted in [&changes[1], &changes[2]] {
        assert_eq!(deleted["deleted"], true);
        assert!(deleted.get("body").is_none());
    }
    let next = latest(&changes);
    assert!(next > checkpoint);
    assert!(list_all(&emu, 100, Some(&next)).await.0.is_empty());

    // A fraction picks an even spread of live records.
    assert_eq!(emu.change_fraction(0.1), 99, "10% of 998 live records");
    let (spread, _) = list_all(&emu, 5000, Some(&next)).await;
    assert_eq!(spread.len(), 99);
    assert!(spread.iter().all(|i| i["version"].as_u64() >= Some(2)));
    let first = spread[0]["id"].as_str().unwrap().to_string();
    let last = spread[98]["id"].as_str().unwrap().to_string();
    assert!(
        first < record_id(20) && last > record_id(980),
        "{first}..{last}"
    );
    assert_eq!(emu.change_fraction(0.0), 0);
}

#[tokio::test]
async fn requests_need_the_api_key() {
    let emu = emulator(RecordsConfig::default()).await;
    let key = emu.config().api_key.clone();
    for auth in [
        None,
        Some("Bearer rs_wrong_key_0000000000".to_string()),
        Some(key.clone()),
        Some(format!("Basic {key}")),
    ] {
        let answer = get_with(&emu, auth.as_deref(), &[]).await;
        assert_eq!(answer.status, 401, "{auth:?}");
        let body = answer.json();
        assert_eq!(body["error"]["type"], "authentication_error");
        assert!(body["error"]["message"].is_string());
    }
    assert_eq!(get(&emu, &[]).await.status, 200);
    let other = http()
        .get(format!("{}/v1/other", emu.base_url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
}

#[tokio::test]
async fn faults_apply_to_the_list_route() {
    let emu = emulator(RecordsConfig::default()).await;
    emu.fail_next(1);
    assert_eq!(get(&emu, &[]).await.status, 500);
    emu.rate_limit_next(1);
    let limited = get(&emu, &[]).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), "1");
    emu.truncate_next(1);
    let cut = get(&emu, &[]).await;
    assert_eq!(cut.status, 200);
    assert!(serde_json::from_str::<Value>(&cut.text).is_err());
    emu.set_latency(Duration::from_millis(150));
    let started = Instant::now();
    assert_eq!(get(&emu, &[]).await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
    emu.clear_faults();
    assert_eq!(get(&emu, &[]).await.status, 200);
    assert_eq!(emu.requests(), 5);
}

#[tokio::test]
async fn records_are_about_the_configured_size() {
    for record_bytes in [300, 1024, 4096] {
        let emu = emulator(RecordsConfig {
            count: 20,
            record_bytes,
            ..Default::default()
        })
        .await;
        let page = get(&emu, &[]).await.json();
        for item in page["data"].as_array().unwrap() {
            let len = serde_json::to_string(item).unwrap().len();
            assert!(len.abs_diff(record_bytes) <= 8, "{len} vs {record_bytes}");
            assert!(item["title"].is_string() && item["body"].is_string());
            assert!(
                chrono::DateTime::parse_from_rfc3339(item["updated_at"].as_str().unwrap()).is_ok()
            );
        }
        let a = emu.record_json(4);
        emu.change(&[4]);
        let b = emu.record_json(4);
        assert_eq!(b["version"], 2);
        assert_ne!(a["body"], b["body"], "a new version reads differently");
        assert!(b["updated_at"].as_str() > a["updated_at"].as_str());
    }
}
