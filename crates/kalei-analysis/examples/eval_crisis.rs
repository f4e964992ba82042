//! Crisis detector evaluation on the project's labelled set
//! (`crates/kalei-analysis/eval/crisis.jsonl`, written for this project).
//!
//! ```text
//! cargo run --release -p kalei-analysis --example eval_crisis [-- PATH] [--verbose]
//! ```
//! A crisis text is detected when the level bypasses (high or imminent); a
//! non-crisis text is a false positive when it bypasses.

use std::collections::BTreeMap;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let verbose = args.iter().any(|a| a == "--verbose");
    let path = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| format!("{}/eval/crisis.jsonl", env!("CARGO_MANIFEST_DIR")));
    let src = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    // group -> (total, ok, category hits)
    let mut pos: BTreeMap<String, (u32, u32, u32)> = BTreeMap::new();
    let mut neg: BTreeMap<String, (u32, u32, u32)> = BTreeMap::new();
    let mut by_cat: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let (mut p_tot, mut p_ok, mut n_tot, mut n_fp, mut n_concern) = (0, 0, 0, 0, 0);
    for line in src.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("valid JSONL");
        let text = v["text"].as_str().expect("text");
        let is_crisis = v["crisis"].as_bool().expect("crisis");
        let group = v["group"].as_str().unwrap_or("?").to_string();
        let c = kalei_analysis::detect_crisis(text);
        if is_crisis {
            let cat = v["category"].as_str().unwrap_or("");
            let e = pos.entry(group).or_default();
            e.0 += 1;
            p_tot += 1;
            let detected = c.level.bypasses();
            let cat_ok = c.categories.iter().any(|x| x.as_str() == cat);
            let ce = by_cat.entry(cat.to_string()).or_default();
            ce.0 += 1;
            if detected {
                e.1 += 1;
                p_ok += 1;
                ce.1 += 1;
                if cat_ok {
                    e.2 += 1;
                }
            } else if verbose {
                println!(
                    "MISS [{cat}] {:?} -> {:?}",
                    text.chars().take(160).collect::<String>(),
                    c
                );
            }
        } else {
            let e = neg.entry(group).or_default();
            e.0 += 1;
            n_tot += 1;
            if c.level.bypasses() {
                e.1 += 1;
                n_fp += 1;
                if verbose {
                    println!(
                        "FALSE ALARM {:?} -> {:?}",
                        text.chars().take(160).collect::<String>(),
                        c
                    );
                }
            } else if c.level == kalei_analysis::CrisisLevel::Concern {
                n_concern += 1;
                e.2 += 1;
            }
        }
    }
    println!("crisis set: {path}");
    println!("\n== recall on crisis texts (level high or imminent), by group");
    for (g, (t, ok, cat)) in &pos {
        println!(
            "  {g:<16} {ok:>3}/{t:<3} recall {:.3}   right category {:.3}",
            *ok as f64 / *t as f64,
            *cat as f64 / (*ok).max(1) as f64
        );
    }
    println!("== recall by category");
    for (g, (t, ok)) in &by_cat {
        println!(
            "  {g:<16} {ok:>3}/{t:<3} recall {:.3}",
            *ok as f64 / *t as f64
        );
    }
    println!(
        "overall recall: {:.3} ({p_ok}/{p_tot})",
        p_ok as f64 / p_tot as f64
    );
    println!("\n== hard non-crisis texts: false positives (bypass), by group");
    for (g, (t, fp, conc)) in &neg {
        println!(
            "  {g:<16} {fp:>3}/{t:<3} FPR {:.3}   (concern, no bypass: {conc})",
            *fp as f64 / *t as f64
        );
    }
    println!(
        "overall false-positive rate: {:.3} ({n_fp}/{n_tot}); flagged concern without bypass: {n_concern}",
        n_fp as f64 / n_tot as f64
    );
}
