//! Which distortion rules cost the most (anchor tuning aid).
//! `cargo run --release -p kalei-analysis --example profile_rules [-- PATH]`
mod common;
use common::*;
fn main() {
    let path = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(default_data_path);
    let texts: Vec<String> = load_rows(&path).into_iter().map(|r| r.text).collect();
    let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
    kalei_analysis::warm();
    let _ = kalei_analysis::profile_distortion_rules(&refs);
    let mut p = kalei_analysis::profile_distortion_rules(&refs);
    let total: f64 = p.iter().map(|x| x.3).sum();
    p.sort_by(|a, b| b.3.total_cmp(&a.3));
    let runs: u64 = p.iter().map(|x| x.2 as u64).sum();
    println!("total regex time {:.1} ms, {runs} rule runs", total * 1e3);
    for (i, (t, anc, runs, s)) in p.iter().take(25).enumerate() {
        println!(
            "{i:>2} {:<22} runs {runs:>6} {:>7.2} ms  [{}]",
            t.as_str(),
            s * 1e3,
            anc.chars().take(70).collect::<String>()
        );
    }
}
