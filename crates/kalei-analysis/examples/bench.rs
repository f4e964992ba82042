//! Throughput and latency of the full analysis (single thread = one core).
//!
//! ```text
//! cargo run --release -p kalei-analysis --example bench [-- PATH] [--seconds N | --passes N] [--polarity-out FILE]
//! ```
//! PATH defaults to `../shared/data/distortions-dev.csv` relative to the
//! repository root. `--polarity-out` writes one polarity per text (same order
//! as the CSV) for `bench/analysis/vader_compare.sh`.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::*;

/// CPU time of this thread in seconds (Linux `schedstat`; None elsewhere).
/// Throughput per CPU-second is what survives a loaded machine: wall-clock
/// MB/s drops whenever other processes take the core.
fn cpu_s() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

fn per_cpu(bytes: f64, c0: Option<f64>) -> String {
    match (c0, cpu_s()) {
        (Some(a), Some(b)) if b > a => format!(", {:.1} MB per CPU-second", bytes / (b - a) / 1e6),
        _ => String::new(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let path = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .map(std::path::PathBuf::from)
        .unwrap_or_else(default_data_path);
    let seconds: f64 = flag("--seconds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    // fixed pass count instead of a time budget (for `perf stat` comparisons)
    let fixed: Option<u32> = flag("--passes").and_then(|s| s.parse().ok());
    let texts: Vec<String> = load_rows(&path).into_iter().map(|r| r.text).collect();
    let bytes: usize = texts.iter().map(|t| t.len()).sum();

    let t0 = Instant::now();
    kalei_analysis::warm();
    println!(
        "warm-up (compile lexicon and patterns): {:.1} ms",
        t0.elapsed().as_secs_f64() * 1e3
    );

    if let Some(out) = flag("--polarity-out") {
        let mut s = String::with_capacity(texts.len() * 8);
        for t in &texts {
            s.push_str(&format!(
                "{}\n",
                kalei_analysis::analyze(t).sentiment.polarity
            ));
        }
        std::fs::write(&out, s).expect("write polarity file");
    }

    // ------------------------------------------------ throughput, full analysis
    let budget = Duration::from_secs_f64(seconds);
    let c0 = cpu_s();
    let start = Instant::now();
    let mut passes = 0u32;
    let mut frags = 0usize;
    while fixed.map_or(start.elapsed() < budget, |n| passes < n) || passes == 0 {
        for t in &texts {
            let a = kalei_analysis::analyze(black_box(t));
            frags += a.fragments.len();
        }
        passes += 1;
    }
    let el = start.elapsed().as_secs_f64();
    let mbs = bytes as f64 * passes as f64 / el / 1e6;
    let tps = texts.len() as f64 * passes as f64 / el;
    println!(
        "full analysis: {} texts, {:.2} MB per pass, {passes} passes in {el:.2} s → {mbs:.1} MB/s per core, {tps:.0} texts/s (fragments seen {frags}){}",
        texts.len(),
        bytes as f64 / 1e6,
        per_cpu(bytes as f64 * passes as f64, c0)
    );

    // ------------------------------------------------ crisis fast path alone
    let c0 = cpu_s();
    let start = Instant::now();
    let mut passes = 0u32;
    while fixed.map_or(start.elapsed() < budget / 2, |n| passes < n) || passes == 0 {
        for t in &texts {
            black_box(kalei_analysis::detect_crisis(black_box(t)));
        }
        passes += 1;
    }
    let el = start.elapsed().as_secs_f64();
    println!(
        "detect_crisis only: {:.1} MB/s per core{}",
        bytes as f64 * passes as f64 / el / 1e6,
        per_cpu(bytes as f64 * passes as f64, c0)
    );

    let c0 = cpu_s();
    let start = Instant::now();
    let mut passes = 0u32;
    while fixed.map_or(start.elapsed() < budget / 2, |n| passes < n) || passes == 0 {
        for t in &texts {
            black_box(kalei_analysis::detect_fragments(black_box(t)));
        }
        passes += 1;
    }
    let el = start.elapsed().as_secs_f64();
    println!(
        "detect_fragments only: {:.1} MB/s per core{}",
        bytes as f64 * passes as f64 / el / 1e6,
        per_cpu(bytes as f64 * passes as f64, c0)
    );

    // ------------------------------------------------ latency of 2,000-char entries
    let mut entries: Vec<String> = Vec::new();
    let mut cur = String::new();
    for t in texts.iter().cycle().take(texts.len() * 2) {
        for ch in t.chars().chain(std::iter::once(' ')) {
            cur.push(ch);
            if cur.chars().count() >= 2000 {
                entries.push(std::mem::take(&mut cur));
            }
        }
        if entries.len() >= 400 {
            break;
        }
    }
    let mut lat: Vec<f64> = Vec::with_capacity(entries.len() * 10);
    for _ in 0..10 {
        for e in &entries {
            let t = Instant::now();
            black_box(kalei_analysis::analyze(black_box(e)));
            lat.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "2,000-char entry latency over {} runs ({} distinct entries): p50 {:.0} µs, p90 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
        lat.len(),
        entries.len(),
        pct(0.5),
        pct(0.9),
        pct(0.99),
        lat[lat.len() - 1]
    );
}
