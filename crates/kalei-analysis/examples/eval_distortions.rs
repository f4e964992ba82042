//! Evaluates the fragment detector on the therapist Q&A distortion data set.
//!
//! ```text
//! cargo run --release -p kalei-analysis --example eval_distortions [-- PATH] [--sweep] [--errors N]
//! ```
//! PATH defaults to `../shared/data/distortions-dev.csv` relative to the
//! repository root. The data is read in place, never copied.

mod common;

use common::*;
use kalei_analysis::{detect_fragments, detect_fragments_min, Fragment};

struct Conf {
    tp: f64,
    fp: f64,
    tn: f64,
    fn_: f64,
}

impl Conf {
    fn print(&self, label: &str) {
        let Conf { tp, fp, tn, fn_ } = *self;
        let p = tp / (tp + fp).max(1.0);
        let r = tp / (tp + fn_).max(1.0);
        let f1 = 2.0 * p * r / (p + r).max(1e-9);
        let spec = tn / (tn + fp).max(1.0);
        let den = ((tp + fp) * (tp + fn_) * (tn + fp) * (tn + fn_)).sqrt();
        let mcc = if den > 0.0 {
            (tp * tn - fp * fn_) / den
        } else {
            0.0
        };
        let acc = (tp + tn) / (tp + tn + fp + fn_);
        println!(
            "{label:<14} precision {p:.3}  recall {r:.3}  F1 {f1:.3}  specificity {spec:.3}  MCC {mcc:.3}  accuracy {acc:.3}  (tp {tp} fp {fp} tn {tn} fn {fn_})"
        );
    }
}

