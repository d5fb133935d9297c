//! Calendar invitations against a corpus of payloads as mail carries them, with the invites
//! each should yield (tests/fixtures/invites.json): invite precision and recall, and how
//! often each asserted field is right.

use std::collections::BTreeMap;

use patchbay_connectors::mail::invites::parse;
use serde_json::Value;

#[derive(Default)]
struct Score {
    cases: usize,
    expected: usize,
    found: usize,
    matched: usize,
    /// field → (right, compared)
    fields: BTreeMap<String, (usize, usize)>,
    mismatches: Vec<String>,
}

/// An invite is identified by its UID and, for one occurrence of a series, its RECURRENCE-ID.
fn key(v: &Value) -> (String, Option<String>) {
    (
        v["uid"].as_str().unwrap_or_default().to_string(),
        v["recurrence_id"].as_str().map(str::to_string),
    )
}

/// `got` has what `want` asserts: objects by the keys `want` names, lists of objects as
/// multisets of those keys, everything else by equality.
fn agrees(want: &Value, got: &Value) -> bool {
    match (want, got) {
        (Value::Object(w), Value::Object(_)) => w.iter().all(|(k, v)| agrees(v, &got[k])),
        (Value::Array(w), Value::Array(g)) if w.iter().any(Value::is_object) => {
            if w.len() != g.len() {
                return false;
            }
            let mut used = vec![false; g.len()];
            w.iter().all(|wv| {
                let hit = g
                    .iter()
                    .enumerate()
                    .position(|(i, gv)| !used[i] && agrees(wv, gv));
                hit.map(|i| used[i] = true).is_some()
            })
        }
        _ => want == got,
    }
}

fn score(text: &str) -> Score {
    let corpus: Vec<Value> = serde_json::from_str(text).expect("corpus is JSON");
    let mut s = Score {
        cases: corpus.len(),
        ..Score::default()
    };
    for case in &corpus {
        let name = case["name"].as_str().unwrap();
        let found = parse(case["ics"].as_str().unwrap());
        let expected = case["expected"].as_array().unwrap();
        s.expected += expected.len();
        s.found += found.len();
        let mut used = vec![false; found.len()];
        for want in expected {
            let k = key(want);
            let Some(i) = (0..found.len()).find(|&i| !used[i] && key(&found[i]) == k) else {
                s.mismatches
                    .push(format!("{name}: missed invite {} {:?}", k.0, k.1));
                continue;
            };
            used[i] = true;
            s.matched += 1;
            let got = &found[i];
            for (field, w) in want.as_object().unwrap() {
                if field == "uid" || field == "recurrence_id" {
                    continue;
                }
                let tally = s.fields.entry(field.clone()).or_default();
                tally.1 += 1;
                if agrees(w, &got[field]) {
                    tally.0 += 1;
                } else {
                    s.mismatches
                        .push(format!("{name}: {field} expected {w} got {}", got[field]));
                }
            }
        }
        for (i, got) in found.iter().enumerate() {
            if !used[i] {
                s.mismatches.push(format!(
                    "{name}: extra invite {} {}",
                    got["uid"], got["recurrence_id"]
                ));
            }
        }
    }
    s
}

fn report(s: &Score) -> (f64, f64, f64) {
    let precision = s.matched as f64 / s.found.max(1) as f64;
    let recall = s.matched as f64 / s.expected.max(1) as f64;
    let (right, compared) = s
        .fields
        .values()
        .fold((0, 0), |(r, c), (fr, fc)| (r + fr, c + fc));
    let accuracy = right as f64 / compared.max(1) as f64;
    println!(
        "invite corpus ({} payloads): {} expected, {} found, {} matched; precision {precision:.3}, recall {recall:.3}",
        s.cases, s.expected, s.found, s.matched
    );
    for (field, (r, c)) in &s.fields {
        println!(
            "  {field:<13} {r}/{c} = {:.3}",
            *r as f64 / (*c).max(1) as f64
        );
    }
    println!("  field accuracy overall {right}/{compared} = {accuracy:.3}");
    (precision, recall, accuracy)
}

#[test]
fn invites_meet_precision_recall_and_field_accuracy_on_the_corpus() {
    let s = score(include_str!("../fixtures/invites.json"));
    assert!(s.cases >= 30 && s.expected >= 30, "corpus too small");
    let (precision, recall, accuracy) = report(&s);
    let pass = precision >= 0.95 && recall >= 0.95 && accuracy >= 0.95;
    if !pass || std::env::var_os("INVITES_VERBOSE").is_some() {
        for m in &s.mismatches {
            println!("  {m}");
        }
    }
    assert!(precision >= 0.95, "precision {precision:.3}");
    assert!(recall >= 0.95, "recall {recall:.3}");
    assert!(accuracy >= 0.95, "field accuracy {accuracy:.3}");
}

/// The payloads that carry no event (tasks, memos, free/busy, broken or prose text, an event
/// without a UID) yield nothing.
#[test]
fn invites_none_from_payloads_without_events() {
    let corpus: Vec<Value> =
        serde_json::from_str(include_str!("../fixtures/invites.json")).unwrap();
    let empty: Vec<&Value> = corpus
        .iter()
        .filter(|c| c["expected"].as_array().unwrap().is_empty())
        .collect();
    assert!(empty.len() >= 5);
    for c in empty {
        let found = parse(c["ics"].as_str().unwrap());
        assert!(found.is_empty(), "{}: {found:?}", c["name"]);
    }
}
