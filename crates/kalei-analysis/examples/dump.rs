//! Dumps the full analysis of every dev-set text and every crisis-set text as
//! JSON lines (one per text), to check that a speed change leaves every
//! output unchanged: run before and after, then `cmp` the two files.
//!
//! ```text
//! cargo run --release -p kalei-analysis --example dump -- OUT.jsonl [--crisis-only]
//! ```

mod common;

use common::*;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .expect("output path");
    let crisis_only = args.iter().any(|a| a == "--crisis-only");
    let mut texts: Vec<String> = load_rows(&default_data_path())
        .into_iter()
        .map(|r| r.text)
        .collect();
    let set = concat!(env!("CARGO_MANIFEST_DIR"), "/eval/crisis.jsonl");
    for line in std::fs::read_to_string(set).expect("crisis set").lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("jsonl");
        texts.push(v["text"].as_str().expect("text").to_string());
    }
    // sentence-level slices too, so short texts are covered
    let extra: Vec<String> = texts
        .iter()
        .take(1467)
        .flat_map(|t| t.split(['.', '\n']).map(str::to_string).collect::<Vec<_>>())
        .filter(|s| s.trim().len() > 3)
        .collect();
    texts.extend(extra);
    let mut s = String::new();
    for t in &texts {
        let line = if crisis_only {
            serde_json::to_string(&kalei_analysis::detect_crisis(t)).unwrap()
        } else {
            serde_json::to_string(&kalei_analysis::analyze(t)).unwrap()
        };
        s.push_str(&line);
        s.push('\n');
    }
    std::fs::write(out, s).expect("write");
    eprintln!("{} texts", texts.len());
}
