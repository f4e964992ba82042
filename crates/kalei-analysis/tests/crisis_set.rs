//! Behavioural regression guard: the labelled crisis set must keep its recall
//! and false-positive floors (see `examples/eval_crisis.rs` for the report).

use std::collections::BTreeMap;

const SET: &str = include_str!("../eval/crisis.jsonl");

#[test]
fn crisis_set_recall_and_false_positive_floors() {
    let mut cat: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let (mut pos, mut hit, mut neg, mut fp) = (0u32, 0u32, 0u32, 0u32);
    let mut misses = Vec::new();
    for line in SET.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = v["text"].as_str().unwrap();
        let c = kalei_analysis::detect_crisis(text);
        if v["crisis"].as_bool().unwrap() {
            pos += 1;
            let e = cat
                .entry(v["category"].as_str().unwrap().to_string())
                .or_default();
            e.0 += 1;
            if c.level.bypasses() {
                hit += 1;
                e.1 += 1;
            } else {
                misses.push(text.chars().take(80).collect::<String>());
            }
        } else {
            neg += 1;
            if c.level.bypasses() {
                fp += 1;
                misses.push(format!(
                    "FALSE ALARM: {}",
                    text.chars().take(80).collect::<String>()
                ));
            }
        }
    }
    assert!(
        pos >= 150 && neg >= 150,
        "set too small: {pos} crisis, {neg} non-crisis"
    );
    let recall = hit as f64 / pos as f64;
    let fpr = fp as f64 / neg as f64;
    assert!(
        recall >= 0.97,
        "overall recall {recall:.3}; misses: {misses:#?}"
    );
    assert!(fpr <= 0.02, "false-positive rate {fpr:.3}; {misses:#?}");
    for (c, (t, h)) in cat {
        let r = h as f64 / t as f64;
        assert!(r >= 0.9, "recall for {c} is {r:.3}; {misses:#?}");
    }
}