fn top_type(fr: &[Fragment]) -> Option<&'static str> {
    fr.iter()
        .max_by(|a, b| a.confidence.total_cmp(&b.confidence))
        .map(|f| f.r#type.as_str())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .iter()
        .find(|a| !a.starts_with("--") && a.parse::<usize>().is_err())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(default_data_path);
    let sweep = args.iter().any(|a| a == "--sweep");
    let errors: usize = args
        .iter()
        .position(|a| a == "--errors")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let rows = load_rows(&path);
    println!("data: {} ({} rows)", path.display(), rows.len());

    // ---------------------------------------------------------- binary
    let mut c = Conf {
        tp: 0.0,
        fp: 0.0,
        tn: 0.0,
        fn_: 0.0,
    };
    let mut preds: Vec<Vec<Fragment>> = Vec::with_capacity(rows.len());
    let mut shown_fp = 0;
    let mut shown_fn = 0;
    for r in &rows {
        let fr = detect_fragments(&r.text);
        let gold = !map_label(&r.dominant).is_empty();
        let pred = !fr.is_empty();
        match (gold, pred) {
            (true, true) => c.tp += 1.0,
            (false, true) => {
                c.fp += 1.0;
                if shown_fp < errors {
                    shown_fp += 1;
                    for f in &fr {
                        println!("FP [{} {:.2}] {}", f.r#type, f.confidence, f.text);
                    }
                }
            }
            (false, false) => c.tn += 1.0,
            (true, false) => {
                c.fn_ += 1.0;
                if shown_fn < errors {
                    shown_fn += 1;
                    println!("FN [{}] {}", map_label(&r.dominant), r.part);
                }
            }
        }
        preds.push(fr);
    }
    println!("\n== distorted vs not (a text is flagged when at least one fragment is reported)");
    c.print("engine");
    // overfitting check: the rules and document weights were tuned looking at
    // aggregate metrics of the whole set; both halves should agree
    for (name, parity) in [("even rows", 0usize), ("odd rows", 1)] {
        let mut h = Conf {
            tp: 0.0,
            fp: 0.0,
            tn: 0.0,
            fn_: 0.0,
        };
        for (i, (r, fr)) in rows.iter().zip(&preds).enumerate() {
            if i % 2 != parity {
                continue;
            }
            match (!map_label(&r.dominant).is_empty(), !fr.is_empty()) {
                (true, true) => h.tp += 1.0,
                (false, true) => h.fp += 1.0,
                (false, false) => h.tn += 1.0,
                (true, false) => h.fn_ += 1.0,
            }
        }
        h.print(name);
    }
    let n_pos = rows
        .iter()
        .filter(|r| !map_label(&r.dominant).is_empty())
        .count() as f64;
    let n_neg = rows.len() as f64 - n_pos;
    Conf {
        tp: n_pos,
        fp: n_neg,
        tn: 0.0,
        fn_: 0.0,
    }
    .print("flag-all");

    if sweep {
        println!("\n== threshold sweep (max fragment confidence)");
        let scores: Vec<f32> = rows
            .iter()
            .map(|r| {
                detect_fragments_min(&r.text, 0.2)
                    .iter()
                    .map(|f| f.confidence)
                    .fold(0.0, f32::max)
            })
            .collect();
        for th in [
            0.3f32, 0.4, 0.45, 0.5, 0.52, 0.54, 0.56, 0.58, 0.6, 0.62, 0.65, 0.7,
        ] {
            let mut c = Conf {
                tp: 0.0,
                fp: 0.0,
                tn: 0.0,
                fn_: 0.0,
            };
            for (r, s) in rows.iter().zip(&scores) {
                let gold = !map_label(&r.dominant).is_empty();
                match (gold, *s >= th) {
                    (true, true) => c.tp += 1.0,
                    (false, true) => c.fp += 1.0,
                    (false, false) => c.tn += 1.0,
                    (true, false) => c.fn_ += 1.0,
                }
            }
            c.print(&format!("th {th:.2}"));
        }
    }

    // ---------------------------------------------------------- 10-way type
    let mut confusion = [[0u32; 11]; 10]; // gold × pred (10 = none/other)
    let mut correct_flagged = 0u32;
    let mut flagged = 0u32;
    let mut secondary_hits = 0u32;
    for (r, fr) in rows.iter().zip(&preds) {
        let g = map_label(&r.dominant);
        let Some(gi) = TEN.iter().position(|t| *t == g) else {
            continue;
        };
        let p = top_type(fr);
        let pi = p
            .and_then(|p| TEN.iter().position(|t| *t == p))
            .unwrap_or(10);
        confusion[gi][pi] += 1;
        if p.is_some() {
            flagged += 1;
            if pi == gi {
                correct_flagged += 1;
            }
            let s = map_label(&r.secondary);
            if pi == gi || (!s.is_empty() && Some(s) == p) {
                secondary_hits += 1;
            }
        }
    }
    let total_gold: u32 = confusion.iter().map(|r| r.iter().sum::<u32>()).sum();
    let correct_all: u32 = (0..10).map(|i| confusion[i][i]).sum();
    let mut f1s = Vec::new();
    println!("\n== dominant type (10-way, top fragment by confidence)");
    for (i, t) in TEN.iter().enumerate() {
        let tp = confusion[i][i] as f64;
        let gold: f64 = confusion[i].iter().sum::<u32>() as f64;
        let pred: f64 = (0..10).map(|g| confusion[g][i] as f64).sum();
        let p = if pred > 0.0 { tp / pred } else { 0.0 };
        let rc = if gold > 0.0 { tp / gold } else { 0.0 };
        let f1 = if p + rc > 0.0 {
            2.0 * p * rc / (p + rc)
        } else {
            0.0
        };
        f1s.push(f1);
        println!("  {t:<22} gold {gold:>4}  predicted {pred:>4}  P {p:.2}  R {rc:.2}  F1 {f1:.2}");
    }
    println!(
        "accuracy on flagged distorted rows: {:.3} ({correct_flagged}/{flagged}); counting dominant-or-secondary: {:.3}",
        correct_flagged as f64 / flagged.max(1) as f64,
        secondary_hits as f64 / flagged.max(1) as f64
    );
    println!(
        "accuracy on all distorted rows (unflagged = wrong): {:.3} ({correct_all}/{total_gold})",
        correct_all as f64 / total_gold.max(1) as f64
    );
    println!(
        "macro-F1 over the 10 types: {:.3}",
        f1s.iter().sum::<f64>() / 10.0
    );

    // ---------------------------------------------------------- spans
    let mut n = 0u32;
    let mut hit = 0u32;
    let mut iou_sum = 0f64;
    let mut cov_sum = 0f64;
    let mut prec_sum = 0f64;
    for (r, fr) in rows.iter().zip(&preds) {
        if map_label(&r.dominant).is_empty() || fr.is_empty() {
            continue;
        }
        let part = r.part.trim();
        if part.is_empty() {
            continue;
        }
        let Some(bpos) = r.text.find(part) else {
            continue;
        };
        let gs = r.text[..bpos].chars().count();
        let ge = gs + part.chars().count();
        n += 1;
        let mut pred_chars = 0usize;
        let mut inter = 0usize;
        for f in fr {
            pred_chars += f.end - f.start;
            let a = f.start.max(gs);
            let b = f.end.min(ge);
            if b > a {
                inter += b - a;
            }
        }
        if inter > 0 {
            hit += 1;
        }
        let union = pred_chars + (ge - gs) - inter;
        iou_sum += inter as f64 / union.max(1) as f64;
        cov_sum += inter as f64 / (ge - gs).max(1) as f64;
        prec_sum += inter as f64 / pred_chars.max(1) as f64;
    }
    println!("\n== span overlap with the annotated distorted part (flagged distorted rows whose part is found verbatim: {n})");
    println!(
        "any fragment overlaps the part: {:.3}   mean char IoU: {:.3}   mean part coverage: {:.3}   mean fragment precision: {:.3}",
        hit as f64 / n.max(1) as f64,
        iou_sum / n.max(1) as f64,
        cov_sum / n.max(1) as f64,
        prec_sum / n.max(1) as f64
    );
}
