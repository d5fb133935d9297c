//! Action items against a corpus of realistic messages with their expected items
//! (tests/fixtures/action_items.json): precision, recall and due-date accuracy.

use patchbay_connectors::gmail::compose_address;
use patchbay_connectors::mail::action_items::{extract, Mail};
use serde_json::Value;

struct Score {
    expected: usize,
    found: usize,
    matched: usize,
    due_right: usize,
    misses: Vec<String>,
    extra: Vec<String>,
}

fn score(text: &str) -> Score {
    let corpus: Vec<Value> = serde_json::from_str(text).expect("corpus is JSON");
    let mut s = Score {
        expected: 0,
        found: 0,
        matched: 0,
        due_right: 0,
        misses: Vec::new(),
        extra: Vec::new(),
    };
    for m in &corpus {
        let date = chrono::DateTime::parse_from_rfc3339(m["date"].as_str().unwrap()).unwrap();
        let from = compose_address(m["from"].as_str().unwrap()).expect("a sender address");
        let to: Vec<String> = m["to"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| compose_address(v.as_str().unwrap()).unwrap())
            .collect();
        let items = extract(&Mail {
            text: m["text"].as_str().unwrap(),
            from: &from,
            to: &to,
            date: date.date_naive(),
        });
        let expected = m["expected"].as_array().unwrap();
        s.expected += expected.len();
        s.found += items.len();
        let mut used = vec![false; items.len()];
        for e in expected {
            let needle = e["contains"].as_str().unwrap();
            let hit = items.iter().enumerate().position(|(i, it)| {
                !used[i] && it.kind == e["kind"].as_str().unwrap() && it.sentence.contains(needle)
            });
            match hit {
                Some(i) => {
                    used[i] = true;
                    s.matched += 1;
                    let due = items[i].due.map(|d| d.to_string());
                    if due.as_deref() == e["due"].as_str() {
                        s.due_right += 1;
                    } else {
                        s.misses.push(format!(
                            "{} due {:?} != {:?}: {needle}",
                            m["id"], due, e["due"]
                        ));
                    }
                    assert_eq!(items[i].by, e["by"].as_str().unwrap(), "{}", m["id"]);
                }
                None => s
                    .misses
                    .push(format!("{} missed {}: {needle}", m["id"], e["kind"])),
            }
        }
        for (i, it) in items.iter().enumerate() {
            if !used[i] {
                s.extra
                    .push(format!("{} extra {}: {}", m["id"], it.kind, it.sentence));
            }
        }
    }
    s
}

fn report(name: &str, s: &Score) -> (f64, f64, f64) {
    let precision = s.matched as f64 / s.found.max(1) as f64;
    let recall = s.matched as f64 / s.expected.max(1) as f64;
    let due = s.due_right as f64 / s.matched.max(1) as f64;
    println!(
        "{name}: {} expected, {} found, {} matched; precision {precision:.3}, recall {recall:.3}, due dates right {due:.3}",
        s.expected, s.found, s.matched
    );
    for m in s.misses.iter().chain(&s.extra) {
        println!("  {m}");
    }
    (precision, recall, due)
}

/// The held-out corpus was written apart from the rules and never tuned against: its figures
/// say how the rules do on mail they have not seen.
#[test]
fn action_items_on_the_held_out_corpus() {
    let s = score(include_str!("../fixtures/action_items_holdout.json"));
    let (precision, recall, due) = report("held-out corpus (30 messages)", &s);
    assert!(precision >= 0.75, "precision {precision:.3}");
    assert!(recall >= 0.6, "recall {recall:.3}");
    assert!(due >= 0.75, "due dates {due:.3}");
}

#[test]
fn action_items_meet_precision_and_recall_on_the_corpus() {
    let s = score(include_str!("../fixtures/action_items.json"));
    assert!(s.expected >= 50);
    let (precision, recall, due) = report("tuning corpus (60 messages)", &s);
    assert!(precision >= 0.85, "precision {precision:.3}");
    assert!(recall >= 0.80, "recall {recall:.3}");
    assert!(due >= 0.85, "due dates {due:.3}");
}
