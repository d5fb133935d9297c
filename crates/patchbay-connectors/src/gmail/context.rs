//! The mail context of synced messages as derived records: `people` (everyone in From, To, Cc
//! and Reply-To, tallied per connection), `invites` (by UID, the latest revision winning) and
//! `action_items` (per message, replaced when the message is synced again).

use patchbay_core::{DerivedRecord, Merge, Record};
use serde_json::{json, Value};

/// UTC RFC 3339, so dates of messages from any offset compare as text.
fn utc(date: &Value) -> Option<String> {
    let d = chrono::DateTime::parse_from_rfc3339(date.as_str()?).ok()?;
    Some(
        d.with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )
}

fn people(msg: &Record, at: &Option<String>, out: &mut Vec<DerivedRecord>) {
    let mut seen = std::collections::BTreeSet::new();
    for field in ["from", "to", "cc", "reply_to"] {
        for a in msg.data[field].as_array().into_iter().flatten() {
            let Some(address) = a["address"].as_str() else {
                continue;
            };
            if !seen.insert(address.to_string()) {
                continue;
            }
            out.push(DerivedRecord {
                entity: "people".into(),
                id: address.into(),
                source_id: msg.id.clone(),
                merge: Merge::Tally,
                data: json!({
                    "address": address,
                    "name": a["name"],
                    "last_subject": msg.data["subject"],
                    "last_message_id": msg.id,
                    "at": at,
                }),
            });
        }
    }
}

fn invites(msg: &Record, at: &Option<String>, out: &mut Vec<DerivedRecord>) {
    for inv in msg.data["invites"].as_array().into_iter().flatten() {
        let Some(uid) = inv["uid"].as_str() else {
            continue;
        };
        // A recurring event's single occurrences share its UID; each is its own invite.
        let id = match inv["recurrence_id"].as_str() {
            Some(r) => format!("{uid}/{r}"),
            None => uid.to_string(),
        };
        let cancelled = u8::from(inv["status"] == "cancelled");
        let sequence = inv["sequence"].as_i64().unwrap_or(0).max(0);
        let mut data = inv.clone();
        data["message_id"] = json!(msg.id);
        data["thread_id"] = msg.data["thread_id"].clone();
        data["received_at"] = json!(at);
        // Higher sequence wins, then a cancellation, then the later message.
        data["rank"] = json!(format!(
            "{sequence:010}|{cancelled}|{}",
            at.as_deref().unwrap_or("")
        ));
        out.push(DerivedRecord {
            entity: "invites".into(),
            id,
            source_id: msg.id.clone(),
            merge: Merge::Newest,
            data,
        });
    }
}

fn action_items(msg: &Record, out: &mut Vec<DerivedRecord>) {
    for (n, item) in msg.data["action_items"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let mut data = item.clone();
        data["message_id"] = json!(msg.id);
        data["thread_id"] = msg.data["thread_id"].clone();
        data["subject"] = msg.data["subject"].clone();
        data["status"] = json!("open");
        out.push(DerivedRecord {
            entity: "action_items".into(),
            id: format!("{}:{n}", msg.id),
            source_id: msg.id.clone(),
            merge: Merge::Replace,
            data,
        });
    }
}

/// The derived records of a page of messages.
pub fn derive(records: &[Record]) -> Vec<DerivedRecord> {
    let mut out = Vec::new();
    for msg in records {
        let at = utc(&msg.data["date"]).or_else(|| utc(&msg.data["internal_date"]));
        people(msg, &at, &mut out);
        invites(msg, &at, &mut out);
        action_items(msg, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_gives_people_invites_and_items() {
        let msg = Record {
            entity: "messages".into(),
            id: "m1".into(),
            data: json!({
                "thread_id": "t1", "subject": "Q3", "date": "2026-12-02T10:00:00+01:00",
                "from": [{"name": "Zoë", "address": "zoe@example.com"}],
                "to": [{"name": null, "address": "ada@example.com"}, {"name": "Zoë", "address": "zoe@example.com"}],
                "cc": [], "reply_to": [],
                "invites": [{"uid": "u1", "status": "cancelled", "sequence": 2}],
                "action_items": [{"kind": "request", "sentence": "Send it."}],
            }),
        };
        let d = derive(&[msg]);
        let people: Vec<&str> = d
            .iter()
            .filter(|r| r.entity == "people")
            .map(|r| r.id.as_str())
            .collect();
        assert_eq!(people, ["zoe@example.com", "ada@example.com"]);
        let inv = d.iter().find(|r| r.entity == "invites").unwrap();
        assert_eq!(inv.data["rank"], "0000000002|1|2026-12-02T09:00:00Z");
        let item = d.iter().find(|r| r.entity == "action_items").unwrap();
        assert_eq!(
            (item.id.as_str(), item.data["status"].as_str()),
            ("m1:0", Some("open"))
        );
    }
}
